/*
 * fdio.h - reading and writing whole buffers through descriptors.
 */
#ifndef KB_FDIO_H
#define KB_FDIO_H

#include <stddef.h>

/*
 * Write all len bytes of p to fd, retrying short writes and EINTR.
 * Returns 0 or KB_ERR_SYSTEM (errno kept).
 */
int fd_write_all(int fd, const void *p, size_t len);

/*
 * Read fd to its end into buf, which has room for max + 1 bytes (one
 * more, to see a file that is too long), retrying short reads and EINTR;
 * *lenp gets the bytes read.  Returns 0, KB_ERR_TOO_LONG when fd holds
 * more than max bytes, or KB_ERR_SYSTEM (errno kept).  What was read
 * stays in buf either way: the caller wipes it if it is secret.
 */
int fd_read_bounded(int fd, void *buf, size_t max, size_t *lenp);

#endif /* KB_FDIO_H */
