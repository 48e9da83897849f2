/*
 * ed25519.c - Ed25519 signature verification, written from RFC 8032
 * sections 5.1.1 to 5.1.7 (the curve, encoding, decoding, point
 * arithmetic and the verification equation).
 *
 * Field elements of GF(p), p = 2^255 - 19, are five 51-bit limbs (radix
 * 2^51, least significant first) multiplied with 64x64->128-bit products:
 * 25 products per multiplication and carries that fit in 64 bits with
 * room to spare, the fastest form portable C has on 64-bit machines.
 * Every operation below ends with its limbs under 2^52, the bound that
 * fe_mul() (no 128-bit overflow) and fe_sub() (no 64-bit underflow)
 * rely on.
 *
 * Points are in extended twisted Edwards coordinates (X:Y:Z:T) with
 * x = X/Z, y = Y/Z, xy = T/Z and the addition and doubling formulas of
 * RFC 8032 section 5.1.4; the formulas' last step is kept apart (struct
 * ge_done) so that a doubling followed by another doubling skips T.
 *
 * [S]B - [k]A is one joint double-and-add (Straus/Shamir) over S and k
 * cut into four 64-bit parts each: S = sum S_i 2^(64 i), so [S]B is
 * sum [S_i](2^(64 i) B), and the same for k and -A.  Eight scalars of 64
 * bits share 64 doublings instead of 253.  The multiples of B are
 * constants (ed25519_tables.h: 1, 3, ..., 63 times each 2^(64 i) B in
 * affine form, width-7 non-adjacent forms); those of -A (1, 3, ..., 15
 * times each 2^(64 i) (-A), width 5) cost 192 doublings and the
 * decoding of A, done once per public key and kept for the next
 * signature of the same signer: about 65 doublings and 75 additions
 * per signature after the first.
 *
 * Everything is variable-time: only public data passes through here
 * (see ed25519.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "kb.h"
#include "ed25519.h"
#include "sha512.h"

#define MASK51		((UINT64_C(1) << 51) - 1)
#define PARTS		4		/* scalars cut into 64-bit parts */
#define PART_BITS	64
#define PART_DIGITS	(PART_BITS + 1)	/* a w-NAF is at most one longer */
#define A_W		5		/* width of the forms of k's parts */
#define A_ODD		(1 << (A_W - 2))	/* 1P, 3P, ..., 15P */
#define B_W		7		/* width of the forms of S's parts */
#define B_ODD		(1 << (B_W - 2))	/* 1P, 3P, ..., 63P */

typedef unsigned __int128 u128;

/* An element of GF(2^255 - 19): sum of v[i] * 2^(51 i). */
struct fe {
	uint64_t v[5];
};

/* (X:Y:Z:T) as above; with T stale where only doublings follow. */
struct ge_p3 {
	struct fe X, Y, Z, T;
};

/* A sum or double before its last step: X = E F, Y = G H, T = E H, Z = F G. */
struct ge_done {
	struct fe E, F, G, H;
};

/* A point ready to be added: Y + X, Y - X, 2 Z, 2 d T. */
struct ge_cached {
	struct fe YpX, YmX, Z2, T2d;
};

/* The same with Z = 1: y + x, y - x, 2 d x y. */
struct ge_affine {
	struct fe YpX, YmX, T2d;
};

/*
 * A public key ready for verification: whether it decodes, and if so
 * odd[i][j] = (2 j + 1) 2^(64 i) (-A).
 */
struct prepared_key {
	unsigned char pub[ED25519_PUBLIC_LEN];
	int valid;
	struct ge_cached odd[PARTS][A_ODD];
};

/* d = -121665/121666, 2d, sqrt(-1) = 2^((p-1)/4) (RFC 8032 5.1) */
static const struct fe fe_d = { {
	0x34dca135978a3ULL, 0x1a8283b156ebdULL, 0x5e7a26001c029ULL,
	0x739c663a03cbbULL, 0x52036cee2b6ffULL } };
static const struct fe fe_d2 = { {
	0x69b9426b2f159ULL, 0x35050762add7aULL, 0x3cf44c0038052ULL,
	0x6738cc7407977ULL, 0x2406d9dc56dffULL } };
static const struct fe fe_sqrtm1 = { {
	0x61b274a0ea0b0ULL, 0x0d5a5fc8f189dULL, 0x7ef5e9cbd0c60ULL,
	0x78595a6804c9eULL, 0x2b8324804fc1dULL } };

