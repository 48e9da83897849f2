/*
 * clock.c - monotonic deadlines.
 */
#include "clock.h"

void
clock_now(struct timespec *t)
{
	if (clock_gettime(CLOCK_MONOTONIC, t) != 0) {
		t->tv_sec = 0;
		t->tv_nsec = 0;
	}
}

void
deadline_set(struct timespec *d, long ms)
{
	clock_now(d);
	d->tv_sec += ms / 1000;
	d->tv_nsec += (ms % 1000) * 1000000L;
	if (d->tv_nsec >= 1000000000L) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000L;
	}
}

long
deadline_left_ms(const struct timespec *d)
{
	struct timespec now;
	long ms;

	clock_now(&now);
	ms = (long)(d->tv_sec - now.tv_sec) * 1000 +
	    (d->tv_nsec - now.tv_nsec) / 1000000L;
	return ms > 0 ? ms : 0;
}

long
clock_elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_now(&now);
	return (long)(now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000L;
}
