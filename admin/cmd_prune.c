/*
 * cmd_prune.c - `keybound prune [--dry-run]`: remove expired time-boxed
 * attachments and the keyboundAttachmentEnd values no attachment has.
 *
 * Per key pair one modify deletes the exact values read: an expired
 * attachment together with all its End values (the earliest End counts,
 * as on the hosts), and stray End values.  Without the permissive
 * control the modify fails as a whole when another admin changed any of
 * them meanwhile (a re-attach with a new end, a detach), and the pair is
 * read again and judged anew.  An End value whose time does not parse is
 * left alone while its attachment exists (removing it could make the
 * attachment permanent) and reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kb.h"
#include "config.h"
#include "directory.h"
#include "filter.h"
#include "signed.h"
#include "admin.h"

#define PRUNE_ROUNDS	8

/* One value prune removes (or would). */
struct pruned {
	char *pair;
	char *value;
	int expired;		/* 1: an attachment that ended; 0: stray End;
				   2: a host group's tombstone */
	time_t end;
};

struct prune_log {
	struct pruned *v;
	size_t n;
};

static void
prune_log_free(struct prune_log *pl)
{
	size_t i;

	for (i = 0; i < pl->n; i++) {
		free(pl->v[i].pair);
		free(pl->v[i].value);
	}
	free(pl->v);
	memset(pl, 0, sizeof(*pl));
}

static int
prune_log_name(struct prune_log *pl, const char *name, size_t len,
    const char *value, int expired, time_t end)
{
	struct pruned *nv;

	if ((nv = reallocarray(pl->v, pl->n + 1, sizeof(*nv))) == NULL)
		return KB_ERR_NOMEM;
	pl->v = nv;
	nv = &pl->v[pl->n];
	memset(nv, 0, sizeof(*nv));
	if ((nv->pair = strndup(name, len)) == NULL ||
	    (nv->value = strdup(value)) == NULL) {
		free(nv->pair);
		return KB_ERR_NOMEM;
	}
	nv->expired = expired;
	nv->end = end;
	pl->n++;
	return 0;
}

static int
prune_log_add(struct prune_log *pl, const struct kb_pair *p,
    const char *value, int expired, time_t end)
{
	return prune_log_name(pl, p->name.s, p->name.len, value, expired, end);
}