/* The base point B: y = 4/5, x even (RFC 8032 5.1). */
static const struct fe base_x = { {
	0x62d608f25d51aULL, 0x412a4b4f6592aULL, 0x75b7171a4b31dULL,
	0x1ff60527118feULL, 0x216936d3cd6e5ULL } };
static const struct fe base_y = { {
	0x6666666666658ULL, 0x4ccccccccccccULL, 0x1999999999999ULL,
	0x3333333333333ULL, 0x6666666666666ULL } };

#include "ed25519_tables.h"

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian */
static const unsigned char order_le[32] = {
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
	0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
};
/* L and floor(2^512 / L) in 64-bit words, least significant first */
static const uint64_t order64[4] = {
	0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL,
};
static const uint64_t barrett_mu[5] = {
	0xed9ce5a30a2c131bULL, 0x2106215d086329a7ULL, 0xffffffffffffffebULL,
	0xffffffffffffffffULL, 0x000000000000000fULL,
};

/* ---- GF(p) ------------------------------------------------------------ */

static void
fe_zero(struct fe *h)
{
	memset(h, 0, sizeof(*h));
}

static void
fe_one(struct fe *h)
{
	fe_zero(h);
	h->v[0] = 1;
}

/* Limbs back under 2^51 (limb 0 under 2^51 + 2^10). */
static inline void
fe_carry(struct fe *h)
{
	uint64_t c;
	int i;

	for (i = 0; i < 4; i++) {
		c = h->v[i] >> 51;
		h->v[i] &= MASK51;
		h->v[i + 1] += c;
	}
	c = h->v[4] >> 51;
	h->v[4] &= MASK51;
	h->v[0] += 19 * c;		/* 2^255 = 19 */
}

static void
fe_add(struct fe *h, const struct fe *f, const struct fe *g)
{
	int i;

	for (i = 0; i < 5; i++)
		h->v[i] = f->v[i] + g->v[i];
	fe_carry(h);
}

/* h = f - g, computed as f + 4p - g so that no limb goes negative. */
static void
fe_sub(struct fe *h, const struct fe *f, const struct fe *g)
{
	h->v[0] = f->v[0] + 4 * (MASK51 - 18) - g->v[0];
	h->v[1] = f->v[1] + 4 * MASK51 - g->v[1];
	h->v[2] = f->v[2] + 4 * MASK51 - g->v[2];
	h->v[3] = f->v[3] + 4 * MASK51 - g->v[3];
	h->v[4] = f->v[4] + 4 * MASK51 - g->v[4];
	fe_carry(h);
}

static void
fe_neg(struct fe *h, const struct fe *f)
{
	struct fe zero;

	fe_zero(&zero);
	fe_sub(h, &zero, f);
}

/* The five column sums of a product, reduced to limbs under 2^52. */
static inline void
fe_reduce128(struct fe *h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4)
{
	uint64_t c;

	r1 += (uint64_t)(r0 >> 51);
	r2 += (uint64_t)(r1 >> 51);
	r3 += (uint64_t)(r2 >> 51);
	r4 += (uint64_t)(r3 >> 51);
	h->v[0] = (uint64_t)r0 & MASK51;
	h->v[1] = (uint64_t)r1 & MASK51;
	h->v[2] = (uint64_t)r2 & MASK51;
	h->v[3] = (uint64_t)r3 & MASK51;
	h->v[4] = (uint64_t)r4 & MASK51;
	c = (uint64_t)(r4 >> 51);
	h->v[0] += 19 * c;
	h->v[1] += h->v[0] >> 51;
	h->v[0] &= MASK51;
}

/*
 * h = f g.  Limb i of f times limb j of g lands in column i + j; columns
 * 5..8 wrap to 0..3 times 19 (2^255 = 19 mod p).
 */
