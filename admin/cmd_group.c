/*
 * cmd_group.c - `keybound group`: host groups, the entries
 * cn=NAME,<group_base> that attachments USER@+NAME grant on.
 *
 * Membership changes are one modify adding or deleting exact
 * keyboundMember values (read, then write without the permissive
 * control, again on a race), like attachments.  A name is unique across
 * key pairs and groups: with group_base equal to base the DN does it;
 * otherwise create checks before its add and again after it, and takes
 * its entry back when a key pair of that name appeared meanwhile (create
 * and import of key pairs do the same the other way round), so two
 * racing creates never both stay.
 *
 * delete is refused while an attachment names the group.  Attach checks
 * that the group exists, writes, and checks again (taking its attachment
 * back when the group went); delete checks for attachments, deletes,
 * and checks again (putting the group back, with the members it read,
 * when one appeared).  Whichever order the steps of two racing commands
 * take, no attachment is left naming a missing group, unless a command is
 * killed between its write and its re-check: such a leftover grants
 * nothing (there are no members) and `group create` refuses the name
 * until it is detached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "names.h"
#include "admin.h"

#define GROUP_ROUNDS	8	/* read-write rounds racing admins */
#define GROUP_FILTER	"(objectClass=" OC_GROUP ")"

static const char *const group_attrs[] = {
	AT_CN, AT_MEMBER, AT_DESC, AT_TOMBSTONE, NULL
};

struct kb_group {
	struct kb_text dn;
	struct kb_text name;
	struct kb_text description;
	struct kb_text *members;
	size_t nmembers;
	struct kb_text *tombstones;	/* keyboundTombstone values */
	size_t ntombstones;
};

struct group_list {
	struct kb_group **groups;
	size_t n;
	size_t cap;
};

/* One attachment naming a group: which pair, which value, its end. */
struct group_ref {
	char *pair;
	char *value;
	int timed;
	time_t end;
};

struct ref_list {
	struct group_ref *refs;
	size_t n;
};

static int
gtext_set(struct kb_text *t, const char *s, size_t len)
{
	char *c;

	if ((c = malloc(len + 1)) == NULL)
		return KB_ERR_NOMEM;
	memcpy(c, s, len);
	c[len] = '\0';
	free(t->s);
	t->s = c;
	t->len = len;
	return 0;
}

static void
group_free(struct kb_group *g)
{
	size_t i;

	if (g == NULL)
		return;
	free(g->dn.s);
	free(g->name.s);
	free(g->description.s);
	for (i = 0; i < g->nmembers; i++)
		free(g->members[i].s);
	free(g->members);
	for (i = 0; i < g->ntombstones; i++)
		free(g->tombstones[i].s);
	free(g->tombstones);
	free(g);
}

static void
group_list_free(struct group_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		group_free(l->groups[i]);
	free(l->groups);
	memset(l, 0, sizeof(*l));
}

/* The cn value the DN is named by, else the first (shown as it is). */
static int
group_set_name(struct kb_group *g, const struct kb_attr *cn)
{
	const struct kb_val *v;
	size_t i;

	if (cn == NULL || cn->nvals == 0)
		return gtext_set(&g->name, "", 0);
	for (i = 0; i < cn->nvals; i++) {
		v = &cn->vals[i];
		if (strlen(v->bytes) != v->len || name_keypair_valid(v->bytes))
			continue;
		if (g->dn.len > v->len + 3 &&
		    strncasecmp(g->dn.s, "cn=", 3) == 0 &&
		    strncasecmp(g->dn.s + 3, v->bytes, v->len) == 0 &&
		    g->dn.s[3 + v->len] == ',')
			return gtext_set(&g->name, v->bytes, v->len);
	}
	return gtext_set(&g->name, cn->vals[0].bytes, cn->vals[0].len);
}

