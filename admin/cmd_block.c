/*
 * cmd_block.c - the compromised-key blocklist: `keybound block`,
 * `unblock` and `blocked` (also as an OpenSSH KRL for sshd's RevokedKeys).
 *
 * The blocklist is one entry per key, keyboundFingerprint=SHA256:...,
 * <base>, plus the flag keyboundBlocked: TRUE on every key pair holding
 * that key, which hosts read with the pair (no extra search per login).
 * Orders that keep a race from leaving a usable key:
 *   - block writes the entry first, then flags the pairs it finds by the
 *     indexed fingerprint; create and import add their pair, then look
 *     for an entry and take the pair back if there is one.  Either the
 *     import sees the entry, or the block's search sees the pair.
 *   - unblock deletes the entry, then clears the flags, then looks for
 *     the entry again: a block that raced it flags the pairs again.
 *   - attach asserts that the pair is not flagged, in the same modify.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "fdio.h"
#include "lookup.h"
#include "filter.h"
#include "names.h"
#include "sshkey.h"
#include "admin.h"

#define BLOCKED_FILTER	"(objectClass=" OC_BLOCKED ")"
#define FP_LEN		50	/* "SHA256:" + 43 */
#define KRL_MAGIC	"SSHKRL\n\0"
#define KRL_FORMAT_VERSION		1
#define KRL_SECTION_FINGERPRINT_SHA256	5
#define KRL_COMMENT	"keybound blocklist"

/* One blocklist entry as read (untrusted). */
struct blocked {
	char *fp;		/* NUL-free, else NULL */
	char *pubkey;
	char *reason;
	size_t reasonlen;
	char *created;
	size_t createdlen;
};

struct blocked_list {
	struct blocked *v;
	size_t n;
};

static void
blocked_list_free(struct blocked_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].fp);
		free(l->v[i].pubkey);
		free(l->v[i].reason);
		free(l->v[i].created);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* A fingerprint argument: an exit status (EXIT_USAGE reported). */
static int
check_fp_arg(const char *cmd, const char *fp)
{
	if (fingerprint_decode(fp, NULL) == 0)
		return EXIT_OK;
	return admin_usage(cmd, "not a SHA256 fingerprint as ssh-keygen -l "
	    "prints it (SHA256: and 43 base64 characters)");
}

/* The filter for key pairs storing fingerprint fp. */
static int
fp_filter(const char *fp, char **filterp)
{
	char *esc = NULL;
	int r;

	*filterp = NULL;
	if ((r = filter_escape(fp, strlen(fp), &esc)) != 0)
		return r;
	if (asprintf(filterp, "(&(objectClass=" OC_KEYPAIR ")(" AT_FP "=%s))",
	    esc) < 0) {
		*filterp = NULL;
		r = KB_ERR_NOMEM;
	}
	free(esc);
	return r;
}

/* 1 if p holds the key with fingerprint fp (stored or computed). */
static int
pair_holds_fp(const struct kb_pair *p, const char *fp)
{
	char *mine = NULL;
	int hit;

	if (p->stored_fp.s != NULL && strcmp(p->stored_fp.s, fp) == 0)
		return 1;
	if (p->key == NULL || key_fingerprint_sha256(p->key, &mine) != 0)
		return 0;
	hit = strcmp(mine, fp) == 0;
	free(mine);
	return hit;
}

/*
 * Set (or clear) keyboundBlocked on every key pair holding fp; names of
 * the pairs changed go to *namesp (NULL-terminated, caller frees each).
 * extra (may be NULL) is one more pair to flag: the named one, whatever
 * its stored fingerprint says.
 */