static void
fe_mul(struct fe *h, const struct fe *f, const struct fe *g)
{
	const uint64_t *a = f->v, *b = g->v;
	uint64_t b1 = 19 * b[1], b2 = 19 * b[2], b3 = 19 * b[3];
	uint64_t b4 = 19 * b[4];
	u128 r0, r1, r2, r3, r4;

	r0 = (u128)a[0] * b[0] + (u128)a[1] * b4 + (u128)a[2] * b3 +
	    (u128)a[3] * b2 + (u128)a[4] * b1;
	r1 = (u128)a[0] * b[1] + (u128)a[1] * b[0] + (u128)a[2] * b4 +
	    (u128)a[3] * b3 + (u128)a[4] * b2;
	r2 = (u128)a[0] * b[2] + (u128)a[1] * b[1] + (u128)a[2] * b[0] +
	    (u128)a[3] * b4 + (u128)a[4] * b3;
	r3 = (u128)a[0] * b[3] + (u128)a[1] * b[2] + (u128)a[2] * b[1] +
	    (u128)a[3] * b[0] + (u128)a[4] * b4;
	r4 = (u128)a[0] * b[4] + (u128)a[1] * b[3] + (u128)a[2] * b[2] +
	    (u128)a[3] * b[1] + (u128)a[4] * b[0];
	fe_reduce128(h, r0, r1, r2, r3, r4);
}

/* h = f^2: fe_mul() with the symmetric products counted once, doubled. */
static void
fe_sq(struct fe *h, const struct fe *f)
{
	const uint64_t *a = f->v;
	uint64_t a0x2 = 2 * a[0], a1x2 = 2 * a[1];
	uint64_t a3x19 = 19 * a[3], a3x38 = 38 * a[3];
	uint64_t a4x19 = 19 * a[4], a4x38 = 38 * a[4];
	u128 r0, r1, r2, r3, r4;

	r0 = (u128)a[0] * a[0] + (u128)a[1] * a4x38 + (u128)a[2] * a3x38;
	r1 = (u128)a0x2 * a[1] + (u128)a[2] * a4x38 + (u128)a[3] * a3x19;
	r2 = (u128)a0x2 * a[2] + (u128)a[1] * a[1] + (u128)a[3] * a4x38;
	r3 = (u128)a0x2 * a[3] + (u128)a1x2 * a[2] + (u128)a[4] * a4x19;
	r4 = (u128)a0x2 * a[4] + (u128)a1x2 * a[3] + (u128)a[2] * a[2];
	fe_reduce128(h, r0, r1, r2, r3, r4);
}

/* h = f^(2^n), n >= 1 */
static void
fe_sqn(struct fe *h, const struct fe *f, int n)
{
	fe_sq(h, f);
	while (--n > 0)
		fe_sq(h, h);
}

static uint64_t
load_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
store_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* The low 255 bits of s, as they are (a value up to 2^255 - 1). */
static void
fe_frombytes(struct fe *h, const unsigned char s[32])
{
	uint64_t w0 = load_le64(s), w1 = load_le64(s + 8);
	uint64_t w2 = load_le64(s + 16), w3 = load_le64(s + 24);

	h->v[0] = w0 & MASK51;
	h->v[1] = (w0 >> 51 | w1 << 13) & MASK51;
	h->v[2] = (w1 >> 38 | w2 << 26) & MASK51;
	h->v[3] = (w2 >> 25 | w3 << 39) & MASK51;
	h->v[4] = (w3 >> 12) & MASK51;
}

/* The canonical encoding: the value reduced into [0, p), 32 bytes. */
static void
fe_tobytes(unsigned char s[32], const struct fe *f)
{
	struct fe t = *f;
	uint64_t q;
	int i;

	fe_carry(&t);
	fe_carry(&t);
	/* now t < 2^255 + 19 < 2p; q = 1 exactly when t >= p */
	q = (t.v[0] + 19) >> 51;
	for (i = 1; i < 5; i++)
		q = (t.v[i] + q) >> 51;
	t.v[0] += 19 * q;		/* t - q p = t + 19 q - q 2^255 */
	for (i = 0; i < 4; i++) {
		t.v[i + 1] += t.v[i] >> 51;
		t.v[i] &= MASK51;
	}
	t.v[4] &= MASK51;
	store_le64(s, t.v[0] | t.v[1] << 51);
	store_le64(s + 8, t.v[1] >> 13 | t.v[2] << 38);
	store_le64(s + 16, t.v[2] >> 26 | t.v[3] << 25);
	store_le64(s + 24, t.v[3] >> 39 | t.v[4] << 12);
}

static int
fe_equal(const struct fe *f, const struct fe *g)
{
	unsigned char a[32], b[32];

	fe_tobytes(a, f);
	fe_tobytes(b, g);
	return memcmp(a, b, sizeof(a)) == 0;
}

