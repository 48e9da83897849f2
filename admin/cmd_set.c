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
		admin_err("--expires: TIME must be YYYY-MM-DDTHH:MM:SSZ or "
		    "YYYYMMDDHHMMSSZ (UTC), or never");
		return EXIT_USAGE;
	}
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
		admin_err("--options: %s (allowed: restrict, "
		    "no-agent-forwarding, no-port-forwarding, no-pty, "
		    "no-user-rc, no-X11-forwarding, verify-required, "
		    "from=\"...\", command=\"...\")", kb_strerror(r));
		return EXIT_FAIL;
	}
	if (o.has_expiry) {
		opts_clear(&o);
		admin_err("--options: use --expires for the expiry time");
		return EXIT_FAIL;
	}
	r = opts_render(&o, &s->value);
	opts_clear(&o);
	if (r != 0 || s->value[0] == '\0') {
		admin_err("--options: %s", r != 0 ? kb_strerror(r) :
		    "no options given; use none to remove them");
		return EXIT_FAIL;
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
	if (len > ADMIN_DESC_MAX || name_utf8_valid(arg, len) != 0) {
		admin_err("--description: at most %d bytes of UTF-8 text",
		    ADMIN_DESC_MAX);
		return EXIT_FAIL;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f) {
			admin_err("--description: control characters are not "
			    "allowed");
			return EXIT_FAIL;
		}
	}
	if ((s->value = strdup(arg)) == NULL)
		return EXIT_FAIL;
	return 0;
}

static void
set_report(const struct kb_admin *a, const char *name,
    const struct setting *s)
{
	static const char *const keys[SETTINGS] = { "not_after", "options",
	    "description" };
	char rfc[TIME_RFC3339_LEN];
	const char *v;
	time_t t;
	int i, first = 1;

	printf(a->json ? "{\"name\":" : "updated key pair %s:", name);
	if (a->json)
		json_string(stdout, name, strlen(name));
	for (i = 0; i < SETTINGS; i++) {
		if (!s[i].set)
			continue;
		v = s[i].value;
		if (i == 0 && v != NULL && lookup_parse_gentime(v, strlen(v),
		    &t) == 0 && time_format_rfc3339(t, rfc, sizeof(rfc)) == 0)
			v = rfc;
		if (a->json) {
			printf(",\"%s\":", keys[i]);
			json_string_or_null(stdout, v);
		} else {
			printf("%s %s=", first ? "" : ",", keys[i]);
			if (v == NULL)
				printf("(none)");
			else
				text_safe(stdout, v, strlen(v));
		}
		first = 0;
	}
	printf(a->json ? "}\n" : "\n");
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
		{ NULL, 0, NULL, 0 }
	};
	int ch, i, r;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
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
	return EXIT_OK;
}

/* One modify replacing (or removing) the chosen attributes. */
static int
set_apply(struct kb_admin *a, const char *name, const struct setting *s)
{
	static const char *const attrs[SETTINGS] = { AT_NOTAFTER, AT_OPTIONS,
	    AT_DESC };
	struct kb_mod mods[SETTINGS];
	const char *vals[SETTINGS][2];
	struct kb_pair *p = NULL;
	char *dn = NULL;
	size_t nmods = 0;
	int i, r;

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
	r = dir_modify(a->dir, dn, mods, nmods, SET_ASSERTION, 0);
	if (r == KB_ERR_DIR_UNSUPPORTED) {
		/* no assertion control (389-ds): check the class by reading */
		if ((r = pair_read(a, name, &p)) == 0)
			r = dir_modify(a->dir, dn, mods, nmods, NULL, 0);
		pair_free(p);
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
		admin_err("invalid key pair name");
		goto out;
	}
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if ((r = set_apply(a, name, s)) != 0) {
		detail = dir_last_error(a->dir);
		if (r == KB_ERR_DIR_NO_SUCH_OBJECT || r == KB_ERR_DIR_ASSERTION)
			admin_err("no key pair %s", name);
		else
			admin_err("cannot update %s: %s%s%s", name,
			    kb_strerror(r), detail[0] != '\0' ? ": " : "",
			    detail);
		admin_audit(a, "set", name, NULL, 0, kb_strerror(r));
		goto out;
	}
	admin_audit(a, "set", name, NULL, 0, "ok");
	set_report(a, name, s);
	status = EXIT_OK;
 out:
	for (i = 0; i < SETTINGS; i++)
		free(s[i].value);
	return status;
}
