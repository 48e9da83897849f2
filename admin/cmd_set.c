/*
 * cmd_set.c - `keybound set`: a key pair's expiry time, authorized_keys
 * options and description, changed in one modify.  Options are parsed
 * strictly against the allow-list keybound-keys renders and stored in
 * their canonical rendering; `never`, `none` and an empty description
 * remove the attribute.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kb.h"
#include "directory.h"
#include "keyopts.h"
#include "lookup.h"
#include "names.h"
#include "admin.h"

#define SETTINGS	3	/* not after, options, description */
#define SET_ASSERTION	"(objectClass=" OC_KEYPAIR ")"

/* What `set` changes; NULL value with set=1 removes the attribute. */
struct setting {
	int set;
	char *value;
	time_t when;		/* --expires: the time given */
};

static int
set_expires(const char *arg, struct setting *s)
{
	char buf[TIME_GTIME_LEN];
	time_t t;

	s->set = 1;
	if (strcmp(arg, "never") == 0)
		return 0;
	if (time_parse_user(arg, &t) != 0 ||
	    lookup_format_gentime(t, buf, sizeof(buf)) != 0) {
		return admin_fail(EXIT_USAGE, "--expires: TIME must be "
		    "YYYY-MM-DDTHH:MM:SSZ or YYYYMMDDHHMMSSZ (UTC), or never");
	}
	s->when = t;
	if ((s->value = strdup(buf)) == NULL)
		return EXIT_FAIL;
	return 0;
}

static int
set_options(const char *arg, struct setting *s)
{
	struct kb_keyopts o;
	int r;

	s->set = 1;
	if (strcmp(arg, "none") == 0)
		return 0;
	if ((r = opts_parse(arg, strlen(arg), KB_OPTS_STRICT, &o, NULL,
	    0)) != 0) {
		return admin_fail(EXIT_USAGE, "--options: %s (allowed: "
		    "restrict, no-agent-forwarding, no-port-forwarding, "
		    "no-pty, no-user-rc, no-X11-forwarding, verify-required, "
		    "from=\"...\", command=\"...\")", kb_strerror(r));
	}
	if (o.has_expiry) {
		opts_clear(&o);
		return admin_fail(EXIT_USAGE, "--options: use --expires for "
		    "the expiry time");
	}
	r = opts_render(&o, &s->value);
	opts_clear(&o);
	if (r != 0 || s->value[0] == '\0') {
		return admin_fail(r != 0 ? EXIT_FAIL : EXIT_USAGE,
		    "--options: %s", r != 0 ? kb_strerror(r) :
		    "no options given; use none to remove them");
	}
	return 0;
}

static int
set_description(const char *arg, struct setting *s)
{
	size_t i, len = strlen(arg);

	s->set = 1;
	if (len == 0)
		return 0;
	if (len > ADMIN_DESC_MAX || name_utf8_valid(arg, len) != 0)
		return admin_fail(EXIT_USAGE, "--description: at most %d "
		    "bytes of UTF-8 text", ADMIN_DESC_MAX);
	for (i = 0; i < len; i++) {
		if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f)
			return admin_fail(EXIT_USAGE, "--description: control "
			    "characters are not allowed");
	}
	if ((s->value = strdup(arg)) == NULL)
		return EXIT_FAIL;
	return 0;
}

/*
 * The outcome: one line, or (--json) the key pair object as it is now.
 * An exit status.
 */
static int
set_report(struct kb_admin *a, const char *name, const struct setting *s)
{
	static const char *const keys[SETTINGS] = { "not_after", "options",
	    "description" };
	char rfc[TIME_RFC3339_LEN];
	const char *v;
	time_t t;
	struct kb_pair *p = NULL;
	int i, r, first = 1;

	if (a->json) {
		if ((r = pair_read(a, name, &p)) != 0)
			return admin_fail(admin_status(r), "updated key pair "
			    "%s, but cannot read it back: %s", name,
			    kb_strerror(r));
		r = pair_print_json(p, NULL);
		pair_free(p);
		return r == 0 ? EXIT_OK : admin_fail(EXIT_FAIL, "%s",
		    kb_strerror(r));
	}
	printf("updated key pair %s:", name);
	for (i = 0; i < SETTINGS; i++) {
		if (!s[i].set)
			continue;
		v = s[i].value;
		if (i == 0 && v != NULL && lookup_parse_gentime(v, strlen(v),
		    &t) == 0 && time_format_rfc3339(t, rfc, sizeof(rfc)) == 0)
			v = rfc;
		printf("%s %s=", first ? "" : ",", keys[i]);
		if (v == NULL)
			printf("(none)");
		else
			text_safe(stdout, v, strlen(v));
		first = 0;
	}
	printf("\n");
	return EXIT_OK;
}

