/*
 * clock.h - monotonic deadlines.
 */
#ifndef KB_CLOCK_H
#define KB_CLOCK_H

#include <time.h>

/* Set *d to now + ms on CLOCK_MONOTONIC. */
void deadline_set(struct timespec *d, long ms);

/* Milliseconds left until d (0 if passed). */
long deadline_left_ms(const struct timespec *d);

/* Milliseconds since start on CLOCK_MONOTONIC. */
long clock_elapsed_ms(const struct timespec *start);

/* Current CLOCK_MONOTONIC time. */
void clock_now(struct timespec *t);

/*
 * A DURATION: a positive integer followed by s, m, h or d ("30d"), at
 * most ten years.  0 or KB_ERR_TIME.
 */
int clock_parse_duration(const char *s, time_t *secsp);

#endif /* KB_CLOCK_H */
