/*
 * kb-blackhole - a TCP listener that accepts connections and never
 * answers, for failover tests.
 *
 *   kb-blackhole [-s] PORT [ADDRESS]
 *
 * Listens on ADDRESS (default 127.0.0.1) port PORT, prints "ready" once
 * listening, then accepts every connection and holds it open without
 * reading or writing until it is killed.  With -s it first answers the
 * client's first LDAP request (a StartTLS request) with success, then
 * falls silent: a server that stalls in the TLS handshake.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HELD_MAX	512

/* Answer one LDAP request with an ExtendedResponse "success". */
static void
answer_starttls(int c)
{
	unsigned char req[512], resp[14] = {
		0x30, 0x0c, 0x02, 0x01, 0x00, 0x78, 0x07,
		0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00 };
	struct timeval tv = { 2, 0 };
	ssize_t n;

	(void)setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = read(c, req, sizeof(req));
	/* SEQUENCE, short length, INTEGER of one byte: the message id. */
	if (n < 5 || req[0] != 0x30 || req[2] != 0x02 || req[3] != 0x01)
		return;
	resp[4] = req[4];
	if (write(c, resp, sizeof(resp)) != (ssize_t)sizeof(resp))
		perror("kb-blackhole: write");
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	int held[HELD_MAX];
	size_t next = 0, i;
	unsigned long port;
	char *end;
	int fd, c, one = 1, starttls = 0;

	if (argc > 1 && strcmp(argv[1], "-s") == 0) {
		starttls = 1;
		argc--;
		argv++;
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: kb-blackhole [-s] PORT [ADDRESS]\n");
		return 2;
	}
	errno = 0;
	port = strtoul(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535) {
		fprintf(stderr, "kb-blackhole: bad port %s\n", argv[1]);
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, argc == 3 ? argv[2] : "127.0.0.1",
	    &sin.sin_addr) != 1) {
		fprintf(stderr, "kb-blackhole: bad address\n");
		return 2;
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 128) != 0) {
		perror("kb-blackhole");
		return 1;
	}
	for (i = 0; i < HELD_MAX; i++)
		held[i] = -1;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			perror("kb-blackhole: accept");
			return 1;
		}
		if (starttls)
			answer_starttls(c);
		/* Hold the newest HELD_MAX connections open, silently. */
		if (held[next] != -1)
			close(held[next]);
		held[next] = c;
		next = (next + 1) % HELD_MAX;
	}
}