/* The "sign" of RFC 8032: the least significant bit of the value. */
static int
fe_isodd(const struct fe *f)
{
	unsigned char s[32];

	fe_tobytes(s, f);
	return s[0] & 1;
}

/* *out = z^(2^250 - 1), *z11 = z^11: the common part of both powers. */
static void
fe_pow2250m1(struct fe *out, struct fe *z11, const struct fe *z)
{
	struct fe t, z9, e5, e10, e20, e50, e100;

	fe_sq(&t, z);				/* z^2 */
	fe_sqn(&z9, &t, 2);			/* z^8 */
	fe_mul(&z9, &z9, z);			/* z^9 */
	fe_mul(z11, &z9, &t);			/* z^11 */
	fe_sq(&t, z11);				/* z^22 */
	fe_mul(&e5, &t, &z9);			/* z^(2^5 - 1) */
	fe_sqn(&t, &e5, 5);
	fe_mul(&e10, &t, &e5);			/* z^(2^10 - 1) */
	fe_sqn(&t, &e10, 10);
	fe_mul(&e20, &t, &e10);			/* z^(2^20 - 1) */
	fe_sqn(&t, &e20, 20);
	fe_mul(&t, &t, &e20);			/* z^(2^40 - 1) */
	fe_sqn(&t, &t, 10);
	fe_mul(&e50, &t, &e10);			/* z^(2^50 - 1) */
	fe_sqn(&t, &e50, 50);
	fe_mul(&e100, &t, &e50);		/* z^(2^100 - 1) */
	fe_sqn(&t, &e100, 100);
	fe_mul(&t, &t, &e100);			/* z^(2^200 - 1) */
	fe_sqn(&t, &t, 50);
	fe_mul(out, &t, &e50);			/* z^(2^250 - 1) */
}

/* h = 1/z = z^(p - 2) = z^(2^255 - 21) */
static void
fe_invert(struct fe *h, const struct fe *z)
{
	struct fe t, z11;

	fe_pow2250m1(&t, &z11, z);
	fe_sqn(&t, &t, 5);			/* z^(2^255 - 32) */
	fe_mul(h, &t, &z11);
}

/* h = z^((p - 5) / 8) = z^(2^252 - 3) */
static void
fe_pow22523(struct fe *h, const struct fe *z)
{
	struct fe t, z11;

	fe_pow2250m1(&t, &z11, z);
	fe_sqn(&t, &t, 2);			/* z^(2^252 - 4) */
	fe_mul(h, &t, z);
}

/* ---- points ----------------------------------------------------------- */

static void
ge_identity(struct ge_p3 *p)
{
	fe_zero(&p->X);
	fe_one(&p->Y);
	fe_one(&p->Z);
	fe_zero(&p->T);
}

static void
ge_base(struct ge_p3 *p)
{
	p->X = base_x;
	p->Y = base_y;
	fe_one(&p->Z);
	fe_mul(&p->T, &base_x, &base_y);
}

/*
 * RFC 8032 5.1.3 as OpenSSL and OpenSSH apply it: y is the low 255 bits
 * taken modulo p (no refusal of y >= p), x^2 = (y^2 - 1) / (d y^2 + 1)
 * must have a root, and x = 0 is kept whatever the sign bit says.
 * 0, or -1 if there is no such point.
 */
static int
ge_decode(struct ge_p3 *p, const unsigned char s[32])
{
	struct fe u, v, v3, x, vx2, minus_u;

	fe_frombytes(&p->Y, s);
	fe_one(&p->Z);
	fe_sq(&u, &p->Y);
	fe_mul(&v, &u, &fe_d);
	fe_sub(&u, &u, &p->Z);			/* u = y^2 - 1 */
	fe_add(&v, &v, &p->Z);			/* v = d y^2 + 1 */
	/* candidate root x = u v^3 (u v^7)^((p - 5) / 8) */
	fe_sq(&v3, &v);
	fe_mul(&v3, &v3, &v);
	fe_sq(&x, &v3);
	fe_mul(&x, &x, &v);
	fe_mul(&x, &x, &u);
	fe_pow22523(&x, &x);
	fe_mul(&x, &x, &v3);
	fe_mul(&x, &x, &u);
	fe_sq(&vx2, &x);
	fe_mul(&vx2, &vx2, &v);
	if (!fe_equal(&vx2, &u)) {
		fe_neg(&minus_u, &u);
		if (!fe_equal(&vx2, &minus_u))
			return -1;		/* u/v is not a square */
		fe_mul(&x, &x, &fe_sqrtm1);
	}
	if (fe_isodd(&x) != (s[31] >> 7))
		fe_neg(&x, &x);
	p->X = x;
	fe_mul(&p->T, &x, &p->Y);
	return 0;
}