static int
group_collect(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct group_list *l = ctx;
	struct kb_group *g = NULL, **ng;
	const struct kb_attr *cn = NULL, *at;
	size_t i, k, ncap;
	int r = KB_ERR_NOMEM;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 16;
		if ((ng = reallocarray(l->groups, ncap, sizeof(*ng))) == NULL)
			return KB_ERR_NOMEM;
		l->groups = ng;
		l->cap = ncap;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (r = gtext_set(&g->dn, dn, strlen(dn))) != 0)
		goto out;
	for (i = 0; i < nattrs; i++) {
		at = &attrs[i];
		if (strcasecmp(at->name, AT_CN) == 0)
			cn = at;
		else if (strcasecmp(at->name, AT_DESC) == 0 && at->nvals > 0 &&
		    g->description.s == NULL) {
			if ((r = gtext_set(&g->description, at->vals[0].bytes,
			    at->vals[0].len)) != 0)
				goto out;
		} else if (strcasecmp(at->name, AT_MEMBER) == 0 &&
		    g->members == NULL) {
			if ((g->members = calloc(at->nvals + 1,
			    sizeof(*g->members))) == NULL) {
				r = KB_ERR_NOMEM;
				goto out;
			}
			for (k = 0; k < at->nvals; k++) {
				if ((r = gtext_set(&g->members[k],
				    at->vals[k].bytes, at->vals[k].len)) != 0)
					goto out;
				g->nmembers++;
			}
		} else if (strcasecmp(at->name, AT_TOMBSTONE) == 0 &&
		    g->tombstones == NULL) {
			if ((g->tombstones = calloc(at->nvals + 1,
			    sizeof(*g->tombstones))) == NULL) {
				r = KB_ERR_NOMEM;
				goto out;
			}
			for (k = 0; k < at->nvals; k++) {
				if ((r = gtext_set(&g->tombstones[k],
				    at->vals[k].bytes, at->vals[k].len)) != 0)
					goto out;
				g->ntombstones++;
			}
		}
	}
	if ((r = group_set_name(g, cn)) != 0)
		goto out;
	l->groups[l->n++] = g;
	g = NULL;
	r = 0;
 out:
	group_free(g);
	return r;
}

static int
group_cmp(const void *x, const void *y)
{
	const struct kb_group *a = *(struct kb_group *const *)x;
	const struct kb_group *b = *(struct kb_group *const *)y;
	size_t n = a->name.len < b->name.len ? a->name.len : b->name.len;
	int c;

	if ((c = memcmp(a->name.s, b->name.s, n)) != 0)
		return c;
	return a->name.len < b->name.len ? -1 : a->name.len > b->name.len;
}

