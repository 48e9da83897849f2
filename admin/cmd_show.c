/*
 * cmd_show.c - the read-only commands: list, show and check.
 *
 * list and show print directory data, which is untrusted: a key that does
 * not parse is still listed (type null, a warning on stderr), strings are
 * JSON-escaped or made terminal-safe.  check asks the same lookup code
 * keybound-keys runs, so its answer is keybound-keys' answer.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb.h"
#include "clock.h"
#include "config.h"
#include "directory.h"
#include "filter.h"
#include "lookup.h"
#include "names.h"
#include "sshkey.h"
#include "admin.h"

/* What is shown for one key pair, derived from its parsed fields. */
struct view {
	char *fp;		/* SHA256, NULL if the key is unusable */
	char *fp_md5;
	char *pubtext;		/* canonical "TYPE BASE64" */
	int has_not_after;
	char not_after[TIME_RFC3339_LEN];
	int has_created;
	char created[TIME_RFC3339_LEN];
};

static void
view_clear(struct view *v)
{
	free(v->fp);
	free(v->fp_md5);
	free(v->pubtext);
	memset(v, 0, sizeof(*v));
}

static void
warn_pair(const struct kb_pair *p, const char *what)
{
	fflush(stdout);
	fputs("keybound: warning: key pair ", stderr);
	text_safe(stderr, p->name.s, p->name.len);
	fprintf(stderr, ": %s\n", what);
}

/* Derive the view; problems in the entry become warnings. */
static int
view_make(const struct kb_pair *p, struct view *v)
{
	time_t t;
	int r;

	memset(v, 0, sizeof(*v));
	if (p->key == NULL) {
		fflush(stdout);
		fputs("keybound: warning: key pair ", stderr);
		text_safe(stderr, p->name.s, p->name.len);
		fprintf(stderr, ": stored public key unusable: %s\n",
		    kb_strerror(p->key_err));
	} else {
		if ((r = key_fingerprint_sha256(p->key, &v->fp)) != 0 ||
		    (r = key_fingerprint_md5(p->key, &v->fp_md5)) != 0 ||
		    (r = key_public_text(p->key, &v->pubtext)) != 0)
			return r;
		if (p->stored_fp.s == NULL ||
		    strcmp(p->stored_fp.s, v->fp) != 0)
			warn_pair(p, "stored fingerprint does not match the "
			    "key");
	}
	if (p->not_after.s != NULL) {
		if (lookup_parse_gentime(p->not_after.s, p->not_after.len,
		    &t) == 0 && time_format_rfc3339(t, v->not_after,
		    sizeof(v->not_after)) == 0)
			v->has_not_after = 1;
		else
			warn_pair(p, "unreadable " AT_NOTAFTER);
	}
	if (p->created.s != NULL &&
	    lookup_parse_gentime(p->created.s, p->created.len, &t) == 0 &&
	    time_format_rfc3339(t, v->created, sizeof(v->created)) == 0)
		v->has_created = 1;
	if (name_keypair_valid(p->name.s) != 0 ||
	    strlen(p->name.s) != p->name.len)
		warn_pair(p, "name breaks the key pair naming rules");
	return 0;
}

static void
json_text_or_null(const struct kb_text *t)
{
	if (t->s == NULL)
		fputs("null", stdout);
	else
		json_string(stdout, t->s, t->len);
}

/*
 * Each attachment with its end: [{"target","until","expired"}], until
 * null when permanent (the earliest End value counts, as on the hosts).
 */
static void
json_attachment_details(const struct kb_pair *p)
{
	char when[TIME_RFC3339_LEN];
	time_t end, now = time(NULL);
	size_t i;
	int timed;

	putchar('[');
	for (i = 0; i < p->nattach; i++) {
		timed = pair_attachment_end(p, p->attach[i].s,
		    p->attach[i].len, &end, NULL);
		printf("%s{\"target\":", i > 0 ? "," : "");
		json_string(stdout, p->attach[i].s, p->attach[i].len);
		printf(",\"until\":");
		json_string_or_null(stdout, timed && time_format_rfc3339(end,
		    when, sizeof(when)) == 0 ? when : NULL);
		printf(",\"expired\":%s}", timed && end <= now ? "true" :
		    "false");
	}
	putchar(']');
}