/* The 32-byte encoding: y, with x's sign in the top bit. */
static void
ge_encode(unsigned char s[32], const struct ge_p3 *p)
{
	struct fe zinv, x, y;

	fe_invert(&zinv, &p->Z);
	fe_mul(&x, &p->X, &zinv);
	fe_mul(&y, &p->Y, &zinv);
	fe_tobytes(s, &y);
	s[31] |= (unsigned char)(fe_isodd(&x) << 7);
}

static void
ge_to_p3(struct ge_p3 *r, const struct ge_done *c)
{
	fe_mul(&r->X, &c->E, &c->F);
	fe_mul(&r->Y, &c->G, &c->H);
	fe_mul(&r->Z, &c->F, &c->G);
	fe_mul(&r->T, &c->E, &c->H);
}

/* As ge_to_p3() without T, for a point that is only doubled next. */
static void
ge_to_p2(struct ge_p3 *r, const struct ge_done *c)
{
	fe_mul(&r->X, &c->E, &c->F);
	fe_mul(&r->Y, &c->G, &c->H);
	fe_mul(&r->Z, &c->F, &c->G);
}

static void
ge_cache(struct ge_cached *c, const struct ge_p3 *p)
{
	fe_add(&c->YpX, &p->Y, &p->X);
	fe_sub(&c->YmX, &p->Y, &p->X);
	fe_add(&c->Z2, &p->Z, &p->Z);
	fe_mul(&c->T2d, &p->T, &fe_d2);
}

/* 2P (RFC 8032 5.1.4, "doubling"); uses X, Y, Z only. */
static void
ge_dbl(struct ge_done *r, const struct ge_p3 *p)
{
	struct fe a, b, c, t;

	fe_sq(&a, &p->X);
	fe_sq(&b, &p->Y);
	fe_sq(&c, &p->Z);
	fe_add(&c, &c, &c);
	fe_add(&r->H, &a, &b);
	fe_add(&t, &p->X, &p->Y);
	fe_sq(&t, &t);
	fe_sub(&r->E, &r->H, &t);
	fe_sub(&r->G, &a, &b);
	fe_add(&r->F, &c, &r->G);
}

/* P + Q (RFC 8032 5.1.4, "addition"). */
static void
ge_add(struct ge_done *r, const struct ge_p3 *p, const struct ge_cached *q)
{
	struct fe a, b, c, d;

	fe_sub(&a, &p->Y, &p->X);
	fe_mul(&a, &a, &q->YmX);
	fe_add(&b, &p->Y, &p->X);
	fe_mul(&b, &b, &q->YpX);
	fe_mul(&c, &p->T, &q->T2d);
	fe_mul(&d, &p->Z, &q->Z2);
	fe_sub(&r->E, &b, &a);
	fe_sub(&r->F, &d, &c);
	fe_add(&r->G, &d, &c);
	fe_add(&r->H, &b, &a);
}

/* P - Q: the addition with -Q = (-X, Y, Z, -T), i.e. Y+X and Y-X swapped. */
static void
ge_sub(struct ge_done *r, const struct ge_p3 *p, const struct ge_cached *q)
{
	struct fe a, b, c, d;

	fe_sub(&a, &p->Y, &p->X);
	fe_mul(&a, &a, &q->YpX);
	fe_add(&b, &p->Y, &p->X);
	fe_mul(&b, &b, &q->YmX);
	fe_mul(&c, &p->T, &q->T2d);
	fe_mul(&d, &p->Z, &q->Z2);
	fe_sub(&r->E, &b, &a);
	fe_add(&r->F, &d, &c);
	fe_sub(&r->G, &d, &c);
	fe_add(&r->H, &b, &a);
}

