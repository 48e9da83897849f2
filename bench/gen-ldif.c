/*
 * gen-ldif.c - bulk LDIF for the bench directory, written to stdout for
 * slapadd.
 *
 *   gen-ldif -n USERS [-k KEYS_PER_USER] [-f FILLER] [-s START]
 *            [-i INSTANCE] [-b KEYBASE] [-p PEOPLEBASE] [-P]
 *
 * Users are named u<START>...; user uN gets KEYS_PER_USER key pairs
 * cn=uN-kJ,KEYBASE (schema keybound) attached to uN@INSTANCE, and, with
 * -P, a posixAccount + ldapPublicKey entry uid=uN,PEOPLEBASE holding the
 * same keys in sshPublicKey (the openssh-lpk profile, SSSD and the
 * scripts).  -f adds FILLER more key pairs attached to other users
 * (f<N>@INSTANCE), the padding of a big directory.  Every user's key is
 * a fresh Ed25519 key made with libcrypto; the filler reuses a pool of
 * FILLER_POOL of them under unique names (making a million keys would
 * cost a minute of CPU for entries nobody asks for).  Every
 * keyboundFingerprint is the SHA256 fingerprint ssh-keygen -l prints for
 * the entry's key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define ED25519_LEN	32
#define FILLER_POOL	4096

struct genkey {
	char b64[128];		/* base64 of the wire blob */
	char fp[64];		/* SHA256:... unpadded */
};

static void
die(const char *what)
{
	fprintf(stderr, "gen-ldif: %s\n", what);
	exit(1);
}

static void
put_string(unsigned char **p, const void *s, size_t len)
{
	(*p)[0] = (unsigned char)(len >> 24);
	(*p)[1] = (unsigned char)(len >> 16);
	(*p)[2] = (unsigned char)(len >> 8);
	(*p)[3] = (unsigned char)len;
	memcpy(*p + 4, s, len);
	*p += 4 + len;
}

static void
make_key(struct genkey *k)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	unsigned char pub[ED25519_LEN], blob[64], md[32], *p = blob;
	unsigned char fpb64[64];
	size_t publen = sizeof(pub);
	unsigned int mdlen;
	int n;

	if ((ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &pkey) != 1 ||
	    EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1 ||
	    publen != ED25519_LEN)
		die("Ed25519 key generation failed");
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	put_string(&p, "ssh-ed25519", 11);
	put_string(&p, pub, sizeof(pub));
	EVP_EncodeBlock((unsigned char *)k->b64, blob, (int)(p - blob));
	if (EVP_Digest(blob, (size_t)(p - blob), md, &mdlen, EVP_sha256(),
	    NULL) != 1)
		die("SHA256 failed");
	n = EVP_EncodeBlock(fpb64, md, (int)mdlen);
	while (n > 0 && fpb64[n - 1] == '=')
		n--;
	snprintf(k->fp, sizeof(k->fp), "SHA256:%.*s", n, (char *)fpb64);
}

static void
keypair(const char *name, const char *user, const char *instance,
    const char *base, const struct genkey *k)
{
	printf("dn: cn=%s,%s\nobjectClass: keyboundKeyPair\ncn: %s\n"
	    "keyboundPublicKey: ssh-ed25519 %s\nkeyboundFingerprint: %s\n"
	    "keyboundAttachment: %s@%s\n\n", name, base, name, k->b64, k->fp,
	    user, instance);
}

static unsigned long
number(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > 100000000UL)
		die("bad number");
	return v;
}

int
main(int argc, char **argv)
{
	struct genkey keys[16], *pool = NULL;
	const char *instance = "benchhost";
	const char *base = "ou=keypairs,dc=example,dc=test";
	const char *people = "ou=people,dc=example,dc=test";
	unsigned long users = 0, per = 2, filler = 0, start = 1, u, j;
	char user[32], name[48];
	int ch, posix = 0;

	while ((ch = getopt(argc, argv, "n:k:f:s:i:b:p:P")) != -1) {
		switch (ch) {
		case 'n': users = number(optarg); break;
		case 'k': per = number(optarg); break;
		case 'f': filler = number(optarg); break;
		case 's': start = number(optarg); break;
		case 'i': instance = optarg; break;
		case 'b': base = optarg; break;
		case 'p': people = optarg; break;
		case 'P': posix = 1; break;
		default: die("usage: gen-ldif -n USERS [-k K] [-f FILLER] "
		    "[-s START] [-i INSTANCE] [-b BASE] [-p PEOPLE] [-P]");
		}
	}
	if (per > 16)
		die("at most 16 keys per user");
	for (u = start; u < start + users; u++) {
		snprintf(user, sizeof(user), "u%lu", u);
		for (j = 0; j < per; j++) {
			make_key(&keys[j]);
			snprintf(name, sizeof(name), "%s-k%lu", user, j);
			keypair(name, user, instance, base, &keys[j]);
		}
		if (!posix)
			continue;
		printf("dn: uid=%s,%s\nobjectClass: account\n"
		    "objectClass: posixAccount\nobjectClass: ldapPublicKey\n"
		    "uid: %s\ncn: %s\nuidNumber: %lu\ngidNumber: 100\n"
		    "homeDirectory: /nonexistent\nloginShell: /bin/sh\n",
		    user, people, user, user, 200000 + u);
		for (j = 0; j < per; j++)
			printf("sshPublicKey: ssh-ed25519 %s %s-k%lu\n",
			    keys[j].b64, user, j);
		printf("\n");
	}
	if (filler > 0 && (pool = calloc(FILLER_POOL, sizeof(*pool))) == NULL)
		die("out of memory");
	for (u = 0; u < filler; u++) {
		snprintf(user, sizeof(user), "f%lu", u);
		snprintf(name, sizeof(name), "f%lu-k0", u);
		if (u < FILLER_POOL)
			make_key(&pool[u]);
		keypair(name, user, instance, base, &pool[u % FILLER_POOL]);
	}
	free(pool);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write failed");
	return 0;
}
