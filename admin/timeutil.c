/*
 * timeutil.c - the UTC times the admin CLI reads and writes: user input
 * and RFC 3339 output (GeneralizedTime is lib/lookup.c's).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kb.h"
#include "admin.h"

#define TIME_YEAR_MIN	1970
#define TIME_YEAR_MAX	9999

/* Read n decimal digits at s into *vp; 0 or -1. */
static int
digits(const char *s, size_t n, int *vp)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*vp = v;
	return 0;
}

static int
leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Check the broken-down UTC time and convert it; 0 or KB_ERR_TIME. */
static int
time_from_fields(int y, int mo, int d, int h, int mi, int s, time_t *tp)
{
	static const int mdays[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm;
	time_t t;
	int dim;

	*tp = 0;
	if (y < TIME_YEAR_MIN || y > TIME_YEAR_MAX || mo < 1 || mo > 12)
		return KB_ERR_TIME;
	dim = mdays[mo - 1] + (mo == 2 && leap_year(y));
	if (d < 1 || d > dim || h > 23 || mi > 59 || s > 59)
		return KB_ERR_TIME;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	if ((t = timegm(&tm)) == (time_t)-1)
		return KB_ERR_TIME;
	*tp = t;
	return 0;
}

int
time_parse_user(const char *s, time_t *tp)
{
	int y, mo, d, h, mi, sec;
	size_t len;

	*tp = 0;
	len = strlen(s);
	if (len == 20) {
		/* YYYY-MM-DDTHH:MM:SSZ */
		if (s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		    s[13] != ':' || s[16] != ':' || s[19] != 'Z')
			return KB_ERR_TIME;
		if (digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
		    digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
		    digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
			return KB_ERR_TIME;
	} else if (len == 15) {
		/* YYYYMMDDHHMMSSZ */
		if (s[14] != 'Z')
			return KB_ERR_TIME;
		if (digits(s, 4, &y) || digits(s + 4, 2, &mo) ||
		    digits(s + 6, 2, &d) || digits(s + 8, 2, &h) ||
		    digits(s + 10, 2, &mi) || digits(s + 12, 2, &sec))
			return KB_ERR_TIME;
	} else
		return KB_ERR_TIME;
	return time_from_fields(y, mo, d, h, mi, sec, tp);
}

/* Break t down in UTC within the years we write; 0 or KB_ERR_TIME. */
static int
time_fields(time_t t, struct tm *tm)
{
	if (gmtime_r(&t, tm) == NULL || tm->tm_year + 1900 < TIME_YEAR_MIN ||
	    tm->tm_year + 1900 > TIME_YEAR_MAX)
		return KB_ERR_TIME;
	return 0;
}

int
time_format_rfc3339(time_t t, char *buf, size_t len)
{
	struct tm tm;
	int n;

	if (len > 0)
		buf[0] = '\0';
	if (len < TIME_RFC3339_LEN || time_fields(t, &tm) != 0)
		return KB_ERR_TIME;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	return n == TIME_RFC3339_LEN - 1 ? 0 : KB_ERR_TIME;
}


void
time_format_left(time_t secs, char *buf, size_t len)
{
	long long d, h, m, s;

	if (secs < 0)
		secs = 0;
	d = (long long)secs / 86400;
	h = ((long long)secs % 86400) / 3600;
	m = ((long long)secs % 3600) / 60;
	s = (long long)secs % 60;
	if (d > 0)
		snprintf(buf, len, "%lldd%lldh", d, h);
	else if (h > 0)
		snprintf(buf, len, "%lldh%lldm", h, m);
	else if (m > 0)
		snprintf(buf, len, "%lldm%llds", m, s);
	else
		snprintf(buf, len, "%llds", s);
}