static int
text_cmp(const void *x, const void *y)
{
	const struct kb_text *a = x, *b = y;
	size_t n = a->len < b->len ? a->len : b->len;
	int c;

	if ((c = memcmp(a->s, b->s, n)) != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Read group NAME: 0, KB_ERR_DIR_NO_SUCH_OBJECT or another code. */
static int
group_read(struct kb_admin *a, const char *name, struct kb_group **gp)
{
	struct group_list l = { NULL, 0, 0 };
	char *dn = NULL;
	int r;

	*gp = NULL;
	if ((r = admin_group_dn(a, name, &dn)) != 0)
		goto out;
	if ((r = dir_search(a->dir, dn, KB_SCOPE_BASE, GROUP_FILTER,
	    group_attrs, 2, group_collect, &l, NULL)) != 0)
		goto out;
	if (l.n != 1) {
		r = l.n == 0 ? KB_ERR_DIR_NO_SUCH_OBJECT : KB_ERR_DIR_AMBIGUOUS;
		goto out;
	}
	if (l.groups[0]->nmembers > 1)
		qsort(l.groups[0]->members, l.groups[0]->nmembers,
		    sizeof(*l.groups[0]->members), text_cmp);
	*gp = l.groups[0];
	l.n = 0;
	r = 0;
 out:
	group_list_free(&l);
	free(dn);
	return r;
}

/* 1 if g holds tombstone value t exactly. */
static int
group_has_tombstone(const struct kb_group *g, const char *t)
{
	size_t i, len = strlen(t);

	for (i = 0; i < g->ntombstones; i++)
		if (g->tombstones[i].len == len &&
		    memcmp(g->tombstones[i].s, t, len) == 0)
			return 1;
	return 0;
}

static int
group_has_member(const struct kb_group *g, const char *m)
{
	size_t i, len = strlen(m);

	for (i = 0; i < g->nmembers; i++)
		if (g->members[i].len == len &&
		    memcmp(g->members[i].s, m, len) == 0)
			return 1;
	return 0;
}

static void
ref_list_free(struct ref_list *rl)
{
	size_t i;

	for (i = 0; i < rl->n; i++) {
		free(rl->refs[i].pair);
		free(rl->refs[i].value);
	}
	free(rl->refs);
	memset(rl, 0, sizeof(*rl));
}

/*
 * The attachments naming group NAME byte for byte, on any key pair.
 * keyboundAttachment has an equality rule only (no substring match), so
 * this reads every attached pair and looks: group delete, show and
 * create are rare; logins never do this.
 */
static int
group_refs(struct kb_admin *a, const char *name, struct ref_list *rl)
{
	struct kb_pair **pairs = NULL;
	struct group_ref *nr;
	size_t i, k, n = 0;
	int r;

	memset(rl, 0, sizeof(*rl));
	if ((r = pair_search(a, "(&(objectClass=" OC_KEYPAIR ")(" AT_ATTACH
	    "=*))", &pairs, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		for (k = 0; k < pairs[i]->nattach; k++) {
			if (!attachment_names_group(pairs[i]->attach[k].s,
			    pairs[i]->attach[k].len, name))
				continue;
			if ((nr = reallocarray(rl->refs, rl->n + 1,
			    sizeof(*nr))) == NULL) {
				r = KB_ERR_NOMEM;
				goto out;
			}
			rl->refs = nr;
			nr = &rl->refs[rl->n];
			memset(nr, 0, sizeof(*nr));
			rl->n++;
			if ((nr->pair = strndup(pairs[i]->name.s,
			    pairs[i]->name.len)) == NULL ||
			    (nr->value = strdup(pairs[i]->attach[k].s)) ==
			    NULL) {
				r = KB_ERR_NOMEM;
				goto out;
			}
			nr->timed = pair_attachment_end(pairs[i], nr->value,
			    strlen(nr->value), &nr->end, NULL);
		}
	}
	r = 0;
 out:
	if (r != 0)
		ref_list_free(rl);
	pair_free_all(pairs, n);
	return r;
}

/* "a@+g on PAIR, ..." to stderr after prefix. */
static void
refs_explain(const char *prefix, const struct ref_list *rl)
{
	size_t i;

	fflush(stdout);
	fprintf(stderr, "keybound: %s", prefix);
	for (i = 0; i < rl->n; i++) {
		fputs(i > 0 ? ", " : "", stderr);
		text_safe(stderr, rl->refs[i].value,
		    strlen(rl->refs[i].value));
		fputs(" on ", stderr);
		text_safe(stderr, rl->refs[i].pair, strlen(rl->refs[i].pair));
	}
	fputc('\n', stderr);
}

/* A group name argument: an exit status (EXIT_USAGE, reported). */
static int
check_group_name(const char *name)
{
	if (name_keypair_valid(name) == 0)
		return EXIT_OK;
	fflush(stdout);
	fputs("keybound: group: invalid group name ", stderr);
	text_safe(stderr, name, strlen(name) > 80 ? 80 : strlen(name));
	fprintf(stderr, "%s (2-64 characters: a letter, then letters, "
	    "digits, ':', '_', '-')\n", strlen(name) > 80 ? "..." : "");
	return EXIT_USAGE;
}

/* A directory error reading or writing group name; an exit status. */
static int
group_error(struct kb_admin *a, const char *what, const char *name, int r)
{
	const char *detail = dir_last_error(a->dir);

	if (r == KB_ERR_DIR_NO_SUCH_OBJECT) {
		admin_err("no host group %s", name);
		return EXIT_NOTFOUND;
	}
	admin_err("%s %s: %s%s%s", what, name, kb_strerror(r),
	    detail[0] != '\0' ? ": " : "", detail);
	return EXIT_FAIL;
}

static void
json_texts(const struct kb_text *v, size_t n)
{
	size_t i;

	putchar('[');
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		json_string(stdout, v[i].s, v[i].len);
	}
	putchar(']');
}

static void
json_strs(const char *const *v, size_t n)
{
	size_t i;

	putchar('[');
	for (i = 0; i < n; i++) {
		if (i > 0)
			putchar(',');
		json_string(stdout, v[i], strlen(v[i]));
	}
	putchar(']');
}

/* group create NAME [-d TEXT] */
static int
group_create(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "description", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	const char *oc[] = { OC_GROUP, NULL };
	const char *cn[] = { NULL, NULL };
	const char *desc[] = { NULL, NULL };
	struct kb_mod mods[3];
	struct ref_list rl = { NULL, 0 };
	const char *name;
	char *dn = NULL;
	size_t nmods = 2;
	int ch, r, separate, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "d:", longopts)) != -1) {
		if (ch != 'd')
			return EXIT_USAGE;
		desc[0] = optarg;
	}
	if (argc - optind != 1)
		return admin_usage(argv[0], "group create: expected one NAME");
	name = argv[optind];
	if ((status = check_group_name(name)) != EXIT_OK)
		return status;
	if (desc[0] != NULL && (status = admin_text_valid("-d",
	    desc[0])) != EXIT_OK)
		return status;
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	status = EXIT_FAIL;
	separate = !admin_same_dn(admin_group_base(a), a->cfg->base);
	if (separate && (r = pair_exists(a, name)) != 0) {
		if (r == 1) {
			admin_err("a key pair %s exists: key pairs and groups "
			    "share one name space", name);
			status = EXIT_EXISTS;
		} else
			admin_err("cannot read key pair %s: %s", name,
			    kb_strerror(r));
		goto out;
	}
	if ((r = group_refs(a, name, &rl)) != 0) {
		admin_err("cannot search attachments: %s", kb_strerror(r));
		goto out;
	}
	if (rl.n > 0) {
		refs_explain("attachments already name the group (left by "
		    "an interrupted command?): ", &rl);
		admin_err("detach them before creating group %s", name);
		status = EXIT_EXISTS;
		goto out;
	}
	cn[0] = name;
	mods[0].op = KB_MOD_ADD;
	mods[0].attr = "objectClass";
	mods[0].vals = oc;
	mods[1].op = KB_MOD_ADD;
	mods[1].attr = AT_CN;
	mods[1].vals = cn;
	if (desc[0] != NULL && desc[0][0] != '\0') {
		mods[2].op = KB_MOD_ADD;
		mods[2].attr = AT_DESC;
		mods[2].vals = desc;
		nmods = 3;
	}
	if ((r = admin_group_dn(a, name, &dn)) != 0) {
		admin_err("%s", kb_strerror(r));
		goto out;
	}
	if ((r = admin_add(a, dn, mods, nmods)) != 0) {
		if (r == KB_ERR_DIR_ALREADY_EXISTS) {
			admin_err("%s %s already exists", separate ?
			    "host group" : "a key pair or host group", name);
			status = EXIT_EXISTS;
		} else
			status = group_error(a, "cannot create host group",
			    name, r);
		admin_audit(a, "group create", name, NULL, 0, kb_strerror(r));
		goto out;
	}
	/* a key pair of that name added meanwhile: take ours back */
	if (separate && pair_exists(a, name) != 0) {
		(void)dir_delete(a->dir, dn, NULL);
		admin_err("a key pair %s was created meanwhile: group not "
		    "created", name);
		admin_audit(a, "group create", name, NULL, 0, "name taken");
		status = EXIT_EXISTS;
		goto out;
	}
	admin_audit(a, "group create", name, NULL, 0, "ok");
	if (a->json) {
		printf("{\"name\":");
		json_string(stdout, name, strlen(name));
		printf(",\"description\":");
		json_string_or_null(stdout, nmods == 3 ? desc[0] : NULL);
		printf(",\"members\":[],\"created\":true}\n");
	} else
		printf("created host group %s\n", name);
	status = EXIT_OK;
 out:
	ref_list_free(&rl);
	free(dn);
	return status;
}

