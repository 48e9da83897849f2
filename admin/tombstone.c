/*
 * tombstone.c - the pure rules of signed entries the admin CLI applies:
 * the next serial, and when prune may drop a tombstone (keybound(1),
 * SIGNED RECORDS and prune).
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "kb.h"
#include "signed.h"
#include "admin.h"

int
sign_next_serial(const char *old, size_t len, uint64_t now_ms,
    uint64_t *nextp, int *resetp)
{
	unsigned char *sig = NULL;
	uint64_t serial = 0, at;
	size_t i, siglen;
	int r;

	*nextp = 0;
	*resetp = 0;
	if (old == NULL) {
		*nextp = now_ms > 0 ? now_ms : 1;
		return 0;
	}
	r = signed_value_parse(old, len, &serial, &at, &sig, &siglen);
	free(sig);
	if (r != 0) {
		/* a damaged value: keep counting from its serial if any */
		serial = 0;
		for (i = 0; i < len && old[i] >= '0' && old[i] <= '9'; i++) {
			if (serial > UINT64_MAX / 10 ||
			    (serial == UINT64_MAX / 10 &&
			    (uint64_t)(old[i] - '0') > UINT64_MAX % 10)) {
				serial = 0;
				break;
			}
			serial = serial * 10 + (uint64_t)(old[i] - '0');
		}
		if (i == 0 || (i < len && old[i] != ' ') || serial == 0) {
			serial = 0;
			*resetp = 1;
		}
	}
	if (serial == UINT64_MAX)
		return KB_ERR_SIG_FORMAT;
	*nextp = serial + 1 > now_ms ? serial + 1 : now_ms;
	return 0;
}

int
tombstone_expired(time_t end, time_t now, unsigned max_age)
{
	return end <= now && (long long)end + (long long)max_age <
	    (long long)now;
}

int
group_tombstones_expired(time_t signed_at, time_t now, unsigned max_age)
{
	return signed_at > 0 && (long long)signed_at + (long long)max_age <
	    (long long)now;
}
