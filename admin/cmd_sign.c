/*
 * cmd_sign.c - the commands of signed entries: `keybound signer create`
 * (a new Ed25519 signing key), `keybound verify` (what every entry's
 * signature says, as a host would judge it) and `keybound resign`.
 *
 * verify rebuilds each record from the attributes received, with the
 * same mapping hosts use (lib/signed.c); with trusted signers it asks
 * signed_entry_verify() exactly as a host does, without them it checks
 * the signature with the key the signature carries (and says which).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "signed.h"
#include "sshkey.h"
#include "sshsig.h"
#include "admin.h"

#define SIGNER_COMMENT_DEFAULT	"keybound-signer"
#define SIGNER_COMMENT_MAX	256
#define FUTURE_SLACK		300	/* seconds, as the hosts allow */

/* One entry's verdict. */
struct verdict {
	char *name;
	enum kb_record_kind kind;
	char *signer_fp;		/* NULL: none readable */
	char *signer_name;		/* from trusted signers, or NULL */
	uint64_t serial;
	time_t signed_at;		/* 0: none readable */
	int valid;
	const char *reason;		/* static text, NULL when valid */
};

struct verdicts {
	struct verdict *v;
	size_t n;
	const struct kb_signers *signers;	/* may be NULL */
	unsigned max_age;
	time_t now;
	char **names;			/* only these (NULL: all) */
	int nnames;
	unsigned char *seen;		/* per name: found */
};

static void
verdicts_free(struct verdicts *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].signer_fp);
		free(vs->v[i].signer_name);
	}
	free(vs->v);
	vs->v = NULL;
	vs->n = 0;
}

/* "signer create" comment: printable ASCII, no spaces at the ends. */
static int
comment_valid(const char *c)
{
	size_t i, len = strlen(c);

	if (len == 0 || len > SIGNER_COMMENT_MAX || c[0] == ' ' ||
	    c[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)c[i] < 0x20 || (unsigned char)c[i] > 0x7e)
			return 0;
	return 1;
}

