/*
 * fdio.h - writing whole buffers to descriptors.
 */
#ifndef KB_FDIO_H
#define KB_FDIO_H

#include <stddef.h>

/*
 * Write all len bytes of p to fd, retrying short writes and EINTR.
 * Returns 0 or KB_ERR_SYSTEM (errno kept).
 */
int fd_write_all(int fd, const void *p, size_t len);

#endif /* KB_FDIO_H */