static int
flag_pairs(struct kb_admin *a, const char *fp, int set,
    const struct kb_pair *extra, char ***namesp, size_t *np)
{
	static const char *const truev[] = { "TRUE", NULL };
	struct kb_pair **pairs = NULL;
	struct kb_mod mod;
	char *filter = NULL, **names = NULL;
	const char *dn;
	size_t i, n = 0, k = 0;
	int r;

	*namesp = NULL;
	*np = 0;
	if ((r = fp_filter(fp, &filter)) != 0 ||
	    (r = pair_search(a, filter, &pairs, &n)) != 0)
		goto out;
	if ((names = calloc(n + 2, sizeof(*names))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i <= n; i++) {
		if (i < n && (!pair_holds_fp(pairs[i], fp) ||
		    (extra != NULL && strcmp(pairs[i]->dn.s, extra->dn.s) == 0)))
			continue;
		if (i == n && extra == NULL)
			break;
		dn = i < n ? pairs[i]->dn.s : extra->dn.s;
		mod.op = set ? KB_MOD_REPLACE : KB_MOD_DELETE;
		mod.attr = AT_BLOCKED;
		mod.vals = set ? truev : NULL;
		r = admin_modify(a, dn, &mod, 1, NULL, 0);
		if (r == KB_ERR_DIR_NO_SUCH_OBJECT ||
		    (!set && r == KB_ERR_DIR_NO_SUCH_VALUE))
			continue;	/* gone, or not flagged: as good */
		if (r != 0)
			goto out;
		if ((names[k] = strdup(i < n ? pairs[i]->name.s :
		    extra->name.s)) == NULL) {
			r = KB_ERR_NOMEM;
			goto out;
		}
		k++;
	}
	*namesp = names;
	*np = k;
	names = NULL;
	r = 0;
 out:
	for (i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
	pair_free_all(pairs, n);
	free(filter);
	return r;
}

static void
names_free(char **names)
{
	size_t i;

	for (i = 0; names != NULL && names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

static void
print_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		fputs(i > 0 ? ", " : "", stdout);
		text_safe(stdout, names[i], strlen(names[i]));
	}
	if (n == 0)
		fputs("none", stdout);
}

static void
json_names(char **names, size_t n)
{
	size_t i;

	putchar('[');
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		json_string(stdout, names[i], strlen(names[i]));
	}
	putchar(']');
}

/* The fingerprint and public key of key pair name; an exit status. */
static int
block_target_pair(struct kb_admin *a, const char *name, struct kb_pair **pp,
    char **fpp, char **pubp)
{
	int r;

	if ((r = pair_read(a, name, pp)) != 0) {
		if (r == KB_ERR_DIR_NO_SUCH_OBJECT) {
			admin_err("no key pair %s", name);
			return EXIT_NOTFOUND;
		}
		admin_err("cannot read key pair %s: %s", name, kb_strerror(r));
		return EXIT_FAIL;
	}
	if ((*pp)->key != NULL) {
		if (key_fingerprint_sha256((*pp)->key, fpp) != 0 ||
		    key_public_text((*pp)->key, pubp) != 0) {
			admin_err("%s", kb_strerror(KB_ERR_NOMEM));
			return EXIT_FAIL;
		}
		return EXIT_OK;
	}
	if ((*pp)->stored_fp.s != NULL &&
	    fingerprint_decode((*pp)->stored_fp.s, NULL) == 0) {
		if ((*fpp = strdup((*pp)->stored_fp.s)) == NULL)
			return EXIT_FAIL;
		return EXIT_OK;
	}
	admin_err("key pair %s holds neither a usable key nor a fingerprint; "
	    "block the fingerprint itself", name);
	return EXIT_FAIL;
}

int
cmd_block(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "reason", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char *oc[] = { OC_BLOCKED, NULL };
	const char *fpv[] = { NULL, NULL }, *pkv[] = { NULL, NULL };
	const char *rv[] = { NULL, NULL };
	struct kb_mod mods[4];
	struct kb_pair *p = NULL;
	char *fp = NULL, *pub = NULL, *dn = NULL, **names = NULL;
	const char *arg, *reason = NULL;
	size_t nmods = 2, n = 0;
	int ch, r, already = 0, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		if (ch != 'r')
			return EXIT_USAGE;
		reason = optarg;
	}
	if (argc - optind != 1)
		return admin_usage(argv[0], "expected one FINGERPRINT or NAME");
	arg = argv[optind];
	if (reason != NULL && (status = admin_text_valid("--reason",
	    reason)) != EXIT_OK)
		return status;
	if (strncmp(arg, "SHA256:", 7) == 0) {
		if ((status = check_fp_arg(argv[0], arg)) != EXIT_OK)
			return status;
	} else if (name_keypair_valid(arg) != 0)
		return admin_usage(argv[0], "neither a SHA256 fingerprint nor "
		    "a key pair name");
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	status = EXIT_FAIL;
	if (strncmp(arg, "SHA256:", 7) == 0) {
		if ((fp = strdup(arg)) == NULL)
			goto out;
	} else if ((status = block_target_pair(a, arg, &p, &fp, &pub)) !=
	    EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	fpv[0] = fp;
	mods[0].op = KB_MOD_ADD;
	mods[0].attr = "objectClass";
	mods[0].vals = oc;
	mods[1].op = KB_MOD_ADD;
	mods[1].attr = AT_FP;
	mods[1].vals = fpv;
	if (pub != NULL) {
		pkv[0] = pub;
		mods[nmods].op = KB_MOD_ADD;
		mods[nmods].attr = AT_PUBKEY;
		mods[nmods++].vals = pkv;
	}
	if (reason != NULL && reason[0] != '\0') {
		rv[0] = reason;
		mods[nmods].op = KB_MOD_ADD;
		mods[nmods].attr = AT_DESC;
		mods[nmods++].vals = rv;
	}
	/* the entry first: an import from now on sees it */
	if ((r = blocklist_dn(a, fp, &dn)) != 0)
		goto out;
	if ((r = dir_add(a->dir, dn, mods, nmods)) != 0) {
		if (r != KB_ERR_DIR_ALREADY_EXISTS) {
			admin_err("cannot block %s: %s%s%s", fp,
			    kb_strerror(r), dir_last_error(a->dir)[0] ? ": " :
			    "", dir_last_error(a->dir));
			admin_audit(a, "block", fp, NULL, 0, kb_strerror(r));
			goto out;
		}
		already = 1;
	}
	/* then the flag on every pair holding it (again when re-run) */
	if ((r = flag_pairs(a, fp, 1, p, &names, &n)) != 0) {
		admin_err("%s is on the blocklist, but flagging its key pairs "
		    "failed: %s; run block again", fp, kb_strerror(r));
		admin_audit(a, "block", fp, NULL, 0, kb_strerror(r));
		goto out;
	}
	admin_audit(a, "block", fp, NULL, 0, "ok");
	if (a->json) {
		printf("{\"fingerprint\":");
		json_string(stdout, fp, strlen(fp));
		printf(",\"reason\":");
		json_string_or_null(stdout, reason != NULL &&
		    reason[0] != '\0' ? reason : NULL);
		printf(",\"already_blocked\":%s,\"pairs\":",
		    already ? "true" : "false");
		json_names(names, n);
		printf("}\n");
	} else {
		printf("%s %s; key pairs flagged: ", already ?
		    "already blocked" : "blocked", fp);
		print_names(names, n);
		putchar('\n');
	}
	status = EXIT_OK;
 out:
	names_free(names);
	pair_free(p);
	free(fp);
	free(pub);
	free(dn);
	return status;
}

int
cmd_unblock(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ NULL, 0, NULL, 0 }
	};
	char *dn = NULL, **names = NULL, **again = NULL;
	const char *fp;
	size_t n = 0, nagain = 0;
	int ch, r, rdel, status;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return admin_usage(argv[0], "expected one FINGERPRINT");
	fp = argv[optind];
	if ((status = check_fp_arg(argv[0], fp)) != EXIT_OK)
		return status;
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	status = EXIT_FAIL;
	if ((r = blocklist_dn(a, fp, &dn)) != 0)
		goto out;
	rdel = dir_delete(a->dir, dn, BLOCKED_FILTER);
	/* no assertion control (389-ds, AD): the DN names blocklist entries */
	if (rdel == KB_ERR_DIR_NO_CONTROL)
		rdel = dir_delete(a->dir, dn, NULL);
	if (rdel == KB_ERR_DIR_ASSERTION)
		rdel = KB_ERR_DIR_NO_SUCH_OBJECT;
	if (rdel != 0 && rdel != KB_ERR_DIR_NO_SUCH_OBJECT) {
		admin_err("cannot unblock %s: %s", fp, kb_strerror(rdel));
		admin_audit(a, "unblock", fp, NULL, 0, kb_strerror(rdel));
		goto out;
	}
	/* the entry is gone: now the flags (stale ones too) */
	if ((r = flag_pairs(a, fp, 0, NULL, &names, &n)) != 0) {
		admin_err("%s is off the blocklist, but clearing the flags "
		    "failed: %s; run unblock again", fp, kb_strerror(r));
		goto out;
	}
	/* blocked again meanwhile: its flags must stand */
	if ((r = blocklist_has(a, fp)) != 0) {
		if (r == 1)
			r = flag_pairs(a, fp, 1, NULL, &again, &nagain);
		admin_err("%s was blocked again meanwhile%s", fp, r == 0 ?
		    "; it stays blocked" : ": run block again");
		admin_audit(a, "unblock", fp, NULL, 0, "blocked meanwhile");
		status = EXIT_EXISTS;
		goto out;
	}
	admin_audit(a, "unblock", fp, NULL, 0, rdel == 0 ? "ok" :
	    "not blocked");
	if (rdel != 0) {
		admin_err("%s is not on the blocklist%s", fp, n > 0 ?
		    " (stale flags cleared)" : "");
		status = EXIT_NOTFOUND;
		goto out;
	}
	if (a->json) {
		printf("{\"fingerprint\":");
		json_string(stdout, fp, strlen(fp));
		printf(",\"unblocked\":true,\"pairs\":");
		json_names(names, n);
		printf("}\n");
	} else {
		printf("unblocked %s; key pairs cleared: ", fp);
		print_names(names, n);
		putchar('\n');
	}
	status = EXIT_OK;
 out:
	names_free(names);
	names_free(again);
	free(dn);
	return status;
}