/* The attachments detached with a tombstone: [{"target","ended"}]. */
static void
json_detached(const struct kb_pair *p)
{
	char when[TIME_RFC3339_LEN];
	time_t end;
	size_t i;

	putchar('[');
	for (i = 0; i < p->ndetached; i++) {
		printf("%s{\"target\":", i > 0 ? "," : "");
		json_string(stdout, p->detached[i].s, p->detached[i].len);
		printf(",\"ended\":");
		json_string_or_null(stdout, pair_attachment_end(p,
		    p->detached[i].s, p->detached[i].len, &end, NULL) &&
		    time_format_rfc3339(end, when, sizeof(when)) == 0 ? when :
		    NULL);
		putchar('}');
	}
	putchar(']');
}

/*
 * The one key pair object of every command's JSON output (keybound(1)
 * lists its fields); keyfile adds "private_key_file" (create).
 */
static void
json_pair(const struct kb_pair *p, const struct view *v, const char *keyfile)
{
	size_t i;

	printf("{\"name\":");
	json_string(stdout, p->name.s, p->name.len);
	printf(",\"type\":");
	json_string_or_null(stdout, p->key ? key_type_name(p->key) : NULL);
	if (p->key != NULL)
		printf(",\"bits\":%u", key_bits(p->key));
	else
		printf(",\"bits\":null");
	printf(",\"fingerprint_sha256\":");
	json_string_or_null(stdout, v->fp);
	printf(",\"fingerprint_md5\":");
	json_string_or_null(stdout, v->fp_md5);
	printf(",\"attachments\":[");
	for (i = 0; i < p->nattach; i++) {
		if (i > 0)
			putchar(',');
		json_string(stdout, p->attach[i].s, p->attach[i].len);
	}
	printf("],\"attachment_details\":");
	json_attachment_details(p);
	printf(",\"detached\":");
	json_detached(p);
	printf(",\"blocked\":%s", p->blocked ? "true" : "false");
	printf(",\"not_after\":");
	json_string_or_null(stdout, v->has_not_after ? v->not_after : NULL);
	printf(",\"options\":");
	json_text_or_null(&p->options);
	printf(",\"description\":");
	json_text_or_null(&p->description);
	printf(",\"created_at\":");
	json_string_or_null(stdout, v->has_created ? v->created : NULL);
	printf(",\"status\":");
	json_string_or_null(stdout, pair_status(p, time(NULL)));
	printf(",\"public_key\":");
	json_string_or_null(stdout, v->pubtext);
	if (keyfile != NULL) {
		printf(",\"private_key_file\":");
		json_string_or_null(stdout, keyfile);
	}
	putchar('}');
}

/*
 * " (ends T, 3h59m left)" or " (ended T)" after a time-boxed attachment
 * into buf (empty when permanent).
 */
static void
attachment_end_text(const struct kb_pair *p, size_t i, time_t now,
    char *buf, size_t len)
{
	char when[TIME_RFC3339_LEN], left[32];
	time_t end;

	buf[0] = '\0';
	if (!pair_attachment_end(p, p->attach[i].s, p->attach[i].len, &end,
	    NULL))
		return;
	if (time_format_rfc3339(end, when, sizeof(when)) != 0)
		snprintf(when, sizeof(when), "?");
	if (end > now) {
		time_format_left(end - now, left, sizeof(left));
		snprintf(buf, len, " (ends %s, %s left)", when, left);
	} else
		snprintf(buf, len, " (ended %s)", when);
}

int
pair_print_json(const struct kb_pair *p, const char *keyfile)
{
	struct view v;
	int r;

	if ((r = view_make(p, &v)) != 0)
		return r;
	json_pair(p, &v, keyfile);
	putchar('\n');
	view_clear(&v);
	return 0;
}

/* The attachments joined with ", " for the table, with their ends. */
static void
text_attachments(FILE *f, const struct kb_pair *p, size_t *widthp)
{
	char endtext[96];
	time_t now = time(NULL);
	size_t i, w = 0;

	for (i = 0; i < p->nattach; i++) {
		if (i > 0) {
			if (f != NULL)
				fputs(", ", f);
			w += 2;
		}
		if (f != NULL)
			text_safe(f, p->attach[i].s, p->attach[i].len);
		w += text_safe_width(p->attach[i].s, p->attach[i].len);
		attachment_end_text(p, i, now, endtext, sizeof(endtext));
		if (f != NULL)
			fputs(endtext, f);
		w += strlen(endtext);
	}
	if (p->nattach == 0) {
		if (f != NULL)
			fputs("-", f);
		w = 1;
	}
	if (widthp != NULL)
		*widthp = w;
}