/* Instance id arguments, repeats dropped; an exit status. */
static int
instances_parse(int argc, char **argv, const char ***valsp, size_t *np)
{
	const char **vals;
	size_t i, n = 0;
	int k;

	*valsp = NULL;
	*np = 0;
	if (argc > ADMIN_MAX_TARGETS) {
		admin_err("too many instances (at most %d)", ADMIN_MAX_TARGETS);
		return EXIT_USAGE;
	}
	if ((vals = calloc((size_t)argc + 1, sizeof(*vals))) == NULL) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		return EXIT_FAIL;
	}
	for (k = 0; k < argc; k++) {
		if (name_instance_valid(argv[k]) != 0) {
			fflush(stdout);
			fputs("keybound: group: invalid instance id ", stderr);
			text_safe(stderr, argv[k], strlen(argv[k]) > 80 ? 80 :
			    strlen(argv[k]));
			fprintf(stderr, "%s (1-253 letters, digits, '.', '_', "
			    "'-', starting with a letter or digit)\n",
			    strlen(argv[k]) > 80 ? "..." : "");
			free(vals);
			return EXIT_USAGE;
		}
		for (i = 0; i < n; i++)
			if (strcmp(vals[i], argv[k]) == 0)
				break;
		if (i == n)
			vals[n++] = argv[k];
	}
	*valsp = vals;
	*np = n;
	return EXIT_OK;
}