/* P + Q for Q affine (Z = 1): ge_add() with 2 Z2 = 2. */
static void
ge_madd(struct ge_done *r, const struct ge_p3 *p, const struct ge_affine *q)
{
	struct fe a, b, c, d;

	fe_sub(&a, &p->Y, &p->X);
	fe_mul(&a, &a, &q->YmX);
	fe_add(&b, &p->Y, &p->X);
	fe_mul(&b, &b, &q->YpX);
	fe_mul(&c, &p->T, &q->T2d);
	fe_add(&d, &p->Z, &p->Z);
	fe_sub(&r->E, &b, &a);
	fe_sub(&r->F, &d, &c);
	fe_add(&r->G, &d, &c);
	fe_add(&r->H, &b, &a);
}

/* P - Q for Q affine: ge_sub() with 2 Z2 = 2. */
static void
ge_msub(struct ge_done *r, const struct ge_p3 *p, const struct ge_affine *q)
{
	struct fe a, b, c, d;

	fe_sub(&a, &p->Y, &p->X);
	fe_mul(&a, &a, &q->YpX);
	fe_add(&b, &p->Y, &p->X);
	fe_mul(&b, &b, &q->YmX);
	fe_mul(&c, &p->T, &q->T2d);
	fe_add(&d, &p->Z, &p->Z);
	fe_sub(&r->E, &b, &a);
	fe_add(&r->F, &d, &c);
	fe_sub(&r->G, &d, &c);
	fe_add(&r->H, &b, &a);
}

/* t[i] = (2 i + 1) P for i < n */
static void
ge_odd_multiples(struct ge_cached *t, int n, const struct ge_p3 *p)
{
	struct ge_done c;
	struct ge_p3 twice, q;
	struct ge_cached two;
	int i;

	ge_dbl(&c, p);
	ge_to_p3(&twice, &c);
	ge_cache(&two, &twice);
	ge_cache(&t[0], p);
	q = *p;
	for (i = 1; i < n; i++) {
		ge_add(&c, &q, &two);
		ge_to_p3(&q, &c);
		ge_cache(&t[i], &q);
	}
}

/* *p = 2^n P (n >= 1), with T */
static void
ge_dbl_n(struct ge_p3 *p, int n)
{
	struct ge_done c;

	while (n-- > 1) {
		ge_dbl(&c, p);
		ge_to_p2(p, &c);
	}
	ge_dbl(&c, p);
	ge_to_p3(p, &c);
}

/* ---- scalars ---------------------------------------------------------- */

/* s < L, s little-endian */
static int
scalar_canonical(const unsigned char s[32])
{
	int i;

	for (i = 31; i >= 0; i--) {
		if (s[i] != order_le[i])
			return s[i] < order_le[i];
	}
	return 0;			/* s == L */
}


/*
 * The width-w non-adjacent form of v: naf[i] odd in (-2^(w-1), 2^(w-1))
 * or 0, v = sum naf[i] 2^i, any nonzero digit followed by at least w - 1
 * zeros; at most PART_DIGITS digits.  Returns the highest nonzero
 * position, -1 for v = 0.
 */
static int
wnaf64(signed char naf[PART_DIGITS], uint64_t v, int w)
{
	u128 x = v;
	int i, d, top = -1;

	memset(naf, 0, PART_DIGITS);
	for (i = 0; x != 0 && i < PART_DIGITS; ) {
		if ((x & 1) == 0) {
			x >>= 1;
			i++;
			continue;
		}
		d = (int)(x & ((1U << w) - 1));
		if (d >= 1 << (w - 1))
			d -= 1 << w;
		naf[i] = (signed char)d;
		top = i;
		if (d > 0)
			x -= (u128)d;
		else
			x += (u128)-d;	/* carried upwards */
		x >>= w;		/* the next w - 1 digits are 0 */
		i += w;
	}
	return top;
}

/* out[0..na+nb) = a[0..na) * b[0..nb) */
static void
mp_mul(uint64_t *out, const uint64_t *a, int na, const uint64_t *b, int nb)
{
	u128 t;
	uint64_t carry;
	int i, j;

	memset(out, 0, (size_t)(na + nb) * sizeof(*out));
	for (i = 0; i < na; i++) {
		carry = 0;
		for (j = 0; j < nb; j++) {
			t = (u128)a[i] * b[j] + out[i + j] + carry;
			out[i + j] = (uint64_t)t;
			carry = (uint64_t)(t >> 64);
		}
		out[i + nb] = carry;
	}
}

