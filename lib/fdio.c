/*
 * fdio.c - writing whole buffers to descriptors.
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