/*
 * Add (or delete) exactly the members missing from (or present in) the
 * group, one modify per round, again when another admin raced us.
 * present[i] says whether vals[i] was a member at the last read.
 */
static int
members_change(struct kb_admin *a, const char *name, enum kb_mod_op op,
    const char *const *vals, size_t n, unsigned char *present)
{
	struct kb_group *g = NULL;
	struct kb_mod mods[2];
	const char **todo = NULL, **tombs = NULL;
	size_t i, k, nt, nmods;
	int round, r = KB_ERR_INTERNAL;

	if ((todo = calloc(n + 1, sizeof(*todo))) == NULL ||
	    (tombs = calloc(n + 1, sizeof(*tombs))) == NULL) {
		free(todo);
		return KB_ERR_NOMEM;
	}
	for (round = 0; round < GROUP_ROUNDS; round++) {
		group_free(g);
		g = NULL;
		if ((r = group_read(a, name, &g)) != 0)
			goto out;
		for (i = 0, k = 0, nt = 0; i < n; i++) {
			present[i] = (unsigned char)group_has_member(g,
			    vals[i]);
			if (present[i] != (op == KB_MOD_DELETE))
				continue;
			todo[k++] = vals[i];
			/* signed: a removed member leaves a tombstone */
			if (op == KB_MOD_DELETE && a->signer != NULL &&
			    !group_has_tombstone(g, vals[i]))
				tombs[nt++] = vals[i];
		}
		todo[k] = NULL;
		tombs[nt] = NULL;
		if (k == 0) {
			r = 0;
			goto out;
		}
		mods[0].op = op;
		mods[0].attr = AT_MEMBER;
		mods[0].vals = todo;
		nmods = 1;
		if (nt > 0) {
			mods[1].op = KB_MOD_ADD;
			mods[1].attr = AT_TOMBSTONE;
			mods[1].vals = tombs;
			nmods = 2;
		}
		r = admin_modify(a, g->dn.s, mods, nmods, "(objectClass="
		    OC_GROUP ")", 0);
		/* no assertion control (389-ds, AD): the group was just read */
		if (r == KB_ERR_DIR_NO_CONTROL)
			r = admin_modify(a, g->dn.s, mods, nmods, NULL, 0);
		if (r == KB_ERR_DIR_ASSERTION)
			r = KB_ERR_DIR_NO_SUCH_OBJECT;
		if (r != KB_ERR_DIR_VALUE_EXISTS &&
		    r != KB_ERR_DIR_NO_SUCH_VALUE)
			goto out;
	}
 out:
	group_free(g);
	free(todo);
	free(tombs);
	return r;
}

