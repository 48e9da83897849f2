/*
 * fdio.c - reading and writing whole buffers through descriptors.
 */
#include <errno.h>
#include <unistd.h>

#include "kb.h"
#include "fdio.h"

int
fd_write_all(int fd, const void *p, size_t len)
{
	const char *s = p;
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return KB_ERR_SYSTEM;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fd_read_bounded(int fd, void *buf, size_t max, size_t *lenp)
{
	char *s = buf;
	size_t len = 0;
	ssize_t n;

	*lenp = 0;
	for (;;) {
		n = read(fd, s + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return KB_ERR_SYSTEM;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return KB_ERR_TOO_LONG;
	}
	*lenp = len;
	return 0;
}