/* r -= L if r >= L, r of five words */
static int
mp_sub_order(uint64_t r[5])
{
	uint64_t l[5] = { order64[0], order64[1], order64[2], order64[3], 0 };
	uint64_t borrow = 0, d;
	int i;

	for (i = 4; i >= 0; i--) {
		if (r[i] != l[i])
			break;
	}
	if (i >= 0 && r[i] < l[i])
		return 0;
	for (i = 0; i < 5; i++) {
		d = r[i] - l[i] - borrow;
		borrow = (r[i] < l[i]) || (r[i] - l[i] < borrow);
		r[i] = d;
	}
	return 1;
}

/*
 * Barrett reduction (Handbook of Applied Cryptography, 14.42) with base
 * b = 2^64, k = 4: q = floor(floor(x / b^3) mu / b^5) is floor(x / L)
 * or at most 2 less, so x - q L is below 3L and two subtractions at most
 * finish the job.
 */
void
ed25519_scalar_reduce(unsigned char out[32], const unsigned char in[64])
{
	uint64_t x[8], prod[10], ql[9], r[5], borrow, d;
	int i;

	for (i = 0; i < 8; i++)
		x[i] = load_le64(in + 8 * i);
	mp_mul(prod, x + 3, 5, barrett_mu, 5);
	mp_mul(ql, prod + 5, 5, order64, 4);	/* q L; low 5 words used */
	borrow = 0;
	for (i = 0; i < 5; i++) {		/* r = x - q L mod b^5 */
		d = x[i] - ql[i] - borrow;
		borrow = (x[i] < ql[i]) || (x[i] - ql[i] < borrow);
		r[i] = d;
	}
	while (mp_sub_order(r))
		;
	for (i = 0; i < 4; i++)
		store_le64(out + 8 * i, r[i]);
}


/* ---- public keys ------------------------------------------------------ */

/* Decode pub and compute the multiples of -A (struct prepared_key). */
static void
key_prepare(struct prepared_key *pk, const unsigned char pub[32])
{
	struct ge_p3 p;
	int i;

	memset(pk, 0, sizeof(*pk));
	memcpy(pk->pub, pub, sizeof(pk->pub));
	if (ge_decode(&p, pub) != 0)
		return;			/* valid = 0: every signature fails */
	fe_neg(&p.X, &p.X);		/* -A */
	fe_neg(&p.T, &p.T);
	for (i = 0; i < PARTS; i++) {
		if (i > 0)
			ge_dbl_n(&p, PART_BITS);
		ge_odd_multiples(pk->odd[i], A_ODD, &p);
	}
	pk->valid = 1;
}

/*
 * The last few keys prepared, for the next signature of the same
 * signer (a lookup checks several entries signed with one key).  Only
 * public data; filled under the lock, copied out under it, so a thread
 * never reads a slot another one is replacing.
 */
static struct prepared_key memo[ED25519_KEPT_KEYS];
static unsigned memo_used, memo_next;
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static void
key_prepared(struct prepared_key *pk, const unsigned char pub[32])
{
	unsigned i;

	pthread_mutex_lock(&memo_lock);
	for (i = 0; i < memo_used; i++) {
		if (memcmp(memo[i].pub, pub, sizeof(memo[i].pub)) == 0) {
			*pk = memo[i];
			pthread_mutex_unlock(&memo_lock);
			return;
		}
	}
	pthread_mutex_unlock(&memo_lock);
	key_prepare(pk, pub);
	pthread_mutex_lock(&memo_lock);
	memo[memo_next] = *pk;
	memo_next = (memo_next + 1) % ED25519_KEPT_KEYS;
	if (memo_used < ED25519_KEPT_KEYS)
		memo_used++;
	pthread_mutex_unlock(&memo_lock);
}

void
ed25519_prepare(const unsigned char pub[ED25519_PUBLIC_LEN])
{
	struct prepared_key pk;

	key_prepared(&pk, pub);
}

/* ---- verification ----------------------------------------------------- */

static void
ge_add_digit(struct ge_done *c, const struct ge_p3 *p,
    const struct ge_cached *t, int digit)
{
	if (digit > 0)
		ge_add(c, p, &t[digit / 2]);
	else
		ge_sub(c, p, &t[-digit / 2]);
}

static void
ge_madd_digit(struct ge_done *c, const struct ge_p3 *p,
    const struct ge_affine *t, int digit)
{
	if (digit > 0)
		ge_madd(c, p, &t[digit / 2]);
	else
		ge_msub(c, p, &t[-digit / 2]);
}

