/*
 * log.h - one key=value syslog line, built safely from untrusted values.
 *
 * Front ends build a line with logline_*() and send it with log_emit();
 * lib/ itself never logs.  Values that are not plain tokens are quoted and
 * every byte outside printable ASCII is written as \xNN, so an attacker-
 * chosen user name cannot forge fields or lines.  Each value is bounded.
 */
#ifndef KB_LOG_H
#define KB_LOG_H

#include <stddef.h>

#define KB_LOG_LINE_MAX		1024	/* whole line, bytes */
#define KB_LOG_VALUE_MAX	96	/* input bytes shown per value */

struct kb_logline {
	char buf[KB_LOG_LINE_MAX];
	size_t len;
};

/* Start an empty line. */
void logline_init(struct kb_logline *l);

/* Append key=value for a NUL-terminated value (NULL shows as "-"). */
void logline_str(struct kb_logline *l, const char *key, const char *val);

/* Append key=value for len raw bytes (may hold NUL or any byte). */
void logline_bytes(struct kb_logline *l, const char *key, const void *val,
    size_t len);

/* Append key=number. */
void logline_num(struct kb_logline *l, const char *key, long long v);

/* The line so far (always NUL-terminated). */
const char *logline_text(const struct kb_logline *l);

/* openlog(ident, LOG_PID, LOG_AUTHPRIV). */
void log_open(const char *ident);

/* Send the line to syslog with priority prio (LOG_INFO, LOG_ERR, ...). */
void log_emit(int prio, const struct kb_logline *l);

#endif /* KB_LOG_H */
