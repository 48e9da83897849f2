/*
 * clock.c - monotonic deadlines and durations.
 */
#include <string.h>

#include "kb.h"
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

#define DURATION_MAX	(3650L * 86400L)	/* ten years */

int
clock_parse_duration(const char *s, time_t *secsp)
{
	long long v = 0;
	long mult;
	size_t i, len = strlen(s);

	*secsp = 0;
	if (len < 2 || len > 12)
		return KB_ERR_TIME;
	for (i = 0; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return KB_ERR_TIME;
		v = v * 10 + (s[i] - '0');
	}
	switch (s[len - 1]) {
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	default:
		return KB_ERR_TIME;
	}
	if (v <= 0 || v > DURATION_MAX / mult)
		return KB_ERR_TIME;
	*secsp = (time_t)(v * mult);
	return 0;
}