/*
 * The list table: NAME TYPE BITS FINGERPRINT STATUS ATTACHED (a count);
 * wide adds TARGETS, the attachments themselves.
 */
static void
table_list(struct kb_pair **pairs, const struct view *views, size_t n,
    int wide)
{
	size_t i, w, wname = 4, wtype = 4, wfp = 11;
	time_t now = time(NULL);
	char bits[16];

	for (i = 0; i < n; i++) {
		w = text_safe_width(pairs[i]->name.s, pairs[i]->name.len);
		wname = w > wname ? w : wname;
		if (pairs[i]->key != NULL &&
		    strlen(key_type_label(pairs[i]->key)) > wtype)
			wtype = strlen(key_type_label(pairs[i]->key));
		if (views[i].fp != NULL && strlen(views[i].fp) > wfp)
			wfp = strlen(views[i].fp);
	}
	printf("%-*s  %-*s  %5s  %-*s  %-10s  %8s%s\n", (int)wname, "NAME",
	    (int)wtype, "TYPE", "BITS", (int)wfp, "FINGERPRINT", "STATUS",
	    "ATTACHED", wide ? "  TARGETS" : "");
	for (i = 0; i < n; i++) {
		text_safe_pad(stdout, pairs[i]->name.s, pairs[i]->name.len,
		    wname);
		if (pairs[i]->key != NULL)
			snprintf(bits, sizeof(bits), "%u",
			    key_bits(pairs[i]->key));
		else
			snprintf(bits, sizeof(bits), "-");
		printf("  %-*s  %5s  %-*s  %-10s  %8zu", (int)wtype,
		    pairs[i]->key ? key_type_label(pairs[i]->key) : "?", bits,
		    (int)wfp, views[i].fp ? views[i].fp : "-",
		    pair_status(pairs[i], now), pairs[i]->nattach);
		if (wide) {
			fputs("  ", stdout);
			text_attachments(stdout, pairs[i], NULL);
		}
		putchar('\n');
	}
}

/* What list keeps; NULL / 0 members do not filter. */
struct list_filter {
	const char *target;		/* --attached-to USER@INSTANCE */
	const char *instance;		/* --instance */
	const char *user;		/* --user */
	const char *fingerprint;	/* --fingerprint */
	const char *glob;		/* --name */
	int expired;			/* --expired */
	long long expiring;		/* --expiring: seconds, 0 = off */
	int unattached;			/* --unattached */
};

/* 1 if p has an attachment USER@INSTANCE matching the given parts. */
static int
list_has_target(const struct kb_pair *p, const char *user,
    const char *instance)
{
	const char *at;
	size_t i, ulen;

	for (i = 0; i < p->nattach; i++) {
		if (strlen(p->attach[i].s) != p->attach[i].len ||
		    (at = strrchr(p->attach[i].s, '@')) == NULL)
			continue;
		ulen = (size_t)(at - p->attach[i].s);
		if (instance != NULL && strcmp(at + 1, instance) != 0)
			continue;
		if (user != NULL && (strlen(user) != ulen ||
		    memcmp(p->attach[i].s, user, ulen) != 0))
			continue;
		return 1;
	}
	return 0;
}

/*
 * Whether p passes every filter, checked here byte for byte whatever the
 * directory already selected (its equality match may be looser).
 */
static int
list_keep(const struct kb_pair *p, const struct list_filter *lf, time_t now)
{
	const char *st = pair_status(p, now);
	char *fp = NULL;
	time_t t;
	int keep;

	if (lf->target != NULL && !pair_has_attachment(p, lf->target))
		return 0;
	if ((lf->user != NULL || lf->instance != NULL) &&
	    !list_has_target(p, lf->user, lf->instance))
		return 0;
	if (lf->glob != NULL && fnmatch(lf->glob, p->name.s, 0) != 0)
		return 0;
	if (lf->expired && strcmp(st, "expired") != 0)
		return 0;
	if (lf->unattached && p->nattach != 0)
		return 0;
	if (lf->expiring > 0 && (strcmp(st, "expired") == 0 ||
	    p->not_after.s == NULL || lookup_parse_gentime(p->not_after.s,
	    p->not_after.len, &t) != 0 || (long long)(t - now) > lf->expiring))
		return 0;
	if (lf->fingerprint == NULL)
		return 1;
	keep = p->key != NULL && key_fingerprint_sha256(p->key, &fp) == 0 &&
	    strcmp(fp, lf->fingerprint) == 0;
	free(fp);
	return keep;
}