/* 1 if list (n entries) holds s. */
static int
listed(const char *const *list, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* 1 if End value e names an attachment p holds (or holds detached). */
static int
end_has_attachment(const struct kb_pair *p, const struct kb_text *e)
{
	size_t i;

	for (i = 0; i < p->nattach; i++)
		if (strlen(p->attach[i].s) == p->attach[i].len &&
		    end_value_of(e->s, e->len, p->attach[i].s,
		    p->attach[i].len))
			return 1;
	for (i = 0; i < p->ndetached; i++)
		if (strlen(p->detached[i].s) == p->detached[i].len &&
		    end_value_of(e->s, e->len, p->detached[i].s,
		    p->detached[i].len))
			return 1;
	return 0;
}

/* Add attachment value v and all its End values to the removal lists. */
static void
plan_drop(const struct kb_pair *p, const char *v, const char **att,
    size_t *nap, const char **ends, size_t *nep)
{
	size_t k;

	att[(*nap)++] = v;
	for (k = 0; k < p->nends; k++)
		if (strlen(p->ends[k].s) == p->ends[k].len &&
		    end_value_of(p->ends[k].s, p->ends[k].len, v, strlen(v)) &&
		    !listed(ends, *nep, p->ends[k].s))
			ends[(*nep)++] = p->ends[k].s;
}

/*
 * The tombstones of p no kept detached attachment needs any more, once
 * some detached attachment goes (into tombs, NULL-terminated).
 */
static void
plan_tombstones(const struct kb_pair *p, const char *const *att, size_t na,
    const char **tombs, size_t *ntp)
{
	const struct kb_text *t;
	size_t i, k;
	int needed;

	*ntp = 0;
	for (i = 0; i < p->ntombstones; i++) {
		t = &p->tombstones[i];
		if (strlen(t->s) != t->len)
			continue;
		needed = 0;
		for (k = 0; k < p->ndetached && !needed; k++)
			needed = !listed(att, na, p->detached[k].s) &&
			    strcmp(attachment_target(p->detached[k].s),
			    t->s) == 0;
		if (!needed && !listed(tombs, *ntp, t->s))
			tombs[(*ntp)++] = t->s;
	}
	tombs[*ntp] = NULL;
}

/*
 * What to remove from p at time now: attachment values into att, End
 * values into ends (both NULL-terminated, pointing into p), logged into
 * pl when pl is not NULL.
 */
static int
prune_plan(const struct kb_pair *p, time_t now, unsigned max_age,
    const char **att, size_t *nap, const char **ends, size_t *nep,
    const char **tombs, size_t *ntp, struct prune_log *pl)
{
	const struct kb_text *v;
	size_t i, bad, na = 0, ne = 0, ndrop;
	time_t end;
	int r;

	for (i = 0; i < p->nattach; i++) {
		v = &p->attach[i];
		if (strlen(v->s) != v->len ||
		    !pair_attachment_end(p, v->s, v->len, &end, &bad) ||
		    end > now || listed(att, na, v->s))
			continue;
		plan_drop(p, v->s, att, &na, ends, &ne);
		if (pl != NULL && (r = prune_log_add(pl, p, v->s, 1, end)) != 0)
			return r;
	}
	/* detached with a tombstone: kept while a signed older version that
	   still granted it could be accepted anywhere */
	for (i = 0, ndrop = 0; i < p->ndetached; i++) {
		v = &p->detached[i];
		if (strlen(v->s) != v->len ||
		    !pair_attachment_end(p, v->s, v->len, &end, &bad) ||
		    !tombstone_expired(end, now, max_age) ||
		    listed(att, na, v->s))
			continue;
		plan_drop(p, v->s, att, &na, ends, &ne);
		ndrop++;
		if (pl != NULL && (r = prune_log_add(pl, p, v->s, 1, end)) != 0)
			return r;
	}
	*ntp = 0;
	tombs[0] = NULL;
	if (ndrop > 0)
		plan_tombstones(p, att, na, tombs, ntp);
	for (i = 0; i < p->nends; i++) {
		v = &p->ends[i];
		if (strlen(v->s) != v->len || listed(ends, ne, v->s))
			continue;
		if (end_has_attachment(p, v))
			continue;
		ends[ne++] = v->s;
		if (pl != NULL && (r = prune_log_add(pl, p, v->s, 0, 0)) != 0)
			return r;
	}
	att[na] = NULL;
	ends[ne] = NULL;
	*nap = na;
	*nep = ne;
	return 0;
}

/* Warn about End values of held attachments that do not parse. */
static void
prune_warn_bad(const struct kb_pair *p)
{
	size_t i, bad;
	time_t end;

	for (i = 0; i < p->nattach; i++) {
		if (strlen(p->attach[i].s) != p->attach[i].len)
			continue;
		(void)pair_attachment_end(p, p->attach[i].s, p->attach[i].len,
		    &end, &bad);
		if (bad == 0)
			continue;
		fflush(stdout);
		fputs("keybound: warning: key pair ", stderr);
		text_safe(stderr, p->name.s, p->name.len);
		fputs(": unreadable end time for ", stderr);
		text_safe(stderr, p->attach[i].s, p->attach[i].len);
		fputs(" (left as it is)\n", stderr);
	}
}

/* Prune one key pair (already read as p0); a KB_ERR_* code. */
static int
prune_pair(struct kb_admin *a, const struct kb_pair *p0, time_t now,
    int dry, struct prune_log *pl)
{
	struct kb_pair *p = NULL;
	const struct kb_pair *cur = p0;
	struct kb_mod mods[3];
	const char **att = NULL, **ends = NULL, **tombs = NULL;
	size_t na, ne, nt, nmods, mark;
	int round, r = KB_ERR_INTERNAL;

	prune_warn_bad(p0);
	for (round = 0; round < PRUNE_ROUNDS; round++) {
		free(att);
		free(ends);
		free(tombs);
		att = NULL;
		ends = NULL;
		tombs = NULL;
		if ((att = calloc(cur->nattach + cur->ndetached + 1,
		    sizeof(*att))) == NULL ||
		    (ends = calloc(cur->nends + 1, sizeof(*ends))) == NULL ||
		    (tombs = calloc(cur->ntombstones + 1,
		    sizeof(*tombs))) == NULL) {
			r = KB_ERR_NOMEM;
			goto out;
		}
		mark = pl->n;
		if ((r = prune_plan(cur, now, a->cfg->signature_max_age, att,
		    &na, ends, &ne, tombs, &nt, pl)) != 0)
			goto out;
		if ((na == 0 && ne == 0) || dry) {
			r = 0;
			goto out;
		}
		nmods = 0;
		if (na > 0) {
			mods[nmods].op = KB_MOD_DELETE;
			mods[nmods].attr = AT_ATTACH;
			mods[nmods++].vals = att;
		}
		if (ne > 0) {
			mods[nmods].op = KB_MOD_DELETE;
			mods[nmods].attr = AT_END;
			mods[nmods++].vals = ends;
		}
		if (nt > 0) {
			mods[nmods].op = KB_MOD_DELETE;
			mods[nmods].attr = AT_TOMBSTONE;
			mods[nmods++].vals = tombs;
		}
		r = admin_modify(a, cur->dn.s, mods, nmods, NULL, 0);
		if (r != KB_ERR_DIR_NO_SUCH_VALUE &&
		    r != KB_ERR_DIR_VALUE_EXISTS)
			goto out;
		/* changed meanwhile: forget this plan, read, judge again */
		while (pl->n > mark) {
			pl->n--;
			free(pl->v[pl->n].pair);
			free(pl->v[pl->n].value);
		}
		pair_free(p);
		p = NULL;
		if ((r = pair_read_dn(a, p0->dn.s, &p)) != 0) {
			if (r == KB_ERR_DIR_NO_SUCH_OBJECT)
				r = 0;	/* deleted meanwhile: nothing to do */
			goto out;
		}
		cur = p;
	}
 out:
	free(att);
	free(ends);
	free(tombs);
	pair_free(p);
	return r;
}

/* A host group with tombstones, as prune reads it. */
struct tomb_group {
	char *dn;
	char *name;
	char **tombs;		/* NULL-terminated */
	time_t signed_at;	/* 0: unsigned or unreadable */
};

struct tomb_groups {
	struct tomb_group *v;
	size_t n;
};

static void
tomb_groups_free(struct tomb_groups *tg)
{
	size_t i, k;

	for (i = 0; i < tg->n; i++) {
		free(tg->v[i].dn);
		free(tg->v[i].name);
		for (k = 0; tg->v[i].tombs != NULL && tg->v[i].tombs[k]; k++)
			free(tg->v[i].tombs[k]);
		free(tg->v[i].tombs);
	}
	free(tg->v);
	memset(tg, 0, sizeof(*tg));
}

static int
tomb_group_fill(struct tomb_group *g, const char *dn,
    const struct kb_attr *attrs, size_t nattrs)
{
	unsigned char *sig = NULL;
	uint64_t serial, at;
	size_t i, k, siglen;

	if ((g->dn = strdup(dn)) == NULL)
		return KB_ERR_NOMEM;
	for (i = 0; i < nattrs; i++) {
		if (attrs[i].nvals == 0)
			continue;
		if (strcasecmp(attrs[i].name, AT_CN) == 0 && g->name == NULL) {
			if ((g->name = strndup(attrs[i].vals[0].bytes,
			    attrs[i].vals[0].len)) == NULL)
				return KB_ERR_NOMEM;
		} else if (strcasecmp(attrs[i].name, AT_SIGNATURE) == 0 &&
		    attrs[i].nvals == 1 &&
		    signed_value_parse(attrs[i].vals[0].bytes,
		    attrs[i].vals[0].len, &serial, &at, &sig, &siglen) == 0) {
			g->signed_at = (time_t)at;
			free(sig);
			sig = NULL;
		} else if (strcasecmp(attrs[i].name, AT_TOMBSTONE) == 0 &&
		    g->tombs == NULL) {
			if ((g->tombs = calloc(attrs[i].nvals + 1,
			    sizeof(*g->tombs))) == NULL)
				return KB_ERR_NOMEM;
			for (k = 0; k < attrs[i].nvals; k++)
				if ((g->tombs[k] = strndup(
				    attrs[i].vals[k].bytes,
				    attrs[i].vals[k].len)) == NULL)
					return KB_ERR_NOMEM;
		}
	}
	return 0;
}

static int
tomb_group_collect(void *ctx, const char *dn, const struct kb_attr *attrs,
    size_t nattrs)
{
	struct tomb_groups *tg = ctx;
	struct tomb_group *nv;

	if ((nv = reallocarray(tg->v, tg->n + 1, sizeof(*nv))) == NULL)
		return KB_ERR_NOMEM;
	tg->v = nv;
	memset(&tg->v[tg->n], 0, sizeof(*nv));
	tg->n++;
	return tomb_group_fill(&tg->v[tg->n - 1], dn, attrs, nattrs);
}

/*
 * Drop the tombstones of every host group whose current signature is
 * older than signature_max_age: every version that still listed a
 * removed member is older still, so no host accepts one.
 */
static int
prune_groups(struct kb_admin *a, time_t now, int dry, struct prune_log *pl)
{
	static const char *const attrs[] = { AT_CN, AT_TOMBSTONE, AT_SIGNATURE,
	    NULL };
	struct tomb_groups tg = { NULL, 0 };
	struct tomb_group *g;
	struct kb_mod mod;
	size_t i, k;
	int r;

	if ((r = dir_search_paged(a->dir, admin_group_base(a), KB_SCOPE_ONE,
	    "(&(objectClass=" OC_GROUP ")(" AT_TOMBSTONE "=*))", attrs,
	    tomb_group_collect, &tg, NULL, NULL)) != 0)
		goto out;
	for (i = 0; i < tg.n; i++) {
		g = &tg.v[i];
		if (g->tombs == NULL || g->tombs[0] == NULL ||
		    !group_tombstones_expired(g->signed_at, now,
		    a->cfg->signature_max_age))
			continue;
		if (!dry) {
			mod.op = KB_MOD_DELETE;
			mod.attr = AT_TOMBSTONE;
			mod.vals = (const char *const *)g->tombs;
			r = admin_modify(a, g->dn, &mod, 1, NULL, 0);
			if (r == KB_ERR_DIR_NO_SUCH_OBJECT ||
			    r == KB_ERR_DIR_NO_SUCH_VALUE)
				continue;	/* changed meanwhile: next run */
			if (r != 0)
				goto out;
		}
		for (k = 0; g->tombs[k] != NULL; k++)
			if ((r = prune_log_name(pl, g->name ? g->name : g->dn,
			    strlen(g->name ? g->name : g->dn), g->tombs[k], 2,
			    g->signed_at)) != 0)
				goto out;
	}
	r = 0;
 out:
	tomb_groups_free(&tg);
	return r;
}

static void
prune_report(const struct kb_admin *a, const struct prune_log *pl, int dry)
{
	char when[TIME_RFC3339_LEN];
	size_t i;
	int first = 1, pass;

	if (a->json) {
		printf("{\"dry_run\":%s,\"removed\":[", dry ? "true" : "false");
		for (pass = 1; pass >= 0; pass--) {
			for (i = 0; i < pl->n; i++) {
				if (pl->v[i].expired != pass)
					continue;
				printf("%s{\"name\":", first ? "" : ",");
				first = 0;
				json_string(stdout, pl->v[i].pair,
				    strlen(pl->v[i].pair));
				printf(pass ? ",\"attachment\":" :
				    ",\"end_value\":");
				json_string(stdout, pl->v[i].value,
				    strlen(pl->v[i].value));
				if (pass) {
					printf(",\"ended\":");
					json_string_or_null(stdout,
					    time_format_rfc3339(pl->v[i].end,
					    when, sizeof(when)) == 0 ? when :
					    NULL);
				}
				putchar('}');
			}
			if (pass == 1) {
				printf("],\"stray_ends\":[");
				first = 1;
			}
		}
		printf("],\"group_tombstones\":[");
		for (i = 0, first = 1; i < pl->n; i++) {
			if (pl->v[i].expired != 2)
				continue;
			printf("%s{\"name\":", first ? "" : ",");
			first = 0;
			json_string(stdout, pl->v[i].pair,
			    strlen(pl->v[i].pair));
			printf(",\"tombstone\":");
			json_string(stdout, pl->v[i].value,
			    strlen(pl->v[i].value));
			putchar('}');
		}
		printf("]}\n");
		return;
	}
	for (i = 0; i < pl->n; i++) {
		printf("%s ", dry ? "would remove" : "removed");
		if (pl->v[i].expired == 2) {
			printf("tombstone ");
			text_safe(stdout, pl->v[i].value,
			    strlen(pl->v[i].value));
			printf(" from host group ");
			text_safe(stdout, pl->v[i].pair, strlen(pl->v[i].pair));
		} else if (pl->v[i].expired) {
			text_safe(stdout, pl->v[i].value,
			    strlen(pl->v[i].value));
			printf(" from ");
			text_safe(stdout, pl->v[i].pair, strlen(pl->v[i].pair));
			if (time_format_rfc3339(pl->v[i].end, when,
			    sizeof(when)) == 0)
				printf(" (ended %s)", when);
		} else {
			printf("stray end \"");
			text_safe(stdout, pl->v[i].value,
			    strlen(pl->v[i].value));
			printf("\" from ");
			text_safe(stdout, pl->v[i].pair, strlen(pl->v[i].pair));
		}
		putchar('\n');
	}
	if (pl->n == 0)
		printf("nothing to prune\n");
}

int
cmd_prune(struct kb_admin *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		ADMIN_OPT_JSON,
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct prune_log pl = { NULL, 0 };
	struct kb_pair **pairs = NULL;
	size_t i, n = 0;
	time_t now;
	int ch, r, dry = 0, status;

	while ((ch = admin_getopt(a, argc, argv, "", longopts)) != -1) {
		if (ch != 'n')
			return EXIT_USAGE;
		dry = 1;
	}
	if (argc != optind)
		return admin_usage(argv[0], "unexpected argument");
	if ((status = admin_connect(a, 0)) != EXIT_OK)
		return status;
	status = EXIT_FAIL;
	if ((r = pair_search(a, "(&(objectClass=" OC_KEYPAIR ")(" AT_END
	    "=*))", &pairs, &n)) != 0) {
		admin_err("cannot search key pairs: %s", kb_strerror(r));
		goto out;
	}
	now = time(NULL);
	for (i = 0; i < n; i++) {
		if ((r = prune_pair(a, pairs[i], now, dry, &pl)) != 0) {
			fflush(stdout);
			fputs("keybound: cannot prune key pair ", stderr);
			text_safe(stderr, pairs[i]->name.s, pairs[i]->name.len);
			fprintf(stderr, ": %s\n", kb_strerror(r));
			admin_audit(a, "prune", pairs[i]->name.s, NULL, 0,
			    kb_strerror(r));
			status = EXIT_FAIL;
			goto report;
		}
	}
	if (a->cfg->schema == KB_SCHEMA_KEYBOUND &&
	    (r = prune_groups(a, now, dry, &pl)) != 0) {
		admin_err("cannot prune host group tombstones: %s",
		    kb_strerror(r));
		status = EXIT_FAIL;
		goto report;
	}
	status = EXIT_OK;
 report:
	if (!dry && pl.n > 0)
		admin_audit(a, "prune", "-", NULL, 0, status == EXIT_OK ?
		    "ok" : "partial");
	prune_report(a, &pl, dry);
 out:
	prune_log_free(&pl);
	pair_free_all(pairs, n);
	return status;
}
