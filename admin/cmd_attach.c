/*
 * cmd_attach.c - the writes that change a key pair's life: attach, detach
 * and delete.
 *
 * Each is one atomic LDAP operation on one entry: attach and detach add or
 * delete exact keyboundAttachment values (permissive modify, so a value
 * already there or already gone is not an error, and a value another admin
 * adds meanwhile is never lost); delete carries an assertion that no
 * attachment exists, so an attach racing it either lands first (and the
 * delete fails) or finds no entry (and the attach fails).
 *
 * Active Directory and 389-ds have no assertion control (RFC 4528) and
 * refuse the delete as an unavailable critical extension.  delete then reads the key
 * pair, refuses if it is attached, and deletes it unguarded: an attach
 * landing between the read and the delete is lost with the entry, as if
 * the delete had come after a detach (the key logs in nowhere and the
 * user's password is no longer refused there).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "kb.h"
#include "clock.h"
#include "clock.h"
#include "config.h"
#include "directory.h"
#include "lookup.h"
#include "names.h"
#include "admin.h"

#define REPLACE_ROUNDS		8	/* tries to settle racing --replace */
#define CHANGE_ROUNDS		8	/* read-write rounds racing admins */
#define DELETE_ASSERTION	"(&(objectClass=" OC_KEYPAIR ")(!(" \
				    AT_ATTACH "=*)))"

/* Parsed, de-duplicated targets of one command. */
struct targets {
	struct kb_target *t;
	size_t n;
};

static void
targets_clear(struct targets *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		target_clear(&ts->t[i]);
	free(ts->t);
	ts->t = NULL;
	ts->n = 0;
}

/*
 * Parse argv[0..argc) as targets (USER@+GROUP too when groups is set),
 * dropping repeats; an exit status.
 */
static int
targets_parse(int argc, char **argv, struct targets *ts, int groups)
{
	size_t i;
	int k, r;

	memset(ts, 0, sizeof(*ts));
	if (argc > ADMIN_MAX_TARGETS)
		return admin_fail(EXIT_USAGE, "too many targets (at most %d)",
		    ADMIN_MAX_TARGETS);
	if ((ts->t = calloc((size_t)argc + 1, sizeof(*ts->t))) == NULL) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		return EXIT_FAIL;
	}
	for (k = 0; k < argc; k++) {
		for (i = 0; i < ts->n; i++)
			if (strcmp(ts->t[i].text, argv[k]) == 0)
				break;
		if (i < ts->n)
			continue;
		r = groups ? target_parse_attach(argv[k], &ts->t[ts->n]) :
		    target_parse(argv[k], &ts->t[ts->n]);
		if (r != 0)
			return admin_fail(EXIT_USAGE, "%s: not USER@INSTANCE%s: "
			    "%s", argv[k], groups ? " or USER@+GROUP" : "",
			    r == KB_ERR_KEYPAIR_NAME ? "invalid group name" :
			    kb_strerror(r));
		ts->n++;
	}
	return EXIT_OK;
}

/* bytes of a --targets-from file */
#define TARGETS_FILE_MAX	(4 * 1024 * 1024)

/*
 * The targets of a command: its arguments, then with --targets-from the
 * lines of path ("-": stdin; blank lines and "#" comments skipped).
 * *listp and *bufp are the caller's to free; an exit status.
 */