/* Keep one blocklist entry from a search. */
static int
blocked_collect(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct blocked_list *l = ctx;
	struct blocked *b, *nv;
	const struct kb_val *v;
	size_t i;

	(void)dn;
	if ((nv = reallocarray(l->v, l->n + 1, sizeof(*nv))) == NULL)
		return KB_ERR_NOMEM;
	l->v = nv;
	b = &l->v[l->n++];
	memset(b, 0, sizeof(*b));
	for (i = 0; i < nattrs; i++) {
		if (attrs[i].nvals == 0)
			continue;
		v = &attrs[i].vals[0];
		if (strcasecmp(attrs[i].name, AT_FP) == 0 &&
		    strlen(v->bytes) == v->len) {
			if ((b->fp = strdup(v->bytes)) == NULL)
				return KB_ERR_NOMEM;
		} else if (strcasecmp(attrs[i].name, AT_PUBKEY) == 0 &&
		    strlen(v->bytes) == v->len) {
			if ((b->pubkey = strdup(v->bytes)) == NULL)
				return KB_ERR_NOMEM;
		} else if (strcasecmp(attrs[i].name, AT_DESC) == 0) {
			if ((b->reason = malloc(v->len + 1)) == NULL)
				return KB_ERR_NOMEM;
			memcpy(b->reason, v->bytes, v->len + 1);
			b->reasonlen = v->len;
		} else if (strcasecmp(attrs[i].name, AT_CREATED) == 0) {
			if ((b->created = malloc(v->len + 1)) == NULL)
				return KB_ERR_NOMEM;
			memcpy(b->created, v->bytes, v->len + 1);
			b->createdlen = v->len;
		}
	}
	return 0;
}