/*
 * The directory filter: the key pair class, and what an indexed equality
 * match can select (keyboundAttachment, keyboundFingerprint); the rest
 * is filtered here.
 */
static int
list_filter_text(const struct list_filter *lf, char **filterp)
{
	char *att = NULL, *fp = NULL, *t = NULL;
	int r = 0;

	*filterp = NULL;
	if (lf->target != NULL)
		r = filter_escape(lf->target, strlen(lf->target), &att);
	else if (lf->user != NULL && lf->instance != NULL) {
		if (asprintf(&t, "%s@%s", lf->user, lf->instance) < 0) {
			t = NULL;
			r = KB_ERR_NOMEM;
		} else
			r = filter_escape(t, strlen(t), &att);
	}
	if (r == 0 && lf->fingerprint != NULL)
		r = filter_escape(lf->fingerprint, strlen(lf->fingerprint),
		    &fp);
	if (r == 0 && asprintf(filterp, "(&(objectClass=" OC_KEYPAIR ")%s%s%s"
	    "%s%s%s)", att ? "(" AT_ATTACH "=" : "", att ? att : "",
	    att ? ")" : "", fp ? "(" AT_FP "=" : "", fp ? fp : "",
	    fp ? ")" : "") < 0) {
		*filterp = NULL;
		r = KB_ERR_NOMEM;
	}
	free(att);
	free(fp);
	free(t);
	return r;
}

/* The key pairs passing every filter, sorted by name. */
static int
list_fetch(struct kb_admin *a, const struct list_filter *lf,
    struct kb_pair ***pairsp, size_t *np)
{
	struct kb_pair **pairs = NULL;
	char *filter = NULL;
	time_t now = time(NULL);
	size_t i, k, n = 0;
	int r;

	if ((r = list_filter_text(lf, &filter)) != 0 ||
	    (r = pair_search(a, filter, &pairs, &n)) != 0)
		goto out;
	for (i = 0, k = 0; i < n; i++) {
		if (!list_keep(pairs[i], lf, now)) {
			pair_free(pairs[i]);
			continue;
		}
		pairs[k++] = pairs[i];
	}
	*pairsp = pairs;
	*np = k;
	pairs = NULL;
	n = 0;
 out:
	pair_free_all(pairs, n);
	free(filter);
	return r;
}

/* "30d", "12h", "90m", "3600s", "2w": seconds, or -1. */
static long long
parse_duration(const char *s)
{
	unsigned v;
	char num[16];
	size_t len = strlen(s);
	long long mult;

	if (len < 2 || len >= sizeof(num))
		return -1;
	switch (s[len - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: return -1;
	}
	memcpy(num, s, len - 1);
	num[len - 1] = '\0';
	if (config_parse_uint(num, 1, 100000000, &v) != 0)
		return -1;
	return (long long)v * mult;
}

static void
list_print(const struct kb_admin *a, struct kb_pair **pairs,
    const struct view *views, size_t n, int wide)
{
	size_t i;

	if (!a->json) {
		table_list(pairs, views, n, wide);
		return;
	}
	putchar('[');
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		json_pair(pairs[i], &views[i], NULL);
	}
	printf("]\n");
}