/* Generate and write the key; an exit status. */
static int
signer_create(struct kb_admin *a, const char *path, const char *comment)
{
	struct keyfile kf;
	struct keygen *k = NULL;
	struct kb_key *pub = NULL;
	unsigned char *pem = NULL;
	size_t pemlen = 0;
	char *line = NULL, *fp = NULL;
	unsigned bits = 0;
	int r, status = EXIT_FAIL;

	memset(&kf, 0, sizeof(kf));
	kf.path = path;
	kf.fd = -1;
	if ((status = keyfile_prepare(&kf)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if ((r = keygen_check_bits(KEYGEN_ED25519, &bits)) != 0 ||
	    (r = keygen_generate(KEYGEN_ED25519, bits, &k)) != 0 ||
	    (r = keygen_public_line(k, &line)) != 0 ||
	    (r = key_parse_line(line, strlen(line), 0, &pub)) != 0 ||
	    (r = key_fingerprint_sha256(pub, &fp)) != 0 ||
	    (r = keygen_private_pem(k, comment, NULL, 0, &pem,
	    &pemlen)) != 0) {
		admin_err("key generation failed: %s", kb_strerror(r));
		goto out;
	}
	if ((status = keyfile_commit(&kf, pem, pemlen)) != EXIT_OK) {
		if (keyfile_discard(&kf) != 0)
			admin_err("%s: could not remove it: %s", path,
			    strerror(errno));
		goto out;
	}
	if (a->json) {
		printf("{\"private_key_file\":");
		json_string(stdout, path, strlen(path));
		printf(",\"public_key\":\"%s %s\",\"fingerprint_sha256\":"
		    "\"%s\"}\n", line, comment, fp);
	} else
		printf("%s %s\n", line, comment);
	status = EXIT_OK;
 out:
	keyfile_close(&kf);
	keygen_free(k);
	key_free(pub);
	if (pem != NULL) {
		OPENSSL_cleanse(pem, pemlen);
		free(pem);
	}
	free(line);
	free(fp);
	return status;
}

int
cmd_signer(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL, *comment = SIGNER_COMMENT_DEFAULT;
	int ch;

	if (argc < 2 || strcmp(argv[1], "create") != 0)
		return admin_usage(argv[0], "expected create");
	argc--;
	argv++;
	while ((ch = admin_getopt(a, argc, argv, "o:C:", longopts)) != -1) {
		switch (ch) {
		case 'o':
			path = optarg;
			break;
		case 'C':
			comment = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind != argc)
		return admin_usage("signer", "unexpected argument %s",
		    argv[optind]);
	if (path == NULL || path[0] == '\0' || strcmp(path, "-") == 0)
		return admin_usage("signer", "-o FILE: the new private key "
		    "file");
	if (!comment_valid(comment))
		return admin_usage("signer", "-C: printable ASCII, at most "
		    "%d characters", SIGNER_COMMENT_MAX);
	return signer_create(a, path, comment);
}

/* The attribute of that name, or NULL. */
static const struct kb_attr *
attr_named(const struct kb_attr *attrs, size_t nattrs, const char *name)
{
	size_t i;

	for (i = 0; i < nattrs; i++)
		if (strcasecmp(attrs[i].name, name) == 0)
			return &attrs[i];
	return NULL;
}

/*
 * Judge one entry's signature into v (name and kind are set): parse the
 * value, name the signer, verify over the record rebuilt from attrs,
 * then the age.  A KB_ERR_* code only for lack of memory.
 */
static int
verdict_judge(struct verdicts *vs, struct verdict *v,
    const struct kb_attr *attrs, size_t nattrs)
{
	const struct kb_attr *sa = attr_named(attrs, nattrs, AT_SIGNATURE);
	struct kb_signed_info info;
	struct kb_key *embedded = NULL;
	unsigned char *sig = NULL, *rec = NULL;
	size_t siglen = 0, reclen = 0;
	uint64_t serial = 0, at = 0;
	int r;

	memset(&info, 0, sizeof(info));
	if (sa == NULL || sa->nvals == 0) {
		v->reason = kb_strerror(KB_ERR_SIG_MISSING);
		return 0;
	}
	if (sa->nvals != 1 || (r = signed_value_parse(sa->vals[0].bytes,
	    sa->vals[0].len, &serial, &at, &sig, &siglen)) != 0) {
		v->reason = kb_strerror(KB_ERR_SIG_FORMAT);
		return 0;
	}
	v->serial = serial;
	v->signed_at = (time_t)at;
	if ((r = sshsig_parse(sig, siglen, &embedded)) != 0) {
		v->reason = kb_strerror(r);
		goto out;
	}
	if ((r = key_fingerprint_sha256(embedded, &v->signer_fp)) != 0)
		goto out;
	if (vs->signers != NULL) {
		r = signed_entry_verify(vs->signers, v->kind, attrs, nattrs,
		    &info);
		if (r == 0 && info.signer != NULL &&
		    (v->signer_name = strdup(info.signer)) == NULL) {
			r = KB_ERR_NOMEM;
			goto out;
		}
	} else {
		r = v->kind == KB_RECORD_PAIR ?
		    signed_pair_record(attrs, nattrs, serial, at, &rec,
		    &reclen) :
		    signed_group_record(attrs, nattrs, serial, at, &rec,
		    &reclen);
		if (r == 0)
			r = sshsig_verify(embedded, rec, reclen, sig, siglen);
	}
	if (r == KB_ERR_NOMEM)
		goto out;
	if (r != 0)
		v->reason = kb_strerror(r);
	else if (v->signed_at > vs->now + FUTURE_SLACK)
		v->reason = "signed in the future";
	else if (vs->now - v->signed_at > (time_t)vs->max_age)
		v->reason = kb_strerror(KB_ERR_SIG_TOO_OLD);
	else
		v->valid = 1;
	r = 0;
 out:
	signed_info_clear(&info);
	key_free(embedded);
	free(sig);
	free(rec);
	return r;
}

/* -1 if name is not asked for, else its index (or 0 when all are). */
static int
verdict_wanted(struct verdicts *vs, const char *name)
{
	int i;

	if (vs->names == NULL)
		return 0;
	for (i = 0; i < vs->nnames; i++)
		if (strcmp(vs->names[i], name) == 0)
			return i;
	return -1;
}

static int
verdict_collect(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct verdicts *vs = ctx;
	const struct kb_attr *cn = attr_named(attrs, nattrs, AT_CN);
	struct verdict *nv;
	int kind, i;

	(void)dn;
	if ((kind = admin_entry_kind(attrs, nattrs)) == 0 || cn == NULL ||
	    cn->nvals == 0 || strlen(cn->vals[0].bytes) != cn->vals[0].len)
		return 0;
	if ((i = verdict_wanted(vs, cn->vals[0].bytes)) < 0)
		return 0;
	if (vs->seen != NULL)
		vs->seen[i] = 1;
	if ((nv = reallocarray(vs->v, vs->n + 1, sizeof(*nv))) == NULL)
		return KB_ERR_NOMEM;
	vs->v = nv;
	nv = &vs->v[vs->n++];
	memset(nv, 0, sizeof(*nv));
	nv->kind = (enum kb_record_kind)kind;
	if ((nv->name = strdup(cn->vals[0].bytes)) == NULL)
		return KB_ERR_NOMEM;
	return verdict_judge(vs, nv, attrs, nattrs);
}

static int
verdict_cmp(const void *x, const void *y)
{
	const struct verdict *a = x, *b = y;
	int c;

	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	return (int)a->kind - (int)b->kind;
}

/* Every key pair and host group (paged), into vs. */
static int
verdicts_read(struct kb_admin *a, struct verdicts *vs)
{
	static const char *const attrs[] = {
		"objectClass", AT_CN, AT_PUBKEY, AT_ATTACH, AT_END,
		AT_NOTAFTER, AT_OPTIONS, AT_BLOCKED, AT_MEMBER, AT_SIGNATURE,
		NULL
	};
	int r;

	if ((r = dir_search_paged(a->dir, a->cfg->base, KB_SCOPE_ONE,
	    "(objectClass=" OC_KEYPAIR ")", attrs, verdict_collect, vs, NULL,
	    NULL)) != 0)
		return r;
	if ((r = dir_search_paged(a->dir, admin_group_base(a), KB_SCOPE_ONE,
	    "(objectClass=" OC_GROUP ")", attrs, verdict_collect, vs, NULL,
	    NULL)) != 0)
		return r;
	if (vs->n > 1)
		qsort(vs->v, vs->n, sizeof(*vs->v), verdict_cmp);
	return 0;
}

/* "3d4h", "12m" ... for an age (negative: in the future). */
static void
age_text(time_t age, char *buf, size_t len)
{
	if (age <= 0) {
		snprintf(buf, len, age == 0 ? "0s" : "future");
		return;
	}
	time_format_left(age, buf, len);
}

static void
verdicts_print(const struct kb_admin *a, const struct verdicts *vs)
{
	const struct verdict *v;
	char when[TIME_RFC3339_LEN], age[32];
	size_t i;

	if (a->json)
		putchar('[');
	else
		printf("%-5s  %-24s  %13s  %-20s  %-8s  %-50s  %s\n", "KIND",
		    "NAME", "SERIAL", "SIGNED_AT", "AGE", "SIGNER", "STATUS");
	for (i = 0; i < vs->n; i++) {
		v = &vs->v[i];
		if (v->signed_at == 0 ||
		    time_format_rfc3339(v->signed_at, when, sizeof(when)) != 0)
			when[0] = '\0';
		if (a->json) {
			printf("%s{\"name\":", i > 0 ? "," : "");
			json_string(stdout, v->name, strlen(v->name));
			printf(",\"kind\":\"%s\",\"signer\":",
			    v->kind == KB_RECORD_PAIR ? "pair" : "group");
			json_string_or_null(stdout, v->signer_fp);
			printf(",\"signer_name\":");
			json_string_or_null(stdout, v->signer_name);
			if (v->signed_at != 0)
				printf(",\"serial\":%llu",
				    (unsigned long long)v->serial);
			else
				printf(",\"serial\":null");
			printf(",\"signed_at\":");
			json_string_or_null(stdout, when[0] ? when : NULL);
			printf(",\"valid\":%s,\"reason\":",
			    v->valid ? "true" : "false");
			json_string_or_null(stdout, v->reason);
			putchar('}');
			continue;
		}
		age_text(vs->now - v->signed_at, age, sizeof(age));
		printf("%-5s  ", v->kind == KB_RECORD_PAIR ? "pair" : "group");
		text_safe_pad(stdout, v->name, strlen(v->name), 24);
		printf("  %13llu  %-20s  %-8s  ", (unsigned long long)v->serial,
		    when[0] ? when : "-", v->signed_at ? age : "-");
		if (v->signer_name != NULL) {
			text_safe(stdout, v->signer_name,
			    strlen(v->signer_name));
			putchar(' ');
		}
		printf("%-50s  %s\n", v->signer_fp ? v->signer_fp : "-",
		    v->valid ? "valid" : v->reason);
	}
	if (a->json)
		printf("]\n");
}

/* Trusted signers for verify: -T, else the config's; an exit status. */
static int
verify_signers(struct kb_admin *a, const char *path, struct kb_signers **sp)
{
	unsigned line = 0;
	int r;

	*sp = NULL;
	if (path == NULL)
		path = a->cfg->trusted_signers;
	if (path == NULL)
		return EXIT_OK;
	if ((r = signers_load(path, 0, sp, &line)) != 0) {
		if (line > 0)
			return admin_fail(EXIT_USAGE, "%s:%u: %s", path, line,
			    kb_strerror(r));
		return admin_fail(EXIT_USAGE, "%s: %s", path, kb_strerror(r));
	}
	return EXIT_OK;
}

int
cmd_verify(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ NULL, 0, NULL, 0 }
	};
	struct kb_signers *signers = NULL;
	struct verdicts vs;
	const char *tpath = NULL;
	size_t i;
	int ch, r, status = EXIT_FAIL;

	memset(&vs, 0, sizeof(vs));
	while ((ch = admin_getopt(a, argc, argv, "T:", longopts)) != -1) {
		if (ch != 'T')
			return EXIT_USAGE;
		tpath = optarg;
	}
	if (argc > optind) {
		vs.names = argv + optind;
		vs.nnames = argc - optind;
		if ((vs.seen = calloc((size_t)vs.nnames, 1)) == NULL)
			return admin_fail(EXIT_FAIL, "%s",
			    kb_strerror(KB_ERR_NOMEM));
	}
	if ((status = admin_connect(a, 0)) != EXIT_OK ||
	    (status = verify_signers(a, tpath, &signers)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	vs.signers = signers;
	vs.max_age = a->cfg->signature_max_age;
	vs.now = time(NULL);
	if ((r = verdicts_read(a, &vs)) != 0) {
		status = admin_fail(admin_status(r), "cannot read the "
		    "entries: %s", kb_strerror(r));
		goto out;
	}
	for (i = 0; i < (size_t)vs.nnames; i++) {
		if (!vs.seen[i]) {
			status = admin_fail(EXIT_NOTFOUND, "no key pair or "
			    "host group %s", vs.names[i]);
			goto out;
		}
	}
	verdicts_print(a, &vs);
	status = EXIT_OK;
	for (i = 0; i < vs.n; i++)
		if (!vs.v[i].valid)
			status = EXIT_FAIL;
	a->verdict = status == EXIT_FAIL;
 out:
	verdicts_free(&vs);
	free(vs.seen);
	signers_free(signers);
	return status;
}

/* The entries to re-sign: DN, name and kind of each. */
struct resign_entry {
	char *dn;
	char *name;
	const char *kind;		/* "pair" or "group" */
};

struct dn_list {
	struct resign_entry *v;
	size_t n;
	const char *kind;		/* of what dn_collect() adds */
};

static int
dn_add(struct dn_list *l, const char *dn, const char *name, size_t namelen)
{
	struct resign_entry *nv;

	if ((nv = reallocarray(l->v, l->n + 1, sizeof(*nv))) == NULL)
		return KB_ERR_NOMEM;
	l->v = nv;
	if ((nv[l->n].dn = strdup(dn)) == NULL)
		return KB_ERR_NOMEM;
	if ((nv[l->n].name = strndup(name, namelen)) == NULL) {
		free(nv[l->n].dn);
		return KB_ERR_NOMEM;
	}
	nv[l->n].kind = l->kind;
	l->n++;
	return 0;
}

/* A search callback: the entry's DN and cn (the DN when it has none). */
static int
dn_collect(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	size_t i;

	for (i = 0; i < nattrs; i++)
		if (strcasecmp(attrs[i].name, AT_CN) == 0 &&
		    attrs[i].nvals == 1)
			return dn_add(ctx, dn, attrs[i].vals[0].bytes,
			    attrs[i].vals[0].len);
	return dn_add(ctx, dn, dn, strlen(dn));
}

static void
dn_list_free(struct dn_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].dn);
		free(l->v[i].name);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* The DN and kind to re-sign for NAME (a key pair, else a group). */
static int
resign_dn(struct kb_admin *a, const char *name, char **dnp,
    const char **kindp)
{
	int r;

	*dnp = NULL;
	*kindp = "pair";
	if ((r = pair_exists(a, name)) == 1)
		r = admin_pair_dn(a, name, dnp);
	else if (r == 0 && (r = group_exists(a, name)) == 1) {
		*kindp = "group";
		r = admin_group_dn(a, name, dnp);
	} else if (r == 0)
		return admin_fail(EXIT_NOTFOUND, "no key pair or host group "
		    "%s", name);
	if (r != 0)
		return admin_fail(admin_status(r), "%s: %s", name,
		    kb_strerror(r));
	return EXIT_OK;
}

/* Re-sign every entry of l; an exit status. */
static int
resign_all(struct kb_admin *a, const struct dn_list *l)
{
	const struct resign_entry *e;
	unsigned long long serial;
	size_t i;
	int first = 1, status = EXIT_OK;

	if (a->json)
		putchar('[');
	for (i = 0; i < l->n; i++) {
		e = &l->v[i];
		if (admin_sign_entry(a, e->dn, &serial) != 0) {
			status = EXIT_FAIL;
			continue;
		}
		if (serial == 0)
			continue;	/* deleted meanwhile */
		if (a->json) {
			printf("%s{\"name\":", first ? "" : ",");
			json_string(stdout, e->name, strlen(e->name));
			printf(",\"kind\":\"%s\",\"serial\":%llu}", e->kind,
			    serial);
		} else {
			printf("signed %s ", e->kind);
			text_safe(stdout, e->name, strlen(e->name));
			printf(" (serial %llu)\n", serial);
		}
		first = 0;
	}
	if (a->json)
		printf("]\n");
	admin_audit(a, "resign", "-", NULL, 0, status == EXIT_OK ? "ok" :
	    "partial");
	return status;
}

int
cmd_resign(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "all", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const attrs[] = { AT_CN, NULL };
	struct dn_list l = { NULL, 0, "pair" };
	const char *kind;
	char *dn;
	int ch, i, r, all = 0, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		if (ch != 'A')
			return EXIT_USAGE;
		all = 1;
	}
	if (all == (argc > optind))
		return admin_usage(argv[0], "give NAME... or --all");
	if ((status = admin_load_config(a)) != EXIT_OK)
		return status;
	if (a->signing_key == NULL && a->cfg->signing_key == NULL)
		return admin_fail(EXIT_USAGE, "resign needs a signing key: "
		    "-S FILE|agent:SHA256:... or signing_key in the config");
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	if (all) {
		if ((r = dir_search_paged(a->dir, a->cfg->base, KB_SCOPE_ONE,
		    "(objectClass=" OC_KEYPAIR ")", attrs, dn_collect, &l,
		    NULL, NULL)) != 0 ||
		    (l.kind = "group",
		    r = dir_search_paged(a->dir, admin_group_base(a),
		    KB_SCOPE_ONE, "(objectClass=" OC_GROUP ")", attrs,
		    dn_collect, &l, NULL, NULL)) != 0) {
			status = admin_fail(admin_status(r), "cannot read the "
			    "entries: %s", kb_strerror(r));
			goto out;
		}
	} else {
		for (i = optind; i < argc; i++) {
			if ((status = resign_dn(a, argv[i], &dn, &kind)) !=
			    EXIT_OK)
				goto out;
			l.kind = kind;
			if (dn_add(&l, dn, argv[i], strlen(argv[i])) != 0) {
				free(dn);
				status = admin_fail(EXIT_FAIL, "%s",
				    kb_strerror(KB_ERR_NOMEM));
				goto out;
			}
			free(dn);
		}
	}
	status = resign_all(a, &l);
 out:
	dn_list_free(&l);
	return status;
}