static int
blocked_cmp(const void *x, const void *y)
{
	const struct blocked *a = x, *b = y;

	if (a->fp == NULL || b->fp == NULL)
		return (a->fp == NULL) - (b->fp == NULL);
	return strcmp(a->fp, b->fp);
}

static int
blocked_read(struct kb_admin *a, struct blocked_list *l)
{
	static const char *const attrs[] = {
		AT_FP, AT_PUBKEY, AT_DESC, AT_CREATED, NULL
	};
	int r;

	memset(l, 0, sizeof(*l));
	if ((r = dir_search(a->dir, a->cfg->base, KB_SCOPE_ONE,
	    BLOCKED_FILTER, attrs, 0, blocked_collect, l, NULL)) != 0)
		return r;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), blocked_cmp);
	return 0;
}

/* Big-endian fields of the SSH wire format into a growing buffer. */
struct wbuf {
	unsigned char *p;
	size_t len;
	size_t cap;
	int err;
};

static void
wb_put(struct wbuf *b, const void *data, size_t len)
{
	unsigned char *np;
	size_t ncap;

	if (b->err)
		return;
	if (b->len + len > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + len)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->err = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void
wb_u32(struct wbuf *b, uint32_t v)
{
	unsigned char x[4] = { v >> 24, v >> 16, v >> 8, v };

	wb_put(b, x, 4);
}

static void
wb_u64(struct wbuf *b, uint64_t v)
{
	wb_u32(b, (uint32_t)(v >> 32));
	wb_u32(b, (uint32_t)v);
}

static void
wb_string(struct wbuf *b, const void *data, size_t len)
{
	wb_u32(b, (uint32_t)len);
	wb_put(b, data, len);
}

static int
hash_cmp(const void *x, const void *y)
{
	return memcmp(x, y, 32);
}

/*
 * The blocklist as an OpenSSH KRL (PROTOCOL.krl): the header, then one
 * KRL_SECTION_FINGERPRINT_SHA256 holding every SHA256 key hash in
 * ascending order, without repeats (none at all when the list is empty:
 * a section must hold at least one).
 */
static int
krl_build(const struct blocked_list *l, time_t now, struct wbuf *out)
{
	struct wbuf sec = { NULL, 0, 0, 0 };
	unsigned char *hashes = NULL;
	size_t i, n = 0;
	int r = KB_ERR_NOMEM;

	if ((hashes = calloc(l->n + 1, 32)) == NULL)
		goto out;
	for (i = 0; i < l->n; i++) {
		if (l->v[i].fp == NULL ||
		    fingerprint_decode(l->v[i].fp, hashes + n * 32) != 0) {
			fflush(stdout);
			fputs("keybound: warning: blocklist entry with an "
			    "unreadable fingerprint left out: ", stderr);
			text_safe(stderr, l->v[i].fp ? l->v[i].fp : "?",
			    l->v[i].fp ? strlen(l->v[i].fp) : 1);
			fputc('\n', stderr);
			continue;
		}
		n++;
	}
	if (n > 1)
		qsort(hashes, n, 32, hash_cmp);
	wb_put(out, KRL_MAGIC, 8);
	wb_u32(out, KRL_FORMAT_VERSION);
	wb_u64(out, (uint64_t)now);		/* krl_version */
	wb_u64(out, (uint64_t)now);		/* generated_date */
	wb_u64(out, 0);				/* flags */
	wb_string(out, "", 0);			/* reserved */
	wb_string(out, KRL_COMMENT, strlen(KRL_COMMENT));
	for (i = 0; i < n; i++)
		if (i == 0 || memcmp(hashes + i * 32, hashes + (i - 1) * 32,
		    32) != 0)
			wb_string(&sec, hashes + i * 32, 32);
	if (sec.len > 0) {
		wb_put(out, "\x05", 1);	/* KRL_SECTION_FINGERPRINT_SHA256 */
		wb_string(out, sec.p, sec.len);
	}
	r = out->err || sec.err ? KB_ERR_NOMEM : 0;
 out:
	free(sec.p);
	free(hashes);
	return r;
}

/* Replace path with data (0644: sshd reads it), atomically; exit status. */
static int
write_file_atomic(const char *path, const unsigned char *data, size_t len)
{
	char *copy = NULL, *tmp = NULL;
	int fd = -1, status = EXIT_FAIL;

	if ((copy = strdup(path)) == NULL ||
	    asprintf(&tmp, "%s/.keybound-krl.XXXXXX", dirname(copy)) < 0) {
		tmp = NULL;
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		admin_err("%s: %s", path, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0644) != 0 || fd_write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		admin_err("%s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		admin_err("%s: %s", path, strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	status = EXIT_OK;
 out:
	if (fd != -1)
		close(fd);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(copy);
	return status;
}

/* blocked --revoked-keys [-o FILE] */
static int
blocked_krl(struct kb_admin *a, const struct blocked_list *l,
    const char *file)
{
	struct wbuf out = { NULL, 0, 0, 0 };
	int status = EXIT_FAIL;

	if (krl_build(l, time(NULL), &out) != 0) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	if (file != NULL)
		status = write_file_atomic(file, out.p, out.len);
	else {
		fflush(stdout);
		if (fd_write_all(STDOUT_FILENO, out.p, out.len) != 0)
			admin_err("cannot write output: %s", strerror(errno));
		else
			status = EXIT_OK;
	}
 out:
	free(out.p);
	return status;
}

/* The names of the key pairs holding fp, into *namesp. */
static int
holders(struct kb_admin *a, const char *fp, char ***namesp, size_t *np)
{
	struct kb_pair **pairs = NULL;
	char *filter = NULL, **names = NULL;
	size_t i, n = 0, k = 0;
	int r;

	*namesp = NULL;
	*np = 0;
	if ((r = fp_filter(fp, &filter)) != 0 ||
	    (r = pair_search(a, filter, &pairs, &n)) != 0)
		goto out;
	if ((names = calloc(n + 1, sizeof(*names))) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!pair_holds_fp(pairs[i], fp))
			continue;
		if ((names[k] = strndup(pairs[i]->name.s,
		    pairs[i]->name.len)) == NULL) {
			r = KB_ERR_NOMEM;
			goto out;
		}
		k++;
	}
	*namesp = names;
	*np = k;
	names = NULL;
 out:
	names_free(names);
	pair_free_all(pairs, n);
	free(filter);
	return r;
}

/* createTimestamp as RFC 3339, or "-". */
static const char *
blocked_when(const struct blocked *b, char *buf, size_t len)
{
	time_t t;

	if (b->created != NULL &&
	    lookup_parse_gentime(b->created, b->createdlen, &t) == 0 &&
	    time_format_rfc3339(t, buf, len) == 0)
		return buf;
	return NULL;
}

int
cmd_blocked(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "revoked-keys", no_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	struct blocked_list l = { NULL, 0 };
	char when[TIME_RFC3339_LEN], **names = NULL;
	const char *file = NULL, *w;
	size_t i, n = 0;
	int ch, r, krl = 0, status;

	while ((ch = admin_getopt(a, argc, argv, "o:", longopts)) != -1) {
		switch (ch) {
		case 'K':
			krl = 1;
			break;
		case 'o':
			file = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc != optind)
		return admin_usage(argv[0], "unexpected argument");
	if (file != NULL && (!krl || file[0] == '\0'))
		return admin_usage(argv[0], "-o FILE goes with --revoked-keys");
	if (krl && a->json)
		return admin_usage(argv[0], "--revoked-keys writes a binary "
		    "KRL, not JSON");
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	status = EXIT_FAIL;
	if ((r = blocked_read(a, &l)) != 0) {
		admin_err("cannot read the blocklist: %s", kb_strerror(r));
		goto out;
	}
	if (krl) {
		status = blocked_krl(a, &l, file);
		goto out;
	}
	if (a->json)
		putchar('[');
	else
		printf("%-*s  %-20s  %s\n", FP_LEN, "FINGERPRINT", "BLOCKED",
		    "KEY PAIRS / REASON");
	for (i = 0; i < l.n; i++) {
		names_free(names);
		names = NULL;
		n = 0;
		if (l.v[i].fp != NULL &&
		    (r = holders(a, l.v[i].fp, &names, &n)) != 0) {
			admin_err("cannot search key pairs: %s",
			    kb_strerror(r));
			goto out;
		}
		w = blocked_when(&l.v[i], when, sizeof(when));
		if (a->json) {
			printf("%s{\"fingerprint\":", i > 0 ? "," : "");
			json_string_or_null(stdout, l.v[i].fp);
			printf(",\"reason\":");
			if (l.v[i].reason != NULL)
				json_string(stdout, l.v[i].reason,
				    l.v[i].reasonlen);
			else
				printf("null");
			printf(",\"public_key\":");
			json_string_or_null(stdout, l.v[i].pubkey);
			printf(",\"pairs\":");
			json_names(names, n);
			printf(",\"blocked_at\":");
			json_string_or_null(stdout, w);
			putchar('}');
			continue;
		}
		text_safe_pad(stdout, l.v[i].fp ? l.v[i].fp : "?",
		    l.v[i].fp ? strlen(l.v[i].fp) : 1, FP_LEN);
		printf("  %-20s  ", w != NULL ? w : "-");
		print_names(names, n);
		if (l.v[i].reason != NULL) {
			fputs(" / ", stdout);
			text_safe(stdout, l.v[i].reason, l.v[i].reasonlen);
		}
		putchar('\n');
	}
	if (a->json)
		printf("]\n");
	status = EXIT_OK;
 out:
	names_free(names);
	blocked_list_free(&l);
	return status;
}