int
cmd_list(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "attached-to", required_argument, NULL, 'a' },
		{ "wide", no_argument, NULL, 'w' },
		{ "instance", required_argument, NULL, 'i' },
		{ "user", required_argument, NULL, 'u' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "name", required_argument, NULL, 'n' },
		{ "expired", no_argument, NULL, 'x' },
		{ "expiring", required_argument, NULL, 'e' },
		{ "unattached", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 }
	};
	struct kb_target t = { NULL, NULL, NULL };
	struct list_filter lf;
	struct kb_pair **pairs = NULL;
	struct view *views = NULL;
	const char *target = NULL;
	size_t i, n = 0, made = 0;
	int ch, r, wide = 0, status = EXIT_FAIL;

	memset(&lf, 0, sizeof(lf));

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		switch (ch) {
		case 'a':
			target = optarg;
			break;
		case 'w':
			wide = 1;
			break;
		case 'i':
			if (name_instance_valid(optarg) != 0)
				return admin_fail(EXIT_USAGE, "--instance: "
				    "invalid instance name");
			lf.instance = optarg;
			break;
		case 'u':
			if (name_user_valid(optarg, strlen(optarg)) != 0)
				return admin_fail(EXIT_USAGE, "--user: invalid "
				    "user name");
			lf.user = optarg;
			break;
		case 'f':
			if (strncmp(optarg, "SHA256:", 7) != 0 ||
			    strlen(optarg) != 50)
				return admin_fail(EXIT_USAGE, "--fingerprint: "
				    "expected SHA256:... as ssh-keygen -l "
				    "prints it");
			lf.fingerprint = optarg;
			break;
		case 'n':
			lf.glob = optarg;
			break;
		case 'x':
			lf.expired = 1;
			break;
		case 'e':
			if ((lf.expiring = parse_duration(optarg)) <= 0)
				return admin_fail(EXIT_USAGE, "--expiring: "
				    "DURATION is a number and s, m, h, d or w "
				    "(30d)");
			break;
		case 'U':
			lf.unattached = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	lf.target = target;
	if (argc != optind)
		return admin_usage(argv[0], "unexpected argument");
	if (target != NULL && (r = target_parse_attach(target, &t)) != 0) {
		status = admin_fail(EXIT_USAGE, "--attached-to: not "
		    "USER@INSTANCE or USER@+GROUP: %s", kb_strerror(r));
		goto out;
	}
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if ((r = list_fetch(a, &lf, &pairs, &n)) != 0) {
		status = admin_fail(admin_status(r), "cannot list key pairs: "
		    "%s", kb_strerror(r));
		goto out;
	}
	if ((views = calloc(n + 1, sizeof(*views))) == NULL) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	for (made = 0; made < n; made++) {
		if ((r = view_make(pairs[made], &views[made])) != 0) {
			admin_err("%s", kb_strerror(r));
			goto out;
		}
	}
	list_print(a, pairs, views, n, wide);
	status = EXIT_OK;
 out:
	for (i = 0; views != NULL && i < n; i++)
		view_clear(&views[i]);
	free(views);
	pair_free_all(pairs, n);
	target_clear(&t);
	return status;
}

static void
show_field(const char *label, const char *s, size_t len)
{
	printf("%-13s ", label);
	if (s == NULL)
		printf("-");
	else
		text_safe(stdout, s, len);
	putchar('\n');
}

/* The attachments detached with a tombstone, with when they ended. */
static void
text_detached(const struct kb_pair *p)
{
	char when[TIME_RFC3339_LEN];
	time_t end;
	size_t i;

	for (i = 0; i < p->ndetached; i++) {
		if (i > 0)
			fputs(", ", stdout);
		text_safe(stdout, p->detached[i].s, p->detached[i].len);
		if (pair_attachment_end(p, p->detached[i].s,
		    p->detached[i].len, &end, NULL) &&
		    time_format_rfc3339(end, when, sizeof(when)) == 0)
			printf(" (%s, tombstone kept for prune)", when);
	}
}

static void
table_show(const struct kb_pair *p, const struct view *v)
{
	char type[64];

	show_field("name:", p->name.s, p->name.len);
	if (p->key != NULL) {
		snprintf(type, sizeof(type), "%s (%s, %u bits)",
		    key_type_name(p->key), key_type_label(p->key),
		    key_bits(p->key));
		show_field("type:", type, strlen(type));
	} else
		show_field("type:", "unusable", 8);
	show_field("fingerprint:", v->fp, v->fp ? strlen(v->fp) : 0);
	show_field("md5:", v->fp_md5, v->fp_md5 ? strlen(v->fp_md5) : 0);
	printf("%-13s ", "attachments:");
	text_attachments(stdout, p, NULL);
	putchar('\n');
	if (p->ndetached > 0) {
		printf("%-13s ", "detached:");
		text_detached(p);
		putchar('\n');
	}
	if (p->blocked)
		show_field("blocked:", "yes (its key is on the blocklist)", 33);
	show_field("not after:", v->has_not_after ? v->not_after : "never",
	    v->has_not_after ? strlen(v->not_after) : 5);
	show_field("status:", pair_status(p, time(NULL)),
	    strlen(pair_status(p, time(NULL))));
	show_field("options:", p->options.s, p->options.len);
	show_field("description:", p->description.s, p->description.len);
	show_field("created:", v->has_created ? v->created : NULL,
	    strlen(v->created));
	show_field("public key:", v->pubtext, v->pubtext ?
	    strlen(v->pubtext) : 0);
}