/* Parse the settings; an exit status. */
static int
set_parse(struct kb_admin *a, int argc, char **argv, struct setting *s)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "expires", required_argument, NULL, 'e' },
		{ "options", required_argument, NULL, 'o' },
		{ "description", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	char rfc[TIME_RFC3339_LEN];
	int ch, i, r, force = 0;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		if (ch == 'f') {
			force = 1;
			continue;
		}
		i = ch == 'e' ? 0 : ch == 'o' ? 1 : ch == 'd' ? 2 : -1;
		if (i < 0)
			return EXIT_USAGE;
		if (s[i].set)
			return admin_usage(argv[0], "--%s given twice",
			    longopts[i + 1].name);
		if (i == 0)
			r = set_expires(optarg, &s[0]);
		else if (i == 1)
			r = set_options(optarg, &s[1]);
		else
			r = set_description(optarg, &s[2]);
		if (r != EXIT_OK)
			return r;
	}
	if (argc - optind != 1)
		return admin_usage(argv[0], "expected one NAME");
	if (!s[0].set && !s[1].set && !s[2].set)
		return admin_usage(argv[0], "nothing to set");
	/* a past time would end every login with this pair at once */
	if (s[0].value != NULL && s[0].when <= time(NULL) && !force) {
		if (time_format_rfc3339(s[0].when, rfc, sizeof(rfc)) != 0)
			snprintf(rfc, sizeof(rfc), "TIME");
		return admin_fail(EXIT_USAGE, "--expires: %s is in the past; "
		    "the key pair would stop working now (--force to set it "
		    "anyway)", rfc);
	}
	return EXIT_OK;
}

/*
 * One modify replacing (or removing) the chosen attributes, guarded by an
 * assertion that the entry is a key pair.  Two fallbacks for Active
 * Directory: it has no assertion control, so the key pair is read first
 * and the modify sent unguarded (an entry deleted meanwhile still fails
 * the modify, and the schema allows keyboundNotAfter and
 * keyboundKeyOptions only on key pairs); and its GeneralizedTime syntax
 * (2.5.5.11) wants the form "YYYYMMDDHHMMSS.0Z" (Samba refuses the short
 * one), so a refused expiry is sent again in that form.
 */
static int
set_apply(struct kb_admin *a, const char *name, const struct setting *s)
{
	static const char *const attrs[SETTINGS] = { AT_NOTAFTER, AT_OPTIONS,
	    AT_DESC };
	struct kb_mod mods[SETTINGS];
	struct kb_pair *p = NULL;
	const char *vals[SETTINGS][2], *assertion = SET_ASSERTION;
	char *dn = NULL, adtime[TIME_GTIME_LEN + 2];
	size_t nmods = 0;
	int i, r, round;

	for (i = 0; i < SETTINGS; i++) {
		if (!s[i].set)
			continue;
		vals[i][0] = s[i].value;
		vals[i][1] = NULL;
		mods[nmods].op = KB_MOD_REPLACE;
		mods[nmods].attr = attrs[i];
		mods[nmods].vals = s[i].value != NULL ? vals[i] : NULL;
		nmods++;
	}
	if ((r = admin_pair_dn(a, name, &dn)) != 0)
		return r;
	/* at most one fallback of each kind */
	for (round = 0; round < 3; round++) {
		r = admin_modify(a, dn, mods, nmods, assertion, 0);
		if (r == KB_ERR_DIR_NO_CONTROL && assertion != NULL) {
			if ((r = pair_read(a, name, &p)) != 0)
				break;
			pair_free(p);
			p = NULL;
			assertion = NULL;
		} else if (r == KB_ERR_DIR_SYNTAX && s[0].set &&
		    s[0].value != NULL && vals[0][0] != adtime &&
		    strlen(s[0].value) == TIME_GTIME_LEN - 1) {
			(void)snprintf(adtime, sizeof(adtime), "%.*s.0Z",
			    TIME_GTIME_LEN - 2, s[0].value);
			vals[0][0] = adtime;
		} else
			break;
	}
	free(dn);
	return r;
}

int
cmd_set(struct kb_admin *a, int argc, char **argv)
{
	struct setting s[SETTINGS];
	const char *name, *detail;
	int i, r, status = EXIT_FAIL;

	memset(s, 0, sizeof(s));
	if ((status = set_parse(a, argc, argv, s)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	name = argv[optind];
	if (name_keypair_valid(name) != 0) {
		status = admin_fail(EXIT_USAGE, "invalid key pair name");
		goto out;
	}
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if ((r = set_apply(a, name, s)) != 0) {
		detail = dir_last_error(a->dir);
		if (r == KB_ERR_DIR_NO_SUCH_OBJECT || r == KB_ERR_DIR_ASSERTION)
			status = admin_fail(EXIT_NOTFOUND, "no key pair %s",
			    name);
		else
			status = admin_fail(admin_status(r), "cannot update "
			    "%s: %s%s%s", name, kb_strerror(r),
			    detail[0] != '\0' ? ": " : "", detail);
		admin_audit(a, "set", name, NULL, 0, kb_strerror(r));
		goto out;
	}
	admin_audit(a, "set", name, NULL, 0, "ok");
	status = set_report(a, name, s);
 out:
	for (i = 0; i < SETTINGS; i++)
		free(s[i].value);
	return status;
}