/* group add|remove NAME INSTANCE... */
static int
group_members(struct kb_admin *a, int argc, char **argv, enum kb_mod_op op)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ NULL, 0, NULL, 0 }
	};
	const char *verb = op == KB_MOD_ADD ? "add" : "remove";
	const char **vals = NULL, **done = NULL, **not = NULL, *name;
	unsigned char *present = NULL;
	struct kb_target *audit = NULL;
	size_t i, n = 0, nd = 0, nn = 0;
	int ch, r, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1)
		return EXIT_USAGE;
	if (argc - optind < 2)
		return admin_usage(argv[0], "group %s: expected NAME and at "
		    "least one INSTANCE", verb);
	name = argv[optind];
	if ((status = check_group_name(name)) != EXIT_OK ||
	    (status = instances_parse(argc - optind - 1, argv + optind + 1,
	    &vals, &n)) != EXIT_OK)
		return status;
	status = EXIT_FAIL;
	if ((present = calloc(n + 1, 1)) == NULL ||
	    (audit = calloc(n + 1, sizeof(*audit))) == NULL ||
	    (done = calloc(n + 1, sizeof(*done))) == NULL ||
	    (not = calloc(n + 1, sizeof(*not))) == NULL) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		goto out;
	r = members_change(a, name, op, vals, n, present);
	for (i = 0; i < n; i++)
		audit[i].text = vals[i];
	admin_audit(a, op == KB_MOD_ADD ? "group add" : "group remove", name,
	    audit, n, r == 0 ? "ok" : kb_strerror(r));
	if (r != 0) {
		status = group_error(a, op == KB_MOD_ADD ? "cannot add to "
		    "host group" : "cannot remove from host group", name, r);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (present[i] == (op == KB_MOD_DELETE))
			done[nd++] = vals[i];
		else
			not[nn++] = vals[i];
	}
	if (a->json) {
		printf("{\"name\":");
		json_string(stdout, name, strlen(name));
		printf(op == KB_MOD_ADD ? ",\"added\":" : ",\"removed\":");
		json_strs(done, nd);
		printf(op == KB_MOD_ADD ? ",\"already_members\":" :
		    ",\"not_members\":");
		json_strs(not, nn);
		printf("}\n");
	} else {
		for (i = 0; i < nd; i++)
			printf("%s %s %s %s\n", op == KB_MOD_ADD ? "added" :
			    "removed", done[i], op == KB_MOD_ADD ? "to" : "from",
			    name);
		for (i = 0; i < nn; i++)
			printf("%s %s %s\n", not[i], op == KB_MOD_ADD ?
			    "already in" : "not in", name);
	}
	status = EXIT_OK;
 out:
	free(vals);
	free(present);
	free(audit);
	free(done);
	free(not);
	return status;
}

/* Put group g back after a delete that turned out to race an attach. */
static void
group_restore(struct kb_admin *a, const struct kb_group *g, const char *name)
{
	const char *oc[] = { OC_GROUP, NULL };
	const char *cn[] = { name, NULL };
	const char *desc[] = { g->description.s, NULL };
	const char **members = NULL;
	struct kb_mod mods[4];
	size_t i, nmods = 2;
	int r;

	if ((members = calloc(g->nmembers + 1, sizeof(*members))) == NULL) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		return;
	}
	for (i = 0; i < g->nmembers; i++)
		members[i] = g->members[i].s;
	mods[0].op = KB_MOD_ADD;
	mods[0].attr = "objectClass";
	mods[0].vals = oc;
	mods[1].op = KB_MOD_ADD;
	mods[1].attr = AT_CN;
	mods[1].vals = cn;
	if (g->nmembers > 0) {
		mods[nmods].op = KB_MOD_ADD;
		mods[nmods].attr = AT_MEMBER;
		mods[nmods++].vals = members;
	}
	if (g->description.s != NULL && g->description.len > 0) {
		mods[nmods].op = KB_MOD_ADD;
		mods[nmods].attr = AT_DESC;
		mods[nmods++].vals = desc;
	}
	if ((r = admin_add(a, g->dn.s, mods, nmods)) != 0 &&
	    r != KB_ERR_DIR_ALREADY_EXISTS)
		admin_err("could not put host group %s back: %s", name,
		    kb_strerror(r));
	else
		admin_err("host group %s put back as it was", name);
	free(members);
}

/* group delete NAME */
static int
group_delete(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ NULL, 0, NULL, 0 }
	};
	struct ref_list rl = { NULL, 0 };
	struct kb_group *g = NULL;
	const char *name;
	int ch, r, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return admin_usage(argv[0], "group delete: expected one NAME");
	name = argv[optind];
	if ((status = check_group_name(name)) != EXIT_OK)
		return status;
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	if ((r = group_read(a, name, &g)) != 0) {
		status = group_error(a, "cannot read host group", name, r);
		goto out;
	}
	status = EXIT_FAIL;
	if ((r = group_refs(a, name, &rl)) != 0) {
		admin_err("cannot search attachments: %s", kb_strerror(r));
		goto out;
	}
	if (rl.n > 0) {
		refs_explain("cannot delete host group: attached as ", &rl);
		admin_audit(a, "group delete", name, NULL, 0, "attached");
		status = EXIT_EXISTS;
		goto out;
	}
	r = dir_delete(a->dir, g->dn.s, GROUP_FILTER);
	if (r == KB_ERR_DIR_NO_CONTROL)	/* 389-ds, AD: just read as a group */
		r = dir_delete(a->dir, g->dn.s, NULL);
	if (r != 0) {
		status = group_error(a, "cannot delete host group", name,
		    r == KB_ERR_DIR_ASSERTION ? KB_ERR_DIR_NO_SUCH_OBJECT : r);
		admin_audit(a, "group delete", name, NULL, 0, kb_strerror(r));
		goto out;
	}
	/* an attach that checked the group before our delete landed */
	ref_list_free(&rl);
	if ((r = group_refs(a, name, &rl)) != 0 || rl.n > 0) {
		if (r != 0)
			admin_err("cannot search attachments again: %s",
			    kb_strerror(r));
		else
			refs_explain("attached meanwhile as ", &rl);
		group_restore(a, g, name);
		admin_audit(a, "group delete", name, NULL, 0, "attached");
		status = r != 0 ? EXIT_FAIL : EXIT_EXISTS;
		goto out;
	}
	admin_audit(a, "group delete", name, NULL, 0, "ok");
	if (a->json) {
		printf("{\"name\":");
		json_string(stdout, name, strlen(name));
		printf(",\"deleted\":true}\n");
	} else
		printf("deleted host group %s\n", name);
	status = EXIT_OK;
 out:
	ref_list_free(&rl);
	group_free(g);
	return status;
}