int
cmd_show(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ NULL, 0, NULL, 0 }
	};
	struct kb_pair **pairs = NULL;
	struct view v;
	size_t k, n, shown = 0;
	int ch, i, r, st, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1)
		return EXIT_USAGE;
	if (argc - optind < 1)
		return admin_usage(argv[0], "expected NAME...");
	n = (size_t)(argc - optind);
	if (n > ADMIN_MAX_TARGETS)
		return admin_fail(EXIT_USAGE, "too many names (at most %d)",
		    ADMIN_MAX_TARGETS);
	for (i = optind; i < argc; i++)
		if (name_keypair_valid(argv[i]) != 0)
			return admin_fail(EXIT_USAGE, "%s: %s", argv[i],
			    NAME_RULE_TEXT);
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	if ((pairs = calloc(n, sizeof(*pairs))) == NULL)
		return admin_fail(EXIT_FAIL, "%s", kb_strerror(KB_ERR_NOMEM));
	/* read them all first: a missing one fails the whole command */
	for (k = 0; k < n; k++) {
		if ((r = pair_read(a, argv[optind + (int)k], &pairs[k])) != 0) {
			st = pair_read_failed(argv[optind + (int)k], r);
			status = status == EXIT_OK ? st : status;
		}
	}
	if (status != EXIT_OK)
		goto out;
	if (a->json && n > 1)
		putchar('[');
	for (k = 0; k < n; k++) {
		if ((r = view_make(pairs[k], &v)) != 0) {
			status = admin_fail(EXIT_FAIL, "%s", kb_strerror(r));
			goto out;
		}
		if (a->json) {
			if (shown > 0)
				putchar(',');
			json_pair(pairs[k], &v, NULL);
		} else {
			if (shown > 0)
				putchar('\n');
			table_show(pairs[k], &v);
		}
		shown++;
		view_clear(&v);
	}
	if (a->json)
		printf(n > 1 ? "]\n" : "\n");
 out:
	pair_free_all(pairs, n);
	return status;
}

/* A key pair naming the user that keybound-keys would not serve. */
struct refusal {
	char *name;
	char *reason;
};

struct check_ctx {
	struct refusal *r;
	size_t n;
	size_t cap;
};

static int
refusal_add(struct check_ctx *cc, const char *name, const char *reason)
{
	struct refusal *nr;
	size_t i;

	for (i = 0; i < cc->n; i++)
		if (strcmp(cc->r[i].name, name) == 0)
			return 0;	/* the first reason stands */
	if (cc->n == cc->cap) {
		if ((nr = reallocarray(cc->r, cc->cap ? cc->cap * 2 : 8,
		    sizeof(*nr))) == NULL)
			return KB_ERR_NOMEM;
		cc->r = nr;
		cc->cap = cc->cap ? cc->cap * 2 : 8;
	}
	if ((cc->r[cc->n].name = strdup(name)) == NULL)
		return KB_ERR_NOMEM;
	if ((cc->r[cc->n].reason = strdup(reason)) == NULL) {
		free(cc->r[cc->n].name);
		return KB_ERR_NOMEM;
	}
	cc->n++;
	return 0;
}

static void
check_ctx_clear(struct check_ctx *cc)
{
	size_t i;

	for (i = 0; i < cc->n; i++) {
		free(cc->r[i].name);
		free(cc->r[i].reason);
	}
	free(cc->r);
	memset(cc, 0, sizeof(*cc));
}

/*
 * Lookup notes become warnings, as keybound-keys would log them; a key
 * pair skipped by name is also a refusal with its reason.
 */
