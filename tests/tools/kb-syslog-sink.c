/*
 * kb-syslog-sink - a stand-in for syslogd in tests: receive datagrams on a
 * Unix socket and append each as one line to a file.
 *
 *	kb-syslog-sink SOCKET FILE
 *
 * Binds SOCKET (which must not exist), then writes every message to FILE,
 * one line each, flushed at once, until SIGTERM or SIGINT: bytes outside
 * printable ASCII as \xNN and a backslash as \\, so a raw control byte a
 * sender let through is told apart from a sender's own escaping.  The
 * socket is removed on exit.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
write_line(int fd, const unsigned char *msg, size_t len)
{
	static char out[4 * 65536 + 2];
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (msg[i] == '\\') {
			out[n++] = '\\';
			out[n++] = '\\';
		} else if (msg[i] >= 0x20 && msg[i] < 0x7f)
			out[n++] = (char)msg[i];
		else
			n += (size_t)snprintf(out + n, 5, "\\x%02x", msg[i]);
	}
	out[n++] = '\n';
	return write(fd, out, n) == (ssize_t)n ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static unsigned char msg[65536];
	struct sockaddr_un sun;
	struct sigaction sa;
	ssize_t n;
	int s, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: kb-syslog-sink SOCKET FILE\n");
		return 2;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "kb-syslog-sink: socket path too long\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd == -1) {
		perror(argv[2]);
		return 1;
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s == -1 || bind(s, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("kb-syslog-sink: bind");
		return 1;
	}
	chmod(argv[1], 0666);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stop) {
		n = recv(s, msg, sizeof(msg), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("kb-syslog-sink: recv");
			break;
		}
		if (write_line(fd, msg, (size_t)n) != 0)
			break;
	}
	unlink(argv[1]);
	close(s);
	close(fd);
	return 0;
}
