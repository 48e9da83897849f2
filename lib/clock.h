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

#endif /* KB_CLOCK_H */
