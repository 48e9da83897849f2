/*
 * keyopts.h - authorized_keys options as structured data: parsed from the
 * keyboundKeyOptions allow-list, validated, and rendered back canonically.
 */
#ifndef KB_KEYOPTS_H
#define KB_KEYOPTS_H

#include <stddef.h>
#include <time.h>

/* Flag options (bits of kb_keyopts.flags). */
#define KB_OPT_RESTRICT			0x01
#define KB_OPT_NO_AGENT_FORWARDING	0x02
#define KB_OPT_NO_PORT_FORWARDING	0x04
#define KB_OPT_NO_PTY			0x08
#define KB_OPT_NO_USER_RC		0x10
#define KB_OPT_NO_X11_FORWARDING	0x20
#define KB_OPT_VERIFY_REQUIRED		0x40

#define KB_OPT_VALUE_MAX		1024	/* longest from=/command= value */

struct kb_keyopts {
	unsigned flags;
	char *from;		/* validated pattern list, or NULL */
	char *command;		/* validated command (unquoted), or NULL */
	int has_expiry;
	time_t expiry;		/* rendered as expiry-time="YYYYMMDDHHMMSSZ" */
};

/* Parse modes for opts_parse(). */
#define KB_OPTS_STRICT		0	/* any option outside the allow-list fails */
#define KB_OPTS_DROP_UNKNOWN	1	/* unknown grant-only options are dropped */

/*
 * Parse an options string (e.g. `restrict,from="10.0.0.0/8"`).  In
 * KB_OPTS_DROP_UNKNOWN mode, well-formed options outside the allow-list that
 * only grant something (environment=, pty, port-forwarding, ...) are
 * skipped and their keywords (printable, comma separated, bounded) written
 * to dropped (if not NULL, dropsz > 0); an unknown option that may restrict
 * the key (permitopen=, tunnel=, cert-authority, ...) fails with
 * KB_ERR_OPT_UNKNOWN, as dropping it would widen access.  Syntax errors
 * always fail.
 * On failure *o is left empty.  Call opts_clear() when done.
 */
int opts_parse(const char *s, size_t len, int mode, struct kb_keyopts *o,
    char *dropped, size_t dropsz);

/*
 * Syntax check only (keywords, quoting per sshd's rules, separators) of an
 * options prefix taken from a key line; nothing is kept.  0 or
 * KB_ERR_OPT_SYNTAX / KB_ERR_TOO_LONG.
 */
int opts_check_syntax(const char *s, size_t len);

/* Validate a from= pattern list (no quotes, comma separated patterns). */
int opts_valid_from(const char *patterns);

/* Validate a command= value as it would be stored unquoted. */
int opts_valid_command(const char *command);

/* Render the options (without trailing space); "" when there are none. */
int opts_render(const struct kb_keyopts *o, char **outp);

/* Free the strings held by o and zero it. */
void opts_clear(struct kb_keyopts *o);

#endif /* KB_KEYOPTS_H */