static int
targets_collect(const char *path, int argc, char **argv, char ***listp,
    int *np, char **bufp)
{
	char **list = NULL, *buf = NULL, *line, *end, *nl;
	size_t len = 0, cap = 0;
	ssize_t got;
	int fd = STDIN_FILENO, n = 0, status = EXIT_FAIL;

	*listp = NULL;
	*bufp = NULL;
	if (path != NULL && strcmp(path, "-") != 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return admin_fail(EXIT_USAGE, "--targets-from %s: %s", path,
		    strerror(errno));
	while (path != NULL) {
		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > TARGETS_FILE_MAX + 1) {
				status = admin_fail(EXIT_USAGE,
				    "--targets-from %s: larger than %d bytes",
				    path, TARGETS_FILE_MAX);
				goto out;
			}
			if ((end = realloc(buf, cap)) == NULL)
				goto nomem;
			buf = end;
		}
		got = read(fd, buf + len, cap - len - 1);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			status = admin_fail(EXIT_USAGE, "--targets-from %s: %s",
			    path, strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if ((list = calloc((size_t)argc + len / 2 + 2, sizeof(*list))) == NULL)
		goto nomem;
	for (n = 0; n < argc; n++)
		list[n] = argv[n];
	if (buf != NULL) {
		buf[len] = '\0';
		if (memchr(buf, '\0', len) != NULL) {
			status = admin_fail(EXIT_USAGE, "--targets-from %s: "
			    "not a text file", path);
			goto out;
		}
		for (line = buf; *line != '\0'; line = nl) {
			if ((nl = strchr(line, '\n')) != NULL)
				*nl++ = '\0';
			else
				nl = line + strlen(line);
			end = line + strlen(line);
			while (end > line && (end[-1] == '\r' ||
			    end[-1] == ' ' || end[-1] == '\t'))
				*--end = '\0';
			if (line[0] != '\0' && line[0] != '#')
				list[n++] = line;
		}
	}
	*listp = list;
	*np = n;
	*bufp = buf;
	list = NULL;
	buf = NULL;
	status = EXIT_OK;
	goto out;
 nomem:
	status = admin_fail(EXIT_FAIL, "%s", kb_strerror(KB_ERR_NOMEM));
 out:
	if (fd != STDIN_FILENO && fd != -1)
		close(fd);
	free(list);
	free(buf);
	return status;
}

static void
report_missing(const char *name, int r)
{
	(void)pair_read_failed(name, r);
}

static void
report_write_error(struct kb_admin *a, const char *what, const char *name,
    int r)
{
	const char *detail = dir_last_error(a->dir);

	if (r == KB_ERR_DIR_NO_SUCH_OBJECT || r == KB_ERR_DIR_ASSERTION)
		admin_fail(EXIT_NOTFOUND, "%s %s: no such key pair (deleted "
		    "meanwhile?)", what, name);
	else
		admin_fail(admin_status(r), "%s %s: %s%s%s", what, name,
		    kb_strerror(r), detail[0] != '\0' ? ": " : "", detail);
}

/* One modify adding or deleting the values vals of keyboundAttachment. */
static int
modify_attachments(struct kb_admin *a, const char *dn, enum kb_mod_op op,
    const char *const *vals)
{
	struct kb_mod mod;

	mod.op = op;
	mod.attr = AT_ATTACH;
	mod.vals = vals;
	return admin_modify(a, dn, &mod, 1, NULL, 0);
}

/*
 * Append to list (room for every End value of p) the End values of p
 * that belong to attachment value, except keep (may be NULL).
 */
static void
ends_of(const struct kb_pair *p, const char *value, const char *keep,
    const char **list, size_t *np)
{
	size_t i, k;

	for (i = 0; i < p->nends; i++) {
		if (strlen(p->ends[i].s) != p->ends[i].len ||
		    !end_value_of(p->ends[i].s, p->ends[i].len, value,
		    strlen(value)))
			continue;
		if (keep != NULL && strcmp(p->ends[i].s, keep) == 0)
			continue;
		for (k = 0; k < *np; k++)
			if (strcmp(list[k], p->ends[i].s) == 0)
				break;
		if (k == *np)
			list[(*np)++] = p->ends[i].s;
	}
	list[*np] = NULL;
}

/* 1 if p holds the End value e exactly. */
static int
pair_has_end(const struct kb_pair *p, const char *e)
{
	size_t i, len = strlen(e);

	for (i = 0; i < p->nends; i++)
		if (p->ends[i].len == len && memcmp(p->ends[i].s, e, len) == 0)
			return 1;
	return 0;
}

/* What one attach or detach changes: the op and, for attach, the end. */
struct change {
	enum kb_mod_op op;	/* KB_MOD_ADD: attach, KB_MOD_DELETE: detach */
	int timed;		/* attach with --for / --until */
	char gtime[TIME_GTIME_LEN];
};

/* "VALUE YYYYMMDDHHMMSSZ" for each value (NULL-terminated), or NULL. */
static char **
end_values_new(const char *const *vals, size_t n, const char *gtime)
{
	char **ends;
	size_t i;

	if ((ends = calloc(n + 1, sizeof(*ends))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (asprintf(&ends[i], "%s %s", vals[i], gtime) < 0) {
			ends[i] = NULL;
			while (i > 0)
				free(ends[--i]);
			free(ends);
			return NULL;
		}
	}
	return ends;
}

static void
end_values_free(char **ends)
{
	size_t i;

	for (i = 0; ends != NULL && ends[i] != NULL; i++)
		free(ends[i]);
	free(ends);
}

#define ATTACH_ASSERTION	"(!(" AT_BLOCKED "=TRUE))"

/*
 * Append target to the tombstones to add (list, *np of them) unless p
 * has it already or it is listed.
 */
static void
tomb_add(const struct kb_pair *p, const char *target, const char **list,
    size_t *np)
{
	size_t i, len = strlen(target);

	for (i = 0; i < p->ntombstones; i++)
		if (p->tombstones[i].len == len &&
		    memcmp(p->tombstones[i].s, target, len) == 0)
			return;
	for (i = 0; i < *np; i++)
		if (strcmp(list[i], target) == 0)
			return;
	list[(*np)++] = target;
}

/*
 * Attach (or detach) the n values on key pair name as one modify per
 * round: add the attachment values that are missing (or delete those
 * present), delete the exact End values each of them has now and, for a
 * timed attach, add the new End.  No permissive control: slapd applies
 * it unreliably to value deletes (a delete of one present and one absent
 * value succeeded without deleting either).  Without it the modify is
 * all or nothing; if another admin changed the values between our read
 * and our write it fails as a whole, and we read again.  An attach
 * carries the assertion that the pair is not blocked, so a block racing
 * it is never overtaken.  present[i] says whether vals[i] was attached
 * at the last read; *blockedp is set when the pair is blocked.
 */
static int
change_values(struct kb_admin *a, const char *name, const char *dn,
    const struct change *c, const char *const *vals, size_t n,
    unsigned char *present, int *blockedp)
{
	struct kb_pair *p = NULL;
	struct kb_mod mods[4];
	const char **todo = NULL, **enddel = NULL, **endadd = NULL;
	const char **tombs = NULL;
	char **ends = NULL, gnow[TIME_GTIME_LEN];
	size_t i, k, nd, na, nt, nmods;
	int round, guard = 1, tomb, r = KB_ERR_INTERNAL;

	*blockedp = 0;
	/* with signatures on, a detach leaves a tombstone (tombstone.c) */
	tomb = c->op == KB_MOD_DELETE && a->signer != NULL;
	if (tomb && lookup_format_gentime(time(NULL), gnow, sizeof(gnow)) != 0)
		return KB_ERR_TIME;
	if ((todo = calloc(n + 1, sizeof(*todo))) == NULL ||
	    (endadd = calloc(n + 1, sizeof(*endadd))) == NULL ||
	    (tombs = calloc(n + 1, sizeof(*tombs))) == NULL ||
	    (c->timed && (ends = end_values_new(vals, n, c->gtime)) == NULL) ||
	    (tomb && (ends = end_values_new(vals, n, gnow)) == NULL)) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (round = 0; round < CHANGE_ROUNDS; round++) {
		pair_free(p);
		p = NULL;
		free(enddel);
		enddel = NULL;
		if ((r = pair_read(a, name, &p)) != 0)
			goto out;
		if (c->op == KB_MOD_ADD && p->blocked) {
			*blockedp = 1;
			r = KB_ERR_DIR_ASSERTION;
			goto out;
		}
		if ((enddel = calloc(p->nends + 1, sizeof(*enddel))) == NULL) {
			r = KB_ERR_NOMEM;
			goto out;
		}
		for (i = 0, k = 0, nd = 0, na = 0, nt = 0; i < n; i++) {
			present[i] = (unsigned char)pair_has_attachment(p,
			    vals[i]);
			if (tomb) {
				if (!present[i])
					continue;
				ends_of(p, vals[i], ends[i], enddel, &nd);
				if (!pair_has_end(p, ends[i]))
					endadd[na++] = ends[i];
				tomb_add(p, attachment_target(vals[i]), tombs,
				    &nt);
				continue;
			}
			if (c->op == KB_MOD_DELETE ? present[i] :
			    !pair_stores_attachment(p, vals[i]))
				todo[k++] = vals[i];
			ends_of(p, vals[i], ends ? ends[i] : NULL, enddel, &nd);
			if (ends != NULL && !pair_has_end(p, ends[i]))
				endadd[na++] = ends[i];
		}
		todo[k] = NULL;
		endadd[na] = NULL;
		tombs[nt] = NULL;
		if (k == 0 && nd == 0 && na == 0 && nt == 0) {
			r = 0;
			goto out;
		}
		nmods = 0;
		if (k > 0) {
			mods[nmods].op = c->op;
			mods[nmods].attr = AT_ATTACH;
			mods[nmods++].vals = todo;
		}
		if (nd > 0) {
			mods[nmods].op = KB_MOD_DELETE;
			mods[nmods].attr = AT_END;
			mods[nmods++].vals = enddel;
		}
		if (na > 0) {
			mods[nmods].op = KB_MOD_ADD;
			mods[nmods].attr = AT_END;
			mods[nmods++].vals = endadd;
		}
		if (nt > 0) {
			mods[nmods].op = KB_MOD_ADD;
			mods[nmods].attr = AT_TOMBSTONE;
			mods[nmods++].vals = tombs;
		}
		r = admin_modify(a, dn, mods, nmods, c->op == KB_MOD_ADD &&
		    guard ? ATTACH_ASSERTION : NULL, 0);
		if (r == KB_ERR_DIR_NO_CONTROL && guard) {
			/*
			 * 389-ds and AD have no assertion control: the
			 * blocked check above, just read, has to do (a block
			 * landing between the read and this write is not
			 * seen; hosts refuse the flagged pair anyway).
			 */
			guard = 0;
			round--;
			continue;
		}
		if (r != KB_ERR_DIR_VALUE_EXISTS &&
		    r != KB_ERR_DIR_NO_SUCH_VALUE &&
		    r != KB_ERR_DIR_ASSERTION)
			goto out;
	}
 out:
	pair_free(p);
	free(todo);
	free(enddel);
	free(endadd);
	free(tombs);
	end_values_free(ends);
	return r;
}

/* change_values() of a permanent attach or a detach, for bulk callers. */
static int
change_op(struct kb_admin *a, const char *name, const char *dn,
    enum kb_mod_op op, const char *const *vals, size_t n,
    unsigned char *present)
{
	struct change c;
	int blocked;

	memset(&c, 0, sizeof(c));
	c.op = op;
	return change_values(a, name, dn, &c, vals, n, present, &blocked);
}

/* NULL-terminated array of the targets' texts. */
static const char **
target_values(const struct targets *ts)
{
	const char **vals;
	size_t i;

	if ((vals = calloc(ts->n + 1, sizeof(*vals))) == NULL)
		return NULL;
	for (i = 0; i < ts->n; i++)
		vals[i] = ts->t[i].text;
	return vals;
}

static void
json_array_begin(int *first)
{
	*first = 1;
	putchar('[');
}

static void
json_array_str(int *first, const char *s, size_t len)
{
	if (!*first)
		putchar(',');
	*first = 0;
	json_string(stdout, s, len);
}

/* A short random pause so racing --replace runs fall out of step. */
static void
replace_backoff(int round)
{
	unsigned char rnd = 0;
	struct timespec ts;

	(void)RAND_bytes(&rnd, 1);
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(5 + rnd % 20) * (round + 1) * 1000000L;
	nanosleep(&ts, NULL);
}

/* Delete the End values p had for target (best effort: 0 or NOMEM). */
static int
drop_ends(struct kb_admin *a, const struct kb_pair *p, const char *target)
{
	struct kb_mod mod;
	const char **list;
	size_t n = 0;

	if ((list = calloc(p->nends + 1, sizeof(*list))) == NULL)
		return KB_ERR_NOMEM;
	ends_of(p, target, NULL, list, &n);
	if (n > 0) {
		mod.op = KB_MOD_DELETE;
		mod.attr = AT_END;
		mod.vals = list;
		(void)admin_modify(a, p->dn.s, &mod, 1, NULL, 0);
	}
	free(list);
	return 0;
}

/*
 * Remove target from every other key pair holding it, one modify
 * deleting the exact value per entry.  Prints what it removed (or appends
 * it to the JSON array), then counts who holds the target now.  A
 * KB_ERR_* code.
 */
static int
replace_others(struct kb_admin *a, const char *name, const char *target,
    int *jfirst, int *holders_left, int *self_holds)
{
	struct kb_pair **pairs = NULL;
	const char *vals[] = { target, NULL };
	unsigned char present;
	char *filter = NULL;
	size_t i, n = 0;
	int r;

	*holders_left = 0;
	*self_holds = 0;
	if ((r = target_filter(target, &filter)) != 0 ||
	    (r = pair_search(a, filter, &pairs, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!pair_has_attachment(pairs[i], target))
			continue;	/* equality matched loosely */
		if (strlen(pairs[i]->name.s) == pairs[i]->name.len &&
		    strcasecmp(pairs[i]->name.s, name) == 0)
			continue;
		if (a->signer != NULL) {
			/* signed: the detach leaves a tombstone */
			r = change_op(a, pairs[i]->name.s, pairs[i]->dn.s,
			    KB_MOD_DELETE, vals, 1, &present);
		} else
			r = modify_attachments(a, pairs[i]->dn.s,
			    KB_MOD_DELETE, vals);
		if (r == KB_ERR_DIR_NO_SUCH_OBJECT ||
		    r == KB_ERR_DIR_NO_SUCH_VALUE)
			continue;	/* gone meanwhile: as good */
		if (r != 0) {
			admin_fail(admin_status(r), "cannot detach %s from "
			    "another key pair: %s", target, kb_strerror(r));
			goto out;
		}
		/* its ends, as read: stray ones grant nothing, prune drops them */
		if (a->signer == NULL &&
		    (r = drop_ends(a, pairs[i], target)) != 0)
			goto out;
		if (a->json) {
			if (!*jfirst)
				putchar(',');
			*jfirst = 0;
			printf("{\"name\":");
			json_string(stdout, pairs[i]->name.s,
			    pairs[i]->name.len);
			printf(",\"target\":");
			json_string(stdout, target, strlen(target));
			putchar('}');
		} else {
			printf("detached ");
			text_safe(stdout, pairs[i]->name.s,
			    pairs[i]->name.len);
			printf(" from ");
			text_safe(stdout, target, strlen(target));
			printf(" (replaced)\n");
		}
	}
	pair_free_all(pairs, n);
	pairs = NULL;
	n = 0;
	/* anyone still holding it? (a racing attach, or ourselves) */
	if ((r = pair_search(a, filter, &pairs, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!pair_has_attachment(pairs[i], target))
			continue;
		(*holders_left)++;
		if (strlen(pairs[i]->name.s) == pairs[i]->name.len &&
		    strcasecmp(pairs[i]->name.s, name) == 0)
			*self_holds = 1;
	}
	r = 0;
 out:
	pair_free_all(pairs, n);
	free(filter);
	return r;
}

/*
 * --replace for one target, after our value was added.  Two racing
 * --replace runs could each remove the other's value; so afterwards, if
 * nobody holds the target any more, add ours back and go again.  Whoever
 * adds last sees every other holder, so the target ends with one holder.
 */
static int
replace_target(struct kb_admin *a, const char *name, const char *dn,
    const struct change *c, const char *target, int *jfirst)
{
	const char *vals[] = { target, NULL };
	unsigned char present;
	int round, r, left, self, blocked;

	for (round = 0; ; round++) {
		if ((r = replace_others(a, name, target, jfirst, &left,
		    &self)) != 0)
			return r;
		if (left > 0 || round == REPLACE_ROUNDS)
			break;
		replace_backoff(round);
		if ((r = change_values(a, name, dn, c, vals, 1, &present,
		    &blocked)) != 0)
			return r;
	}
	if (left == 0) {
		admin_err("%s: concurrent attach --replace runs did not "
		    "settle; attach it again", target);
		return KB_ERR_INTERNAL;
	}
	if (!self) {
		fflush(stdout);
		fprintf(stderr, "keybound: note: %s was taken over by a "
		    "concurrent attach --replace\n", target);
	}
	return 0;
}

/* Print the outcome of attach in table or JSON form (JSON is opened). */
static void
attach_report(const struct kb_admin *a, const char *name,
    const struct targets *ts, const unsigned char *already,
    const char *until)
{
	size_t i;
	int first;

	if (!a->json) {
		for (i = 0; i < ts->n; i++) {
			printf("%s %s to ", name, already[i] ?
			    "already attached" : "attached");
			text_safe(stdout, ts->t[i].text,
			    strlen(ts->t[i].text));
			if (until != NULL)
				printf(" until %s", until);
			putchar('\n');
		}
		return;
	}
	printf("{\"name\":");
	json_string(stdout, name, strlen(name));
	printf(",\"attached\":");
	json_array_begin(&first);
	for (i = 0; i < ts->n; i++)
		if (!already[i])
			json_array_str(&first, ts->t[i].text,
			    strlen(ts->t[i].text));
	printf("],\"already_attached\":");
	json_array_begin(&first);
	for (i = 0; i < ts->n; i++)
		if (already[i])
			json_array_str(&first, ts->t[i].text,
			    strlen(ts->t[i].text));
	printf("],\"until\":");
	json_string_or_null(stdout, until);
}

/*
 * Every USER@+GROUP target names an existing group: an exit status
 * (EXIT_NOTFOUND, reported, for the first that does not).
 */
static int
groups_exist(struct kb_admin *a, const struct targets *ts)
{
	size_t i;
	int r;

	for (i = 0; i < ts->n; i++) {
		if (TARGET_GROUP(&ts->t[i]) == NULL)
			continue;
		if ((r = group_exists(a, TARGET_GROUP(&ts->t[i]))) < 0) {
			admin_err("cannot read host group %s: %s",
			    TARGET_GROUP(&ts->t[i]), kb_strerror(r));
			return EXIT_FAIL;
		}
		if (r == 0) {
			admin_err("no host group %s (create it with `keybound "
			    "group create %s`)", TARGET_GROUP(&ts->t[i]),
			    TARGET_GROUP(&ts->t[i]));
			return EXIT_NOTFOUND;
		}
	}
	return EXIT_OK;
}

/*
 * After the write: a group deleted meanwhile (its delete checked for
 * attachments before ours landed) must not keep an attachment naming it.
 * Take back the group attachments we added whose group is gone; an exit
 * status.
 */
static int
groups_recheck(struct kb_admin *a, const char *name, const char *dn,
    const struct targets *ts, const unsigned char *already)
{
	struct change undo;
	const char *vals[2] = { NULL, NULL };
	unsigned char present;
	size_t i;
	int r, blocked, status = EXIT_OK;

	memset(&undo, 0, sizeof(undo));
	undo.op = KB_MOD_DELETE;
	for (i = 0; i < ts->n; i++) {
		if (TARGET_GROUP(&ts->t[i]) == NULL || already[i])
			continue;
		if ((r = group_exists(a, TARGET_GROUP(&ts->t[i]))) == 1)
			continue;
		vals[0] = ts->t[i].text;
		(void)change_values(a, name, dn, &undo, vals, 1, &present,
		    &blocked);
		admin_err("host group %s was deleted meanwhile; %s taken "
		    "back", TARGET_GROUP(&ts->t[i]), ts->t[i].text);
		status = EXIT_NOTFOUND;
	}
	return status;
}

/*
 * Refuse to attach an expired key pair (keybound-keys would not serve it,
 * yet the attachment would look like access); an exit status.
 */
static int
refuse_expired(struct kb_admin *a, const char *name)
{
	struct kb_pair *p = NULL;
	int r, status = EXIT_OK;

	if ((r = pair_read(a, name, &p)) != 0)
		return pair_read_failed(name, r);
	if (strcmp(pair_status(p, time(NULL)), "expired") == 0)
		status = admin_conflict("key pair %s has expired (not after "
		    "%s); keybound-keys would not serve it (set --expires, "
		    "or --force to attach it anyway)", name, p->not_after.s);
	pair_free(p);
	return status;
}

/* One "replaced" item: other no longer holds target. */
static void
replaced_report(const struct kb_admin *a, int *jfirst, const char *other,
    const char *target, int dry_run)
{
	if (a->json) {
		if (!*jfirst)
			putchar(',');
		*jfirst = 0;
		printf("{\"name\":");
		json_string(stdout, other, strlen(other));
		printf(",\"target\":");
		json_string(stdout, target, strlen(target));
		putchar('}');
	} else {
		printf("%s ", dry_run ? "would detach" : "detached");
		text_safe(stdout, other, strlen(other));
		printf(" from %s (replaced)\n", target);
	}
}

/*
 * attach --dry-run: what attach would change, read now, nothing written.
 * With --replace, every other holder of each target; with --replace-only,
 * that one key pair where it holds a target.
 */
static int
attach_dry_run(struct kb_admin *a, const char *name, const struct targets *ts,
    int replace, const char *only)
{
	struct kb_pair *p = NULL, *o = NULL, **pairs = NULL;
	unsigned char *already = NULL;
	char *filter = NULL;
	size_t i, k, n = 0;
	int r, jfirst = 1;

	if ((r = pair_read(a, name, &p)) != 0) {
		(void)pair_read_failed(name, r);
		return r;
	}
	if (only != NULL && (r = pair_read(a, only, &o)) != 0) {
		pair_read_failed(only, r);
		goto out;
	}
	if ((already = calloc(ts->n + 1, 1)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < ts->n; i++)
		already[i] = (unsigned char)pair_has_attachment(p,
		    ts->t[i].text);
	if (!a->json)
		fputs("dry run, nothing changed:\n", stdout);
	attach_report(a, name, ts, already, NULL);
	if (a->json)
		printf(",\"replaced\":[");
	for (i = 0; i < ts->n && (replace || o != NULL); i++) {
		if (o != NULL) {
			if (pair_has_attachment(o, ts->t[i].text))
				replaced_report(a, &jfirst, only,
				    ts->t[i].text, 1);
			continue;
		}
		free(filter);
		pair_free_all(pairs, n);
		pairs = NULL;
		n = 0;
		if ((r = target_filter(ts->t[i].text, &filter)) != 0 ||
		    (r = pair_search(a, filter, &pairs, &n)) != 0)
			goto out;
		for (k = 0; k < n; k++)
			if (pair_has_attachment(pairs[k], ts->t[i].text) &&
			    strcmp(pairs[k]->name.s, name) != 0)
				replaced_report(a, &jfirst, pairs[k]->name.s,
				    ts->t[i].text, 1);
	}
	if (a->json)
		printf("],\"dry_run\":true}\n");
	r = 0;
 out:
	pair_free_all(pairs, n);
	free(filter);
	free(already);
	pair_free(o);
	pair_free(p);
	return r;
}

/* attach --replace-only OTHER: take the targets from OTHER alone. */
static int
replace_only(struct kb_admin *a, const char *other, const char *const *vals,
    size_t n, int *jfirst)
{
	unsigned char *present = NULL;
	char *dn = NULL;
	size_t i;
	int r;

	if ((present = calloc(n + 1, 1)) == NULL ||
	    (r = admin_pair_dn(a, other, &dn)) != 0) {
		free(present);
		return KB_ERR_NOMEM;
	}
	r = change_op(a, other, dn, KB_MOD_DELETE, vals, n, present);
	if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
		pair_read_failed(other, r);
	else if (r != 0)
		report_write_error(a, "cannot detach", other, r);
	for (i = 0; r == 0 && i < n; i++)
		if (present[i])
			replaced_report(a, jfirst, other, vals[i], 0);
	free(present);
	free(dn);
	return r;
}

/* Attach, then with --replace take the targets from the others. */
static int
attach_run(struct kb_admin *a, const char *name, const struct targets *ts,
    int replace, const char *only, const struct change *c, const char *until,
    int *statusp)
{
	unsigned char *already = NULL;
	const char **vals = NULL;
	char *dn = NULL;
	size_t i;
	int r, blocked = 0, jfirst = 1;

	*statusp = EXIT_FAIL;
	if ((already = calloc(ts->n + 1, 1)) == NULL ||
	    (vals = target_values(ts)) == NULL ||
	    (r = admin_pair_dn(a, name, &dn)) != 0) {
		r = KB_ERR_NOMEM;
		admin_err("%s", kb_strerror(r));
		goto out;
	}
	if ((*statusp = groups_exist(a, ts)) != EXIT_OK) {
		r = KB_ERR_DIR_NO_SUCH_OBJECT;
		goto out;
	}
	*statusp = EXIT_FAIL;
	if ((r = change_values(a, name, dn, c, vals, ts->n, already,
	    &blocked)) != 0) {
		if (blocked) {
			*statusp = admin_conflict("key pair %s is blocked (its "
			    "key is on the blocklist): not attached", name);
		} else if (r == KB_ERR_DIR_NO_SUCH_OBJECT) {
			report_missing(name, r);
			*statusp = EXIT_NOTFOUND;
		} else {
			report_write_error(a, "cannot attach", name, r);
			*statusp = admin_exit(r);
		}
		goto out;
	}
	if ((*statusp = groups_recheck(a, name, dn, ts, already)) != EXIT_OK) {
		r = KB_ERR_DIR_NO_SUCH_OBJECT;
		goto out;
	}
	attach_report(a, name, ts, already, until);
	if (a->json)
		printf(",\"replaced\":[");
	for (i = 0; replace && i < ts->n && r == 0; i++)
		r = replace_target(a, name, dn, c, ts->t[i].text, &jfirst);
	if (only != NULL && r == 0)
		r = replace_only(a, only, vals, ts->n, &jfirst);
	if (a->json)
		printf("],\"dry_run\":false}\n");
	*statusp = r == 0 ? EXIT_OK : admin_exit(r);
 out:
	free(already);
	free(vals);
	free(dn);
	return r;
}

/* --for DURATION or --until TIME into c and until; an exit status. */
static int
attach_end(const char *cmd, const char *dur, const char *when,
    struct change *c, char *until, size_t untillen)
{
	time_t now = time(NULL), secs, end;

	if (dur != NULL && when != NULL)
		return admin_usage(cmd, "--for and --until exclude each other");
	if (dur == NULL && when == NULL)
		return EXIT_OK;
	if (dur != NULL) {
		if (clock_parse_duration(dur, &secs) != 0)
			return admin_usage(cmd, "--for: DURATION is a positive "
			    "integer followed by s, m, h or d (e.g. 30m, 4h)");
		end = now + secs;
	} else {
		if (time_parse_user(when, &end) != 0)
			return admin_usage(cmd, "--until: TIME is "
			    "YYYY-MM-DDTHH:MM:SSZ or YYYYMMDDHHMMSSZ (UTC)");
		if (end <= now)
			return admin_usage(cmd, "--until: %s is not in the "
			    "future", when);
	}
	if (lookup_format_gentime(end, c->gtime, sizeof(c->gtime)) != 0 ||
	    time_format_rfc3339(end, until, untillen) != 0)
		return admin_usage(cmd, "the end time is out of range");
	c->timed = 1;
	return EXIT_OK;
}

int
cmd_attach(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "replace", no_argument, NULL, 'R' },
		{ "for", required_argument, NULL, 'F' },
		{ "until", required_argument, NULL, 'U' },
		{ "force", no_argument, NULL, 'f' },
		{ "replace-only", required_argument, NULL, 'O' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "targets-from", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	struct targets ts = { NULL, 0 };
	struct change c;
	char until[TIME_RFC3339_LEN];
	const char *name, *dur = NULL, *when = NULL, *only = NULL, *from = NULL;
	char **list = NULL, *buf = NULL;
	int ch, r, nlist = 0, replace = 0, force = 0, dry_run = 0;
	int status = EXIT_FAIL;

	memset(&c, 0, sizeof(c));
	c.op = KB_MOD_ADD;
	until[0] = '\0';
	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		switch (ch) {
		case 'R':
			replace = 1;
			break;
		case 'F':
			dur = optarg;
			break;
		case 'U':
			when = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'O':
			only = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'T':
			from = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind < (from != NULL ? 1 : 2))
		return admin_usage(argv[0], "expected NAME and at least one "
		    "USER@INSTANCE or USER@+GROUP");
	if ((status = attach_end(argv[0], dur, when, &c, until,
	    sizeof(until))) != EXIT_OK)
		return status;
	status = EXIT_FAIL;
	name = argv[optind];
	if (replace && only != NULL)
		return admin_usage(argv[0], "--replace and --replace-only "
		    "exclude each other");
	if (only != NULL && (name_keypair_valid(only) != 0 ||
	    strcmp(only, name) == 0))
		return admin_fail(EXIT_USAGE, "--replace-only: another key "
		    "pair's name");
	if (name_keypair_valid(name) != 0) {
		status = admin_fail(EXIT_USAGE, "invalid key pair name");
		goto out;
	}
	if ((status = targets_collect(from, argc - optind - 1,
	    argv + optind + 1, &list, &nlist, &buf)) != EXIT_OK ||
	    (status = targets_parse(nlist, list, &ts, 1)) != EXIT_OK)
		goto out;
	if (ts.n == 0) {
		status = admin_fail(EXIT_USAGE, "--targets-from %s: no "
		    "USER@INSTANCE in it", from);
		goto out;
	}
	if ((status = admin_connect(a, 0)) != EXIT_OK ||
	    (!force && (status = refuse_expired(a, name)) != EXIT_OK))
		goto out;
	if (dry_run) {
		status = admin_exit(attach_dry_run(a, name, &ts, replace,
		    only));
		goto out;
	}
	r = attach_run(a, name, &ts, replace, only, &c, c.timed ? until : NULL,
	    &status);
	admin_audit(a, replace ? "attach --replace" : only != NULL ?
	    "attach --replace-only" : c.timed ? "attach --until" : "attach",
	    name, ts.t, ts.n, r == 0 ? "ok" : kb_strerror(r));
 out:
	targets_clear(&ts);
	free(list);
	free(buf);
	return status;
}

/* Targets naming vals (for the audit line of detach --all). */
static int
targets_borrow(const char *const *vals, size_t n, struct targets *ts)
{
	size_t i;

	if ((ts->t = calloc(n + 1, sizeof(*ts->t))) == NULL)
		return KB_ERR_NOMEM;
	for (i = 0; i < n; i++)
		ts->t[i].text = vals[i];
	ts->n = n;
	return 0;
}

/* The exact attachment values detach --all removes (no NUL inside). */
static const char **
all_values(const struct kb_pair *p, size_t *np)
{
	const char **vals;
	size_t i, n = 0;

	if ((vals = calloc(p->nattach + 1, sizeof(*vals))) == NULL)
		return NULL;
	for (i = 0; i < p->nattach; i++)
		if (strlen(p->attach[i].s) == p->attach[i].len)
			vals[n++] = p->attach[i].s;
	*np = n;
	return vals;
}

static void
detach_report(const struct kb_admin *a, const char *name,
    const char *const *vals, size_t n, const unsigned char *present)
{
	size_t i;
	int first;

	if (!a->json) {
		if (n == 0)
			printf("%s has no attachments\n", name);
		for (i = 0; i < n; i++) {
			printf("%s %s ", name, !present[i] ? "not attached to" :
			    "detached from");
			text_safe(stdout, vals[i], strlen(vals[i]));
			putchar('\n');
		}
		return;
	}
	printf("{\"name\":");
	json_string(stdout, name, strlen(name));
	printf(",\"detached\":");
	json_array_begin(&first);
	for (i = 0; i < n; i++)
		if (present[i])
			json_array_str(&first, vals[i], strlen(vals[i]));
	printf("],\"not_attached\":");
	json_array_begin(&first);
	for (i = 0; i < n; i++)
		if (!present[i])
			json_array_str(&first, vals[i], strlen(vals[i]));
	printf("]}\n");
}

int
cmd_detach(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "all", no_argument, NULL, 'A' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "targets-from", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	struct targets ts = { NULL, 0 };
	const char *from = NULL;
	char **list = NULL, *buf = NULL;
	int nlist = 0;
	struct kb_pair *p = NULL;
	struct change c;
	unsigned char *present = NULL;
	const char **vals = NULL, *name;
	char *dn = NULL;
	size_t i, n = 0;
	int ch, r, blocked, all = 0, dry_run = 0, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		if (ch == 'A')
			all = 1;
		else if (ch == 'n')
			dry_run = 1;
		else if (ch == 'T')
			from = optarg;
		else
			return EXIT_USAGE;
	}
	if (argc - optind < 1)
		return admin_usage(argv[0], "expected NAME");
	if (all == (argc - optind > 1 || from != NULL))
		return admin_usage(argv[0], "give USER@INSTANCE... "
		    "(or --targets-from) or --all");
	name = argv[optind];
	if (name_keypair_valid(name) != 0) {
		status = admin_fail(EXIT_USAGE, "invalid key pair name");
		goto out;
	}
	if (!all && ((status = targets_collect(from, argc - optind - 1,
	    argv + optind + 1, &list, &nlist, &buf)) != EXIT_OK ||
	    (status = targets_parse(nlist, list, &ts, 1)) != EXIT_OK))
		goto out;
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if ((r = pair_read(a, name, &p)) != 0) {
		status = pair_read_failed(name, r);
		goto out;
	}
	vals = all ? all_values(p, &n) : target_values(&ts);
	if (!all)
		n = ts.n;
	if (vals == NULL || (present = calloc(n + 1, 1)) == NULL ||
	    (r = admin_pair_dn(a, name, &dn)) != 0 ||
	    (all && targets_borrow(vals, n, &ts) != 0)) {
		admin_err("%s", kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	if (dry_run) {
		for (i = 0; i < n; i++)
			present[i] = (unsigned char)pair_has_attachment(p,
			    vals[i]);
		if (!a->json)
			fputs("dry run, nothing changed:\n", stdout);
		detach_report(a, name, vals, n, present);
		status = EXIT_OK;
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.op = KB_MOD_DELETE;
	if (n > 0 && (r = change_values(a, name, dn, &c, vals, n, present,
	    &blocked)) != 0) {
		report_write_error(a, "cannot detach", name, r);
		admin_audit(a, "detach", name, ts.t, ts.n, kb_strerror(r));
		status = admin_exit(r);
		goto out;
	}
	detach_report(a, name, vals, n, present);
	admin_audit(a, all ? "detach --all" : "detach", name, ts.t, ts.n,
	    "ok");
	status = EXIT_OK;
 out:
	free(list);
	free(buf);
	targets_clear(&ts);
	pair_free(p);
	free(present);
	free(vals);
	free(dn);
	return status;
}

/* The attachments of p joined with ", " (for messages); caller frees. */
static char *
attachments_text(const struct kb_pair *p)
{
	char *t = NULL, *n;
	size_t i;

	if ((t = strdup("")) == NULL)
		return NULL;
	for (i = 0; i < p->nattach; i++) {
		if (asprintf(&n, "%s%s%.*s", t, i > 0 ? ", " : "",
		    (int)p->attach[i].len, p->attach[i].s) < 0) {
			free(t);
			return NULL;
		}
		free(t);
		t = n;
	}
	return t;
}

/* Explain a refused delete (the attachments found now); exit status. */
static int
delete_refused(struct kb_admin *a, const char *name,
    const struct kb_pair *known)
{
	struct kb_pair *p = NULL;
	char *list = NULL;
	int r, status;

	if (known == NULL && (r = pair_read(a, name, &p)) != 0) {
		if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
			return admin_conflict("cn=%s is not a key pair", name);
		return admin_conflict("cannot delete key pair %s: it is "
		    "attached", name);
	}
	if (known == NULL)
		known = p;
	if (known->nattach == 0 && known->ndetached > 0) {
		status = admin_conflict("cannot delete key pair %s: it holds "
		    "detached attachments with tombstones, which keep hosts "
		    "from accepting an older signed version; `keybound "
		    "prune` removes them after signature_max_age", name);
		pair_free(p);
		return status;
	}
	list = attachments_text(known);
	status = admin_conflict("cannot delete key pair %s: attached to %s; "
	    "detach it first", name, known->nattach == 0 ? "(attached "
	    "meanwhile, then detached)" : list != NULL ? list : "?");
	free(list);
	pair_free(p);
	return status;
}

/*
 * delete for servers without the assertion control: read, refuse an
 * attached key pair (KB_ERR_DIR_ASSERTION, as the control would), then
 * delete without a guard.
 */
static int
delete_unguarded(struct kb_admin *a, const char *name, const char *dn)
{
	struct kb_pair *p = NULL;
	int r;

	if ((r = pair_read(a, name, &p)) != 0)
		return r;
	if (p->nattach + p->ndetached > 0)
		r = KB_ERR_DIR_ASSERTION;
	else
		r = dir_delete(a->dir, dn, NULL);
	pair_free(p);
	return r;
}

/*
 * Delete one key pair; *gone says whether it was (or, with dry_run,
 * would be) deleted, *missing whether there was none.  An exit status.
 */
static int
delete_one(struct kb_admin *a, const char *name, int dry_run, int if_exists,
    int *gone, int *missing)
{
	struct kb_pair *p = NULL;
	char *dn = NULL;
	int r, status = EXIT_FAIL;

	*gone = *missing = 0;
	if (dry_run) {
		if ((r = pair_read(a, name, &p)) == KB_ERR_DIR_NO_SUCH_OBJECT)
			goto missing;
		if (r != 0)
			return pair_read_failed(name, r);
		status = p->nattach + p->ndetached > 0 ?
		    delete_refused(a, name, p) : EXIT_OK;
		*gone = status == EXIT_OK;
		pair_free(p);
		return status;
	}
	if ((r = admin_pair_dn(a, name, &dn)) != 0)
		return admin_fail(EXIT_FAIL, "%s", kb_strerror(r));
	r = dir_delete(a->dir, dn, DELETE_ASSERTION);
	if (r == KB_ERR_DIR_NO_CONTROL)
		r = delete_unguarded(a, name, dn);
	free(dn);
	admin_audit(a, "delete", name, NULL, 0, r == 0 ? "ok" :
	    kb_strerror(r));
	if (r == KB_ERR_DIR_ASSERTION)
		return delete_refused(a, name, NULL);
	if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
		goto missing;
	if (r != 0) {
		report_write_error(a, "cannot delete", name, r);
		return admin_exit(r);
	}
	*gone = 1;
	return EXIT_OK;
 missing:
	*missing = 1;
	if (if_exists)
		return EXIT_OK;
	return admin_fail(EXIT_NOTFOUND, "no key pair %s", name);
}

int
cmd_delete(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "if-exists", no_argument, NULL, 'i' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned char *gone = NULL, *missing = NULL;
	const char *name;
	int ch, i, g, m, k, n, first, if_exists = 0, dry_run = 0;
	int st, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		switch (ch) {
		case 'i':
			if_exists = 1;
			break;
		case 'n':
			dry_run = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if ((n = argc - optind) < 1)
		return admin_usage(argv[0], "expected NAME...");
	if (n > ADMIN_MAX_TARGETS)
		return admin_fail(EXIT_USAGE, "too many names (at most %d)",
		    ADMIN_MAX_TARGETS);
	for (i = optind; i < argc; i++)
		if (name_keypair_valid(argv[i]) != 0)
			return admin_fail(EXIT_USAGE, "%s: %s", argv[i],
			    NAME_RULE_TEXT);
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	if ((gone = calloc((size_t)n, 1)) == NULL ||
	    (missing = calloc((size_t)n, 1)) == NULL) {
		status = admin_fail(EXIT_FAIL, "%s", kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	for (k = 0; k < n; k++) {
		name = argv[optind + k];
		st = delete_one(a, name, dry_run, if_exists, &g, &m);
		gone[k] = (unsigned char)g;
		missing[k] = (unsigned char)m;
		if (st != EXIT_OK && status == EXIT_OK)
			status = st;
		if (a->json || st != EXIT_OK)
			continue;
		if (g)
			printf("%s key pair %s\n", dry_run ? "would delete" :
			    "deleted", name);
		else if (m)
			printf("no key pair %s (nothing to delete)\n", name);
	}
	if (a->json && status == EXIT_OK) {
		printf("{\"deleted\":");
		json_array_begin(&first);
		for (k = 0; k < n; k++)
			if (gone[k])
				json_array_str(&first, argv[optind + k],
				    strlen(argv[optind + k]));
		printf("],\"not_found\":");
		json_array_begin(&first);
		for (k = 0; k < n; k++)
			if (missing[k])
				json_array_str(&first, argv[optind + k],
				    strlen(argv[optind + k]));
		printf("],\"dry_run\":%s}\n", dry_run ? "true" : "false");
	}
 out:
	free(gone);
	free(missing);
	return status;
}

static void
rotate_report(const struct kb_admin *a, const char *oldname,
    const char *newname, const char *const *vals, size_t n, int dry_run)
{
	size_t i;
	int first;

	if (!a->json) {
		if (n == 0)
			printf("%s has no attachments: nothing to rotate\n",
			    oldname);
		for (i = 0; i < n; i++) {
			printf("%s%s -> %s on ", dry_run ? "would rotate " :
			    "rotated ", oldname, newname);
			text_safe(stdout, vals[i], strlen(vals[i]));
			putchar('\n');
		}
		return;
	}
	printf("{\"old\":");
	json_string(stdout, oldname, strlen(oldname));
	printf(",\"new\":");
	json_string(stdout, newname, strlen(newname));
	printf(",\"targets\":");
	json_array_begin(&first);
	for (i = 0; i < n; i++)
		json_array_str(&first, vals[i], strlen(vals[i]));
	printf("],\"dry_run\":%s}\n", dry_run ? "true" : "false");
}

/*
 * rotate OLD NEW: attach NEW to every target of OLD (one modify), then
 * detach OLD from those targets (one modify): at every moment each
 * target has at least one of the two.  An attachment added to OLD
 * meanwhile is left to it (it was not rotated).
 */
int
cmd_rotate(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	struct kb_pair *old = NULL, *new = NULL;
	struct targets ts = { NULL, 0 };
	unsigned char *flags = NULL;
	const char **vals = NULL, *oldname, *newname;
	char *olddn = NULL, *newdn = NULL;
	size_t n = 0;
	int ch, r, dry_run = 0, force = 0, status = EXIT_FAIL;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		switch (ch) {
		case 'n':
			dry_run = 1;
			break;
		case 'f':
			force = 1;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return admin_usage(argv[0], "expected OLD and NEW");
	oldname = argv[optind];
	newname = argv[optind + 1];
	if (name_keypair_valid(oldname) != 0 ||
	    name_keypair_valid(newname) != 0)
		return admin_fail(EXIT_USAGE, "%s", NAME_RULE_TEXT);
	if (strcmp(oldname, newname) == 0)
		return admin_usage(argv[0], "OLD and NEW are the same");
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	if ((r = pair_read(a, oldname, &old)) != 0) {
		status = pair_read_failed(oldname, r);
		goto out;
	}
	if ((r = pair_read(a, newname, &new)) != 0) {
		status = pair_read_failed(newname, r);
		goto out;
	}
	if (!force && strcmp(pair_status(new, time(NULL)), "expired") == 0) {
		status = admin_conflict("key pair %s has expired; rotating to "
		    "it would lock every target out (--force to do it anyway)",
		    newname);
		goto out;
	}
	if ((vals = all_values(old, &n)) == NULL ||
	    (flags = calloc(n + 1, 1)) == NULL ||
	    targets_borrow(vals, n, &ts) != 0 ||
	    admin_pair_dn(a, oldname, &olddn) != 0 ||
	    admin_pair_dn(a, newname, &newdn) != 0) {
		status = admin_fail(EXIT_FAIL, "%s", kb_strerror(KB_ERR_NOMEM));
		goto out;
	}
	if (dry_run || n == 0) {
		rotate_report(a, oldname, newname, vals, n, dry_run);
		status = EXIT_OK;
		goto out;
	}
	/* first NEW everywhere: no target is ever left with neither */
	if ((r = change_op(a, newname, newdn, KB_MOD_ADD, vals, n,
	    flags)) != 0) {
		report_write_error(a, "cannot attach", newname, r);
		admin_audit(a, "rotate", newname, ts.t, ts.n, kb_strerror(r));
		status = admin_exit(r);
		goto out;
	}
	admin_audit(a, "rotate: attach", newname, ts.t, ts.n, "ok");
	if ((r = change_op(a, oldname, olddn, KB_MOD_DELETE, vals, n,
	    flags)) != 0) {
		report_write_error(a, "attached the new key pair, but cannot "
		    "detach", oldname, r);
		admin_audit(a, "rotate: detach", oldname, ts.t, ts.n,
		    kb_strerror(r));
		status = admin_exit(r);
		goto out;
	}
	admin_audit(a, "rotate: detach", oldname, ts.t, ts.n, "ok");
	rotate_report(a, oldname, newname, vals, n, 0);
	status = EXIT_OK;
 out:
	free(ts.t);
	free(flags);
	free(vals);
	free(olddn);
	free(newdn);
	pair_free(old);
	pair_free(new);
	return status;
}