static void
json_group(const struct kb_group *g)
{
	printf("{\"name\":");
	json_string(stdout, g->name.s, g->name.len);
	printf(",\"description\":");
	if (g->description.s != NULL)
		json_string(stdout, g->description.s, g->description.len);
	else
		printf("null");
	printf(",\"members\":");
	json_texts(g->members, g->nmembers);
}

/* group list */
static int
group_list(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ NULL, 0, NULL, 0 }
	};
	struct group_list l = { NULL, 0, 0 };
	size_t i, k, w, wname = 4;
	int ch, r, status;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1)
		return EXIT_USAGE;
	if (argc != optind)
		return admin_usage(argv[0], "group list: unexpected argument");
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	if ((r = dir_search(a->dir, admin_group_base(a), KB_SCOPE_ONE,
	    GROUP_FILTER, group_attrs, 0, group_collect, &l, NULL)) != 0) {
		admin_err("cannot list host groups: %s", kb_strerror(r));
		status = EXIT_FAIL;
		goto out;
	}
	if (l.n > 1)
		qsort(l.groups, l.n, sizeof(*l.groups), group_cmp);
	for (i = 0; i < l.n; i++)
		if (l.groups[i]->nmembers > 1)
			qsort(l.groups[i]->members, l.groups[i]->nmembers,
			    sizeof(*l.groups[i]->members), text_cmp);
	if (a->json) {
		putchar('[');
		for (i = 0; i < l.n; i++) {
			if (i > 0)
				putchar(',');
			json_group(l.groups[i]);
			putchar('}');
		}
		printf("]\n");
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		w = text_safe_width(l.groups[i]->name.s, l.groups[i]->name.len);
		wname = w > wname ? w : wname;
	}
	printf("%-*s  %7s  %s\n", (int)wname, "NAME", "MEMBERS", "DESCRIPTION");
	for (i = 0; i < l.n; i++) {
		text_safe_pad(stdout, l.groups[i]->name.s,
		    l.groups[i]->name.len, wname);
		printf("  %7zu  ", l.groups[i]->nmembers);
		if (l.groups[i]->description.s != NULL)
			text_safe(stdout, l.groups[i]->description.s,
			    l.groups[i]->description.len);
		else
			putchar('-');
		putchar('\n');
		for (k = 0; k < l.groups[i]->nmembers; k++)
			if (name_instance_valid(l.groups[i]->members[k].s) ||
			    strlen(l.groups[i]->members[k].s) !=
			    l.groups[i]->members[k].len) {
				fflush(stdout);
				fputs("keybound: warning: host group ", stderr);
				text_safe(stderr, l.groups[i]->name.s,
				    l.groups[i]->name.len);
				fputs(": member is not an instance id: ",
				    stderr);
				text_safe(stderr, l.groups[i]->members[k].s,
				    l.groups[i]->members[k].len);
				fputc('\n', stderr);
			}
	}
 out:
	group_list_free(&l);
	return status;
}

/* " (ends T, 3h59m left)" or " (ended T)" for an attachment's end. */
static void
print_end(time_t end, time_t now)
{
	char when[TIME_RFC3339_LEN], left[32];

	if (time_format_rfc3339(end, when, sizeof(when)) != 0)
		snprintf(when, sizeof(when), "?");
	if (end > now) {
		time_format_left(end - now, left, sizeof(left));
		printf(" (ends %s, %s left)", when, left);
	} else
		printf(" (ended %s)", when);
}