static void
check_note(void *ctx, const struct kb_note *n)
{
	struct check_ctx *cc = ctx;
	const char *what;

	switch (n->kind) {
	case KB_NOTE_KEY_SKIPPED:
		what = "key skipped";
		break;
	case KB_NOTE_OPTS_DROPPED:
		what = "options dropped";
		break;
	case KB_NOTE_ENTRY_SKIPPED:
		what = "entry skipped";
		break;
	case KB_NOTE_VALUES_DROPPED:
		what = "oversized values dropped";
		break;
	case KB_NOTE_MAX_KEYS:
		what = "more keys than max_keys";
		break;
	case KB_NOTE_MAX_GROUPS:
		what = "in more host groups than are read";
		break;
	default:
		what = "note";
		break;
	}
	if (n->kind == KB_NOTE_KEY_SKIPPED && n->name != NULL &&
	    refusal_add(cc, n->name, n->detail != NULL ? n->detail :
	    kb_strerror(n->err)) != 0)
		admin_err("out of memory");
	fflush(stdout);
	fprintf(stderr, "keybound: warning: %s", what);
	if (n->name != NULL)
		fprintf(stderr, " key pair=%s", n->name);
	if (n->err != 0)
		fprintf(stderr, " reason=\"%s\"", kb_strerror(n->err));
	if (n->detail != NULL)
		fprintf(stderr, " detail=%s", n->detail);
	if (n->count > 0)
		fprintf(stderr, " count=%zu", n->count);
	fputc('\n', stderr);
}

static int
answer_has(const struct kb_answer *ans, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ans->nkeys; i++)
		if (strlen(ans->keys[i].name) == len &&
		    memcmp(ans->keys[i].name, name, len) == 0)
			return 1;
	return 0;
}

/*
 * The key pairs naming USER on any target that were neither served nor
 * refused by the lookup: they are attached elsewhere (another instance,
 * or a host group this instance is not in).  Needs the substring rule on
 * keyboundAttachment; a directory without it finds none.
 */
