/*
 * test_fdio.c - lib/fdio.c: fd_read_bounded() reads to the end in as many
 * reads as it takes, up to exactly max bytes, and refuses one byte more;
 * fd_write_all() writes every byte.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kb.h"
#include "fdio.h"
#include "tap.h"

#define MAX	1000

/* A pipe holding len bytes of c, written in two pieces, then closed. */
static int
pipe_with(size_t len, char c)
{
	char data[MAX + 2];
	int p[2];

	if (len > sizeof(data) || pipe(p) != 0)
		return -1;
	memset(data, c, len);
	if (fd_write_all(p[1], data, len / 2) != 0 ||
	    fd_write_all(p[1], data + len / 2, len - len / 2) != 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	return p[0];
}

static void
test_read(size_t len, int want, size_t wantlen)
{
	char buf[MAX + 1];
	size_t got = 12345;
	int fd;

	if ((fd = pipe_with(len, 'x')) == -1) {
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(fd_read_bounded(fd, buf, MAX, &got), want);
	CHECK_EQ_INT(got, wantlen);
	if (want == 0)
		CHECK(got == 0 || (buf[0] == 'x' && buf[got - 1] == 'x'));
	close(fd);
}

int
main(void)
{
	char buf[8];
	size_t got;

	test_read(0, 0, 0);
	test_read(1, 0, 1);
	test_read(MAX, 0, MAX);
	test_read(MAX + 1, KB_ERR_TOO_LONG, 0);
	test_read(MAX + 2, KB_ERR_TOO_LONG, 0);
	/* a descriptor that cannot be read */
	CHECK_EQ_INT(fd_read_bounded(-1, buf, sizeof(buf) - 1, &got),
	    KB_ERR_SYSTEM);
	CHECK_EQ_INT(fd_write_all(-1, "x", 1), KB_ERR_SYSTEM);
	return tap_done();
}