/* group show NAME */
static int
group_show(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ NULL, 0, NULL, 0 }
	};
	struct ref_list rl = { NULL, 0 };
	struct kb_group *g = NULL;
	char when[TIME_RFC3339_LEN];
	const char *name;
	time_t now = time(NULL);
	size_t i;
	int ch, r, status;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return admin_usage(argv[0], "group show: expected one NAME");
	name = argv[optind];
	if ((status = check_group_name(name)) != EXIT_OK)
		return status;
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	if ((r = group_read(a, name, &g)) != 0) {
		status = group_error(a, "cannot read host group", name, r);
		goto out;
	}
	if ((r = group_refs(a, name, &rl)) != 0) {
		admin_err("cannot search attachments: %s", kb_strerror(r));
		status = EXIT_FAIL;
		goto out;
	}
	if (a->json) {
		json_group(g);
		printf(",\"attachments\":[");
		for (i = 0; i < rl.n; i++) {
			printf("%s{\"name\":", i > 0 ? "," : "");
			json_string(stdout, rl.refs[i].pair,
			    strlen(rl.refs[i].pair));
			printf(",\"attachment\":");
			json_string(stdout, rl.refs[i].value,
			    strlen(rl.refs[i].value));
			printf(",\"until\":");
			json_string_or_null(stdout, rl.refs[i].timed &&
			    time_format_rfc3339(rl.refs[i].end, when,
			    sizeof(when)) == 0 ? when : NULL);
			printf(",\"expired\":%s}", rl.refs[i].timed &&
			    rl.refs[i].end <= now ? "true" : "false");
		}
		printf("]}\n");
		goto out;
	}
	printf("%-13s ", "name:");
	text_safe(stdout, g->name.s, g->name.len);
	printf("\n%-13s ", "description:");
	if (g->description.s != NULL)
		text_safe(stdout, g->description.s, g->description.len);
	else
		putchar('-');
	printf("\n%-13s ", "members:");
	for (i = 0; i < g->nmembers; i++) {
		fputs(i > 0 ? ", " : "", stdout);
		text_safe(stdout, g->members[i].s, g->members[i].len);
	}
	if (g->nmembers == 0)
		putchar('-');
	printf("\n%-13s ", "attachments:");
	for (i = 0; i < rl.n; i++) {
		if (i > 0)
			printf("\n%-13s ", "");
		text_safe(stdout, rl.refs[i].value, strlen(rl.refs[i].value));
		fputs(" on ", stdout);
		text_safe(stdout, rl.refs[i].pair, strlen(rl.refs[i].pair));
		if (rl.refs[i].timed)
			print_end(rl.refs[i].end, now);
	}
	if (rl.n == 0)
		putchar('-');
	putchar('\n');
 out:
	ref_list_free(&rl);
	group_free(g);
	return status;
}

int
cmd_group(struct kb_admin *a, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct kb_admin *, int, char **);
	} subs[] = {
		{ "create", group_create },
		{ "delete", group_delete },
		{ "list", group_list },
		{ "show", group_show },
		{ NULL, NULL }
	};
	char **av = NULL;
	int i, k, status;

	if (argc < 2 || argv[1][0] == '-')
		return admin_usage(argv[0], "expected create, add, remove, "
		    "delete, list or show");
	/* the subcommand's options and operands, still named "group" */
	if ((av = calloc((size_t)argc, sizeof(*av))) == NULL) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		return EXIT_FAIL;
	}
	av[0] = argv[0];
	for (k = 2; k < argc; k++)
		av[k - 1] = argv[k];
	if (strcmp(argv[1], "add") == 0)
		status = group_members(a, argc - 1, av, KB_MOD_ADD);
	else if (strcmp(argv[1], "remove") == 0)
		status = group_members(a, argc - 1, av, KB_MOD_DELETE);
	else {
		for (i = 0; subs[i].name != NULL; i++)
			if (strcmp(subs[i].name, argv[1]) == 0)
				break;
		if (subs[i].name == NULL)
			status = admin_usage(argv[0], "unknown subcommand; "
			    "expected create, add, remove, delete, list or "
			    "show");
		else
			status = subs[i].fn(a, argc - 1, av);
	}
	free(av);
	return status;
}
