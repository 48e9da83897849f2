/*
 * directory.h - the LDAP directory client.  lib/directory.c is the only file
 * that includes <ldap.h>; everything else sees these types.
 */
#ifndef KB_DIRECTORY_H
#define KB_DIRECTORY_H

#include <stddef.h>
#include <time.h>

struct kb_config;
struct kb_dir;

#define KB_DIR_VALUE_MAX	(64 * 1024)	/* longer values are rejected */
#define KB_DIR_MAX_ENTRIES	10000		/* hard size limit per search */

/* One attribute value: raw bytes, NUL-terminated copy (may hold NULs). */
struct kb_val {
	const char *bytes;
	size_t len;
};

/* One attribute of an entry as returned by a search. */
struct kb_attr {
	const char *name;
	const struct kb_val *vals;
	size_t nvals;
};

/*
 * Called once per entry; attrs holds the requested attributes that were
 * present (names as the caller asked for them).  Return 0 to go on, a
 * negative KB_ERR_* to stop the search with that error, or
 * KB_DIR_ENTRY_RELEASED to go on when nothing of the entry is kept past
 * the call (the caller bounds what it derives from it): the entry's
 * bytes then do not count toward the search's total.
 */
#define KB_DIR_ENTRY_RELEASED	1
typedef int (*dir_entry_fn)(void *ctx, const char *dn,
    const struct kb_attr *attrs, size_t nattrs);

/* Overrides for the admin CLI (-H, -D, -y/-W); NULL members = from cfg. */
struct kb_dir_auth {
	const char *uri;		/* one URI replacing cfg's list */
	const char *binddn;
	const char *password;		/* in memory, already read */
	size_t passwordlen;
};

/*
 * Set the environment libldap's one-time initialisation reads (LDAPNOINIT,
 * SASL_PATH) so that ldaprc files, LDAP* variables and SASL plugins cannot
 * change anything.  dir_open() calls it; a program with threads calls it
 * before starting them, so that dir_open() later changes nothing.
 */
int dir_init_env(void);

/*
 * Connect and bind: try cfg's URIs in order under the absolute monotonic
 * deadline, each attempt bounded by min(network_timeout, time left); a
 * server that accepts and never answers loses its turn.  TLS is always
 * verified (demand); LDAPNOINIT keeps environment and ldaprc files out.
 * A server that stops answering before its first search or write result
 * loses its turn too, however far it got (TLS, bind).  A connection given
 * up on is dropped without another byte written to it, and a handshake
 * the watchdog had to cut raises no SIGPIPE; libldap still writes to live
 * connections with write(2), so callers ignore SIGPIPE (the front ends do
 * from the first line of main).
 * auth may be NULL.  On failure *dp is NULL and errbuf (if errlen > 0)
 * holds a short printable reason.
 */
int dir_open(const struct kb_config *cfg, const struct kb_dir_auth *auth,
    const struct timespec *deadline, struct kb_dir **dp,
    char *errbuf, size_t errlen);

/* Unbind and free (NULL is fine). */
void dir_close(struct kb_dir *d);

/* The URI of the connected server (for logs). */
const char *dir_uri(const struct kb_dir *d);

/* Scopes for dir_search(). */
#define KB_SCOPE_BASE	0
#define KB_SCOPE_ONE	1
#define KB_SCOPE_SUB	2

/*
 * The wall-clock time (CLOCK_REALTIME) at which the last search was sent,
 * to the URI that answered it when dir_search() moved on: what the
 * answer is at least as fresh as.
 */
void dir_search_sent(const struct kb_dir *d, struct timespec *t);

/*
 * Work for the next search to do once its request is sent, before it
 * waits for the answer: fn(ctx) then runs while the server works and the
 * answer travels.  Called at most once (cleared when called); NULL
 * clears it.  fn must not use d.
 */
typedef void (*dir_idle_fn)(void *ctx);
void dir_set_idle(struct kb_dir *d, dir_idle_fn fn, void *ctx);

