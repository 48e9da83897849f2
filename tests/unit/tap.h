/*
 * tap.h - a tiny assertion header for keybound's unit tests.
 *
 *   CHECK(cond)               count a check; report file:line on failure
 *   CHECK_EQ_INT(a, b)        integers
 *   CHECK_EQ_STR(a, b)        strings (NULL-safe)
 *   return tap_done();        at the end of main: 0 if all passed
 */
#ifndef KB_TAP_H
#define KB_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_checks, tap_failures;

#define CHECK(cond) do {						\
	tap_checks++;							\
	if (!(cond)) {							\
		tap_failures++;						\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
	}								\
} while (0)

#define CHECK_EQ_INT(a, b) do {						\
	long long tap_a = (long long)(a), tap_b = (long long)(b);	\
	tap_checks++;							\
	if (tap_a != tap_b) {						\
		tap_failures++;						\
		fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n",\
		    __FILE__, __LINE__, #a, tap_a, #b, tap_b);		\
	}								\
} while (0)

#define CHECK_EQ_STR(a, b) do {						\
	const char *tap_sa = (a), *tap_sb = (b);			\
	tap_checks++;							\
	if (tap_sa == NULL || tap_sb == NULL ?				\
	    tap_sa != tap_sb : strcmp(tap_sa, tap_sb) != 0) {		\
		tap_failures++;						\
		fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n",\
		    __FILE__, __LINE__, #a, tap_sa ? tap_sa : "(null)",	\
		    tap_sb ? tap_sb : "(null)");			\
	}								\
} while (0)

static inline int
tap_done(void)
{
	printf("%d checks, %d failed\n", tap_checks, tap_failures);
	return tap_failures == 0 ? 0 : 1;
}

#endif /* KB_TAP_H */