/*
 * *r = [s]B + [k](-A) for the prepared A, s and k below 2^253, each cut
 * into PARTS parts; r's T is left stale.
 */
static void
ge_double_scalarmult(struct ge_p3 *r, const unsigned char k[32],
    const struct prepared_key *pk, const unsigned char s[32])
{
	signed char nk[PARTS][PART_DIGITS], ns[PARTS][PART_DIGITS];
	struct ge_done c;
	int i, j, t, top = -1;

	for (j = 0; j < PARTS; j++) {
		if ((t = wnaf64(nk[j], load_le64(k + 8 * j), A_W)) > top)
			top = t;
		if ((t = wnaf64(ns[j], load_le64(s + 8 * j), B_W)) > top)
			top = t;
	}
	ge_identity(r);
	for (i = top; i >= 0; i--) {
		ge_dbl(&c, r);
		for (j = 0; j < PARTS; j++) {
			if (ns[j][i] != 0) {
				ge_to_p3(r, &c);
				ge_madd_digit(&c, r, base_odd[j], ns[j][i]);
			}
			if (nk[j][i] != 0) {
				ge_to_p3(r, &c);
				ge_add_digit(&c, r, pk->odd[j], nk[j][i]);
			}
		}
		ge_to_p2(r, &c);
	}
}

int
ed25519_verify(const unsigned char sig[ED25519_SIGNATURE_LEN],
    const unsigned char *msg, size_t len,
    const unsigned char pub[ED25519_PUBLIC_LEN])
{
	struct prepared_key pk;
	struct kb_sha512 h;
	struct ge_p3 r;
	unsigned char digest[KB_SHA512_LEN], k[32], rcheck[32];

	if (!scalar_canonical(sig + 32))
		return KB_ERR_SIG_BAD;
	key_prepared(&pk, pub);
	if (!pk.valid)
		return KB_ERR_SIG_BAD;
	/* k = SHA-512(R || A || M) mod L */
	sha512_init(&h);
	sha512_update(&h, sig, 32);
	sha512_update(&h, pub, ED25519_PUBLIC_LEN);
	sha512_update(&h, msg, len);
	sha512_final(&h, digest);
	ed25519_scalar_reduce(k, digest);
	/* R' = [S]B - [k]A must encode to the signature's R, byte for byte */
	ge_double_scalarmult(&r, k, &pk, sig + 32);
	ge_encode(rcheck, &r);
	return memcmp(rcheck, sig, 32) == 0 ? 0 : KB_ERR_SIG_BAD;
}

/* ---- the tables, checked ---------------------------------------------- */

/* Is the affine t the point p, limbs reduced? */
static int
affine_is(const struct ge_affine *t, const struct ge_p3 *p)
{
	struct fe zinv, x, y, v;
	int i;

	for (i = 0; i < 5; i++)
		if (t->YpX.v[i] > MASK51 || t->YmX.v[i] > MASK51 ||
		    t->T2d.v[i] > MASK51)
			return 0;
	fe_invert(&zinv, &p->Z);
	fe_mul(&x, &p->X, &zinv);
	fe_mul(&y, &p->Y, &zinv);
	fe_add(&v, &y, &x);
	if (!fe_equal(&v, &t->YpX))
		return 0;
	fe_sub(&v, &y, &x);
	if (!fe_equal(&v, &t->YmX))
		return 0;
	fe_mul(&v, &x, &y);
	fe_mul(&v, &v, &fe_d2);
	return fe_equal(&v, &t->T2d);
}

int
ed25519_selftest(void)
{
	struct ge_p3 b, q, twice;
	struct ge_done c;
	struct ge_cached two;
	int i, j;

	ge_base(&b);
	for (i = 0; i < PARTS; i++) {
		if (i > 0)
			ge_dbl_n(&b, PART_BITS);
		ge_dbl(&c, &b);
		ge_to_p3(&twice, &c);
		ge_cache(&two, &twice);
		q = b;
		for (j = 0; j < B_ODD; j++) {
			if (!affine_is(&base_odd[i][j], &q))
				return KB_ERR_INTERNAL;
			ge_add(&c, &q, &two);
			ge_to_p3(&q, &c);
		}
	}
	return 0;
}