/*
 * When the server died during a read (the connection is gone), connect
 * to the next URI in order, under the same deadline, so a caller whose
 * earlier search there succeeded can start its work again.  0, or
 * KB_ERR_DIR_UNAVAILABLE (connection alive, no URI left, deadline
 * passed) or the connect error.
 */
int dir_move_on(struct kb_dir *d);

/*
 * Search base with filter (already escaped), asking only for attrs
 * (NULL-terminated); sizelimit 0 means KB_DIR_MAX_ENTRIES.  Each entry is
 * handed to fn.  Values over KB_DIR_VALUE_MAX are dropped (and counted in
 * *dropped if not NULL).  The values handed over and not released (see
 * dir_entry_fn), plus the entry at hand, are bounded in bytes.  Bounded
 * by the deadline given to dir_open().
 */
int dir_search(struct kb_dir *d, const char *base, int scope,
    const char *filter, const char *const *attrs, size_t sizelimit,
    dir_entry_fn fn, void *ctx, size_t *dropped);

/*
 * dir_search(), also sending the RFC 3876 matched-values control (not
 * critical) so that of attribute vr_attr only the values equal to
 * vr_value come back (a group's one member instead of all of them).  A
 * server without the control sends every value: callers still check.
 */
int dir_search_values(struct kb_dir *d, const char *base, int scope,
    const char *filter, const char *const *attrs, size_t sizelimit,
    const char *vr_attr, const char *vr_value, dir_entry_fn fn, void *ctx,
    size_t *dropped);

/*
 * dir_search() for reads of many entries (the admin CLI): RFC 2696
 * simple paged results, KB_DIR_PAGE_SIZE entries a page, no cap on the
 * number of entries (DIR_MAX_BYTES bounds each page's values).  The
 * control is not critical: a server without it answers one ordinary
 * search, subject to its size limit, and *unpagedp (may be NULL) is set
 * so the caller can say so.  keybound-keys never calls this: its
 * per-login search stays dir_search(), bounded.
 */
#define KB_DIR_PAGE_SIZE	500
int dir_search_paged(struct kb_dir *d, const char *base, int scope,
    const char *filter, const char *const *attrs, dir_entry_fn fn, void *ctx,
    size_t *dropped, int *unpagedp);

/* Modification operations. */
enum kb_mod_op {
	KB_MOD_ADD = 0,
	KB_MOD_DELETE,
	KB_MOD_REPLACE,
};

struct kb_mod {
	enum kb_mod_op op;
	const char *attr;
	const char *const *vals;	/* NULL-terminated; NULL = none */
};

/* Add an entry dn with the given attributes (ops ignored: all adds). */
int dir_add(struct kb_dir *d, const char *dn, const struct kb_mod *mods,
    size_t nmods);

/*
 * One atomic modify of dn.  If assertion is not NULL it is sent as the
 * RFC 4528 assertion control (a filter the entry must match), failing with
 * KB_ERR_DIR_ASSERTION.  permissive=1 sends the permissive-modify control
 * so adding a present value or deleting an absent one is not an error.
 * Both controls are sent critical: a server lacking the one sent (389-ds
 * has neither) fails the write with KB_ERR_DIR_NO_CONTROL and changes
 * nothing.
 */
int dir_modify(struct kb_dir *d, const char *dn, const struct kb_mod *mods,
    size_t nmods, const char *assertion, int permissive);

/*
 * Delete dn, guarded by the assertion filter if not NULL
 * (KB_ERR_DIR_NO_CONTROL, nothing deleted, if the server lacks the control).
 */
int dir_delete(struct kb_dir *d, const char *dn, const char *assertion);

/* The bound identity for audit logs ("anonymous" if none). */
const char *dir_bind_identity(const struct kb_dir *d);

/* Short printable text of the last server error (may be ""). */
const char *dir_last_error(const struct kb_dir *d);

#endif /* KB_DIRECTORY_H */