static int
check_elsewhere(struct kb_admin *a, const struct kb_target *t,
    const struct kb_answer *ans, struct check_ctx *cc)
{
	struct kb_pair **pairs = NULL;
	char *user = NULL, *filter = NULL, *reason = NULL, *np;
	size_t n = 0, i, j, ulen = strlen(t->user), rl;
	int r = KB_ERR_INTERNAL;

	if ((r = filter_escape(t->user, ulen, &user)) != 0)
		goto out;
	if (asprintf(&filter, "(&(objectClass=%s)(%s=%s@*))", OC_KEYPAIR,
	    AT_ATTACH, user) < 0) {
		filter = NULL;
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = pair_search(a, filter, &pairs, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (answer_has(ans, pairs[i]->name.s, pairs[i]->name.len))
			continue;
		free(reason);
		reason = NULL;
		rl = 0;
		for (j = 0; j < pairs[i]->nattach; j++) {
			const struct kb_text *v = &pairs[i]->attach[j];

			/* USER@TARGET, byte for byte: the last '@' splits */
			if (v->len <= ulen + 1 || memcmp(v->s, t->user,
			    ulen) != 0 || v->s[ulen] != '@' ||
			    memchr(v->s + ulen + 1, '@', v->len - ulen - 1))
				continue;
			if ((np = realloc(reason, rl + v->len + 64)) == NULL) {
				r = KB_ERR_NOMEM;
				goto out;
			}
			reason = np;
			snprintf(reason + rl, v->len + 64, "%s%s%s",
			    rl == 0 ? "attached elsewhere: " : ", ", v->s,
			    v->s[ulen + 1] == '+' ?
			    " (this instance is not a member)" : "");
			rl += strlen(reason + rl);
		}
		if (reason != NULL && (r = refusal_add(cc, pairs[i]->name.s,
		    reason)) != 0)
			goto out;
	}
	r = 0;
 out:
	pair_free_all(pairs, n);
	free(reason);
	free(filter);
	free(user);
	return r;
}

static void
check_print(const struct kb_admin *a, const struct kb_target *t,
    const struct kb_answer *ans, const struct check_ctx *cc)
{
	char when[32], left[32];
	time_t end, now = time(NULL);
	size_t i;

	if (!a->json) {
		for (i = 0; i < ans->nkeys; i++) {
			printf("%s\n", ans->keys[i].line);
			printf("#   %s via ", ans->keys[i].name);
			text_safe(stdout, ans->keys[i].via ? ans->keys[i].via :
			    "?", strlen(ans->keys[i].via ? ans->keys[i].via :
			    "?"));
			if (ans->keys[i].until != NULL &&
			    lookup_parse_gentime(ans->keys[i].until,
			    strlen(ans->keys[i].until), &end) == 0 &&
			    time_format_rfc3339(end, when, sizeof(when)) == 0) {
				time_format_left(end - now, left, sizeof(left));
				printf(", until %s (%s left)", when, left);
			} else
				printf(", permanent");
			if (ans->keys[i].options != NULL)
				printf(", options %s", ans->keys[i].options);
			putchar('\n');
		}
		for (i = 0; i < cc->n; i++) {
			printf("# not served: %s: ", cc->r[i].name);
			text_safe(stdout, cc->r[i].reason,
			    strlen(cc->r[i].reason));
			putchar('\n');
		}
		printf("# password login for ");
		text_safe(stdout, t->text, strlen(t->text));
		if (ans->nkeys > 0)
			printf(": refused (%zu key%s attached)\n", ans->nkeys,
			    ans->nkeys == 1 ? "" : "s");
		else
			printf(": not refused by keybound (no key attached)\n");
		return;
	}
	printf("{\"user\":");
	json_string(stdout, t->user, strlen(t->user));
	printf(",\"instance\":");
	json_string(stdout, t->instance, strlen(t->instance));
	printf(",\"keys\":[");
	for (i = 0; i < ans->nkeys; i++) {
		printf("%s{\"name\":", i > 0 ? "," : "");
		json_string_or_null(stdout, ans->keys[i].name);
		printf(",\"fingerprint_sha256\":");
		json_string_or_null(stdout, ans->keys[i].fingerprint);
		printf(",\"line\":");
		json_string_or_null(stdout, ans->keys[i].line);
		printf(",\"via\":");
		json_string_or_null(stdout, ans->keys[i].via);
		printf(",\"until\":");
		if (ans->keys[i].until != NULL &&
		    lookup_parse_gentime(ans->keys[i].until,
		    strlen(ans->keys[i].until), &end) == 0 &&
		    time_format_rfc3339(end, when, sizeof(when)) == 0)
			json_string(stdout, when, strlen(when));
		else
			printf("null");
		printf(",\"options\":");
		json_string_or_null(stdout, ans->keys[i].options);
		putchar('}');
	}
	printf("],\"refused\":[");
	for (i = 0; i < cc->n; i++) {
		printf("%s{\"name\":", i > 0 ? "," : "");
		json_string_or_null(stdout, cc->r[i].name);
		printf(",\"reason\":");
		json_string_or_null(stdout, cc->r[i].reason);
		putchar('}');
	}
	printf("],\"password_login_refused\":%s}\n",
	    ans->nkeys > 0 ? "true" : "false");
}

int
cmd_check(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ NULL, 0, NULL, 0 }
	};
	struct kb_target t = { NULL, NULL, NULL };
	struct kb_answer *ans = NULL;
	struct check_ctx cc = { NULL, 0, 0 };
	struct kb_query q;
	struct timespec deadline;
	char errbuf[256];
	int ch, r, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return admin_usage(argv[0], "expected one USER@INSTANCE");
	if (a->prompt_password)
		return admin_usage(argv[0], "-W is not supported: check binds "
		    "like keybound-keys (the config's identity, or -D/-y)");
	if ((r = target_parse(argv[optind], &t)) != 0) {
		status = admin_fail(EXIT_USAGE, "not USER@INSTANCE: %s",
		    kb_strerror(r));
		goto out;
	}
	if ((status = admin_load_config(a)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	memset(&q, 0, sizeof(q));
	q.user = t.user;
	q.userlen = strlen(t.user);
	q.instance = t.instance;
	deadline_set(&deadline, (long)a->cfg->timeout * 1000);
	errbuf[0] = '\0';
	if ((r = lookup_directory(a->cfg, &q, &deadline, check_note, &cc,
	    &ans, errbuf, sizeof(errbuf))) != 0) {
		status = admin_fail(admin_bind_status(r), "the directory "
		    "did not "
		    "answer: %s", errbuf[0] != '\0' ? errbuf :
		    kb_strerror(r));
		goto out;
	}
	/* why the user's other key pairs are not served here */
	if (a->cfg->schema == KB_SCHEMA_KEYBOUND) {
		if ((status = admin_connect(a, 0)) != EXIT_OK)
			goto out;
		status = EXIT_FAIL;
		if ((r = check_elsewhere(a, &t, ans, &cc)) != 0) {
			admin_err("cannot list the user's key pairs: %s",
			    kb_strerror(r));
			goto out;
		}
	}
	check_print(a, &t, ans, &cc);
	status = EXIT_OK;
 out:
	lookup_answer_free(ans);
	check_ctx_clear(&cc);
	target_clear(&t);
	return status;
}
