/*
 * kb-badserver - a directory server that misbehaves in one chosen way, for
 * failover tests.
 *
 *   kb-badserver [-s | -l] [-c CERT -k KEY] MODE PORT
 *
 * Listens on 127.0.0.1 port PORT, prints "ready" once clients can be
 * served (or, for syn-drop, ignored), then handles one connection at a
 * time and holds each one open, silently, once it has done what MODE says.
 * Each connection that reached its stall point prints one line
 * "stalled MODE" on stdout.
 *
 *   syn-drop         never accept: the accept queue is kept full, so the
 *                    kernel drops every SYN (a filtered port)
 *   reset            accept, then reset the connection (RST)
 *   silent           accept, never read or write
 *   starttls-stall   answer the StartTLS extended operation with success,
 *                    then never start the TLS handshake
 *   handshake-stall  read the TLS ClientHello, send half of the server's
 *                    first flight, then fall silent (-s: after StartTLS)
 *   search-stall     speak LDAP: StartTLS (-s) or TLS from the first byte
 *                    (-l) with CERT and KEY, answer a bind with success,
 *                    read the search request and never answer it
 *   second-search-reset  as search-stall, but answer the first search
 *                    (no entries, success) and reset the connection on
 *                    the second: a server that dies between two searches
 *
 * -s: the client starts with StartTLS (ldap://); -l: TLS from the first
 * byte (ldaps://).  handshake-stall needs one of them; both TLS modes need
 * -c and -k.  libssl is loaded with dlopen(): the test tools link libcrypto
 * only.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#define HELD_MAX	256
#define MSG_MAX		4096	/* largest LDAP request read */

#define LDAP_TAG_BIND_REQ	0x60
#define LDAP_TAG_BIND_RESP	0x61
#define LDAP_TAG_UNBIND_REQ	0x42
#define LDAP_TAG_SEARCH_REQ	0x63
#define LDAP_TAG_SEARCH_DONE	0x65
#define LDAP_TAG_EXT_REQ	0x77
#define LDAP_TAG_EXT_RESP	0x78

enum mode {
	MODE_SYN_DROP,
	MODE_RESET,
	MODE_SILENT,
	MODE_STARTTLS_STALL,
	MODE_HANDSHAKE_STALL,
	MODE_SEARCH_STALL,
	MODE_SECOND_SEARCH_RESET,
};

static const struct {
	const char *name;
	enum mode mode;
} modes[] = {
	{ "syn-drop", MODE_SYN_DROP },
	{ "reset", MODE_RESET },
	{ "silent", MODE_SILENT },
	{ "starttls-stall", MODE_STARTTLS_STALL },
	{ "handshake-stall", MODE_HANDSHAKE_STALL },
	{ "search-stall", MODE_SEARCH_STALL },
	{ "second-search-reset", MODE_SECOND_SEARCH_RESET },
};

/* The libssl functions used, resolved at start (TLS modes only). */
#define SSL_FUNCS(X) \
	X(TLS_server_method) \
	X(SSL_CTX_new) \
	X(SSL_CTX_use_certificate_chain_file) \
	X(SSL_CTX_use_PrivateKey_file) \
	X(SSL_new) \
	X(SSL_free) \
	X(SSL_set_fd) \
	X(SSL_set_bio) \
	X(SSL_accept) \
	X(SSL_read) \
	X(SSL_write)
#define SSL_FIELD(name)	__typeof__(name) *name;
static struct {
	SSL_FUNCS(SSL_FIELD)
} ssl;
#undef SSL_FIELD

/* One accepted connection: its socket and, once TLS runs, its session. */
struct conn {
	int fd;
	SSL *tls;
};

static const char *mode_name;

/* Say that a connection reached its stall point. */
static void
report_stall(void)
{
	printf("stalled %s\n", mode_name);
	fflush(stdout);
}

static void
die(const char *what)
{
	fprintf(stderr, "kb-badserver: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: kb-badserver [-s | -l] [-c CERT -k KEY] "
	    "MODE PORT\n");
	exit(2);
}

static SSL_CTX *
tls_setup(const char *cert, const char *key)
{
	void *h, *sym;
	SSL_CTX *ctx;

	if ((h = dlopen("libssl.so.3", RTLD_NOW)) == NULL &&
	    (h = dlopen("libssl.so", RTLD_NOW)) == NULL) {
		fprintf(stderr, "kb-badserver: cannot load libssl: %s\n",
		    dlerror());
		exit(1);
	}
#define SSL_RESOLVE(name) \
	if ((sym = dlsym(h, #name)) == NULL) { \
		fprintf(stderr, "kb-badserver: libssl: no %s\n", #name); \
		exit(1); \
	} \
	ssl.name = (__typeof__(ssl.name))sym;
	SSL_FUNCS(SSL_RESOLVE)
#undef SSL_RESOLVE
	if ((ctx = ssl.SSL_CTX_new(ssl.TLS_server_method())) == NULL ||
	    ssl.SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    ssl.SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "kb-badserver: cannot load %s and %s\n", cert,
		    key);
		exit(1);
	}
	return ctx;
}

/* Read up to len bytes from the connection; <= 0 on EOF, error, timeout. */
static ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	if (c->tls != NULL)
		return ssl.SSL_read(c->tls, buf, (int)len);
	return read(c->fd, buf, len);
}

static int
conn_write(struct conn *c, const void *buf, size_t len)
{
	if (c->tls != NULL)
		return ssl.SSL_write(c->tls, buf, (int)len) == (int)len ?
		    0 : -1;
	return send(c->fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static int
conn_read_full(struct conn *c, unsigned char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = conn_read(c, buf + got, len - got)) <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/*
 * Read one LDAP message; return its protocol-op tag and copy its message
 * ID (the INTEGER's content bytes) to id/idlen.  -1 on EOF or garbage.
 */
static int
read_ldap_msg(struct conn *c, unsigned char *id, size_t *idlen)
{
	unsigned char msg[MSG_MAX], hdr[2], lenbytes[4];
	size_t len, nlen, i;

	if (conn_read_full(c, hdr, 2) != 0 || hdr[0] != 0x30)
		return -1;
	if (hdr[1] < 0x80)
		len = hdr[1];
	else {
		nlen = hdr[1] & 0x7f;
		if (nlen == 0 || nlen > sizeof(lenbytes) ||
		    conn_read_full(c, lenbytes, nlen) != 0)
			return -1;
		for (len = 0, i = 0; i < nlen; i++)
			len = len << 8 | lenbytes[i];
	}
	if (len < 4 || len > sizeof(msg) || conn_read_full(c, msg, len) != 0)
		return -1;
	/* INTEGER messageID (1 to 4 bytes), then the operation's tag. */
	if (msg[0] != 0x02 || msg[1] < 1 || msg[1] > 4 ||
	    (size_t)msg[1] + 2 >= len)
		return -1;
	*idlen = msg[1];
	memcpy(id, msg + 2, *idlen);
	return msg[2 + *idlen];
}

/* Answer with a success result of the given response tag. */
static int
send_success(struct conn *c, int tag, const unsigned char *id, size_t idlen)
{
	static const unsigned char result[] = {
		0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00 };
	unsigned char out[32];
	size_t n = 0;

	out[n++] = 0x30;
	out[n++] = (unsigned char)(2 + idlen + 2 + sizeof(result));
	out[n++] = 0x02;
	out[n++] = (unsigned char)idlen;
	memcpy(out + n, id, idlen);
	n += idlen;
	/* resultCode success, empty matchedDN and diagnosticMessage */
	out[n++] = (unsigned char)tag;
	out[n++] = sizeof(result);
	memcpy(out + n, result, sizeof(result));
	n += sizeof(result);
	return conn_write(c, out, n);
}

/* Read the StartTLS request and accept it. */
static int
answer_starttls(struct conn *c)
{
	unsigned char id[4];
	size_t idlen;

	if (read_ldap_msg(c, id, &idlen) != LDAP_TAG_EXT_REQ)
		return -1;
	return send_success(c, LDAP_TAG_EXT_RESP, id, idlen);
}

/*
 * Run the server side of the handshake in memory, send only the first
 * half of the server's answer to the ClientHello: the client waits for
 * the rest forever.
 */
static int
stall_handshake(SSL_CTX *ctx, struct conn *c)
{
	unsigned char buf[16384];
	BIO *in, *out;
	ssize_t n;
	size_t pending;

	if ((c->tls = ssl.SSL_new(ctx)) == NULL ||
	    (in = BIO_new(BIO_s_mem())) == NULL ||
	    (out = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	ssl.SSL_set_bio(c->tls, in, out);
	while ((pending = BIO_ctrl_pending(out)) == 0) {
		if ((n = read(c->fd, buf, sizeof(buf))) <= 0 ||
		    BIO_write(in, buf, (int)n) != (int)n)
			return -1;
		(void)ssl.SSL_accept(c->tls);	/* wants the client's next */
	}
	if (pending > sizeof(buf) || BIO_read(out, buf, (int)pending) !=
	    (int)pending)
		return -1;
	return send(c->fd, buf, pending / 2, MSG_NOSIGNAL) ==
	    (ssize_t)(pending / 2) ? 0 : -1;
}

/* A TLS LDAP server that answers binds and never answers a search. */
static int
stall_search(SSL_CTX *ctx, struct conn *c)
{
	unsigned char id[4];
	size_t idlen;
	int tag;

	if (ctx != NULL) {
		if ((c->tls = ssl.SSL_new(ctx)) == NULL ||
		    ssl.SSL_set_fd(c->tls, c->fd) != 1 ||
		    ssl.SSL_accept(c->tls) != 1)
			return -1;
	}
	for (;;) {
		switch ((tag = read_ldap_msg(c, id, &idlen))) {
		case LDAP_TAG_BIND_REQ:
			if (send_success(c, LDAP_TAG_BIND_RESP, id, idlen) != 0)
				return -1;
			break;
		case LDAP_TAG_SEARCH_REQ:
			return 0;
		case -1:
		case LDAP_TAG_UNBIND_REQ:
			return -1;
		default:
			break;		/* abandon and the like */
		}
	}
}

/*
 * Answer binds and the first search (no entries), then reset the
 * connection when the second search comes: 1 (reported), -1.
 */
static int
reset_second_search(SSL_CTX *ctx, struct conn *c)
{
	struct linger lg = { 1, 0 };
	unsigned char id[4];
	size_t idlen;
	int searches = 0;

	if (ctx != NULL) {
		if ((c->tls = ssl.SSL_new(ctx)) == NULL ||
		    ssl.SSL_set_fd(c->tls, c->fd) != 1 ||
		    ssl.SSL_accept(c->tls) != 1)
			return -1;
	}
	for (;;) {
		switch (read_ldap_msg(c, id, &idlen)) {
		case LDAP_TAG_BIND_REQ:
			if (send_success(c, LDAP_TAG_BIND_RESP, id, idlen) != 0)
				return -1;
			break;
		case LDAP_TAG_SEARCH_REQ:
			if (searches++ == 0) {
				if (send_success(c, LDAP_TAG_SEARCH_DONE, id,
				    idlen) != 0)
					return -1;
				break;
			}
			report_stall();
			(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg,
			    sizeof(lg));
			close(c->fd);
			c->fd = -1;
			return 1;
		case -1:
		case LDAP_TAG_UNBIND_REQ:
			return -1;
		default:
			break;
		}
	}
}

/* Listen with a full accept queue: the kernel then drops every SYN. */
static int
fill_queue(const struct sockaddr_in *sin)
{
	struct pollfd pfd;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) != 0 &&
	    errno != EINPROGRESS)
		return -1;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 5000) != 1 || (pfd.revents & POLLOUT) == 0)
		return -1;
	return fd;		/* held: it keeps the queue full */
}

/*
 * Handle one accepted connection up to its stall point: 0 there, 1 if it
 * was reported already, -1 if the client went away first.
 */
static int
serve(enum mode mode, int tls_first, int starttls, SSL_CTX *ctx,
    struct conn *c)
{
	struct linger lg = { 1, 0 };
	struct timeval tv = { 5, 0 };

	/* A client that goes quiet must not wedge this loop. */
	(void)setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	switch (mode) {
	case MODE_RESET:
		/* Reported first: the client moves on once it is reset. */
		report_stall();
		(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c->fd);
		c->fd = -1;
		return 1;
	case MODE_SILENT:
		return 0;
	case MODE_STARTTLS_STALL:
		return answer_starttls(c);
	case MODE_HANDSHAKE_STALL:
		if (starttls && answer_starttls(c) != 0)
			return -1;
		return stall_handshake(ctx, c);
	case MODE_SEARCH_STALL:
		if (starttls && answer_starttls(c) != 0)
			return -1;
		return stall_search(tls_first || starttls ? ctx : NULL, c);
	case MODE_SECOND_SEARCH_RESET:
		if (starttls && answer_starttls(c) != 0)
			return -1;
		return reset_second_search(tls_first || starttls ? ctx : NULL,
		    c);
	default:
		return -1;
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct conn held[HELD_MAX], c;
	const char *cert = NULL, *key = NULL;
	SSL_CTX *ctx = NULL;
	enum mode mode = MODE_SILENT;
	unsigned long port;
	size_t next = 0, i;
	char *end;
	int fd, ch, one = 1, found = 0, starttls = 0, tls_first = 0;

	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "slc:k:")) != -1) {
		switch (ch) {
		case 's':
			starttls = 1;
			break;
		case 'l':
			tls_first = 1;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2 || (starttls && tls_first))
		usage();
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[0], modes[i].name) == 0) {
			mode = modes[i].mode;
			found = 1;
		}
	}
	mode_name = argv[0];
	if (!found)
		usage();
	if (mode == MODE_HANDSHAKE_STALL && !starttls && !tls_first)
		usage();
	if ((mode == MODE_HANDSHAKE_STALL || ((mode == MODE_SEARCH_STALL ||
	    mode == MODE_SECOND_SEARCH_RESET) && (starttls || tls_first)))) {
		if (cert == NULL || key == NULL)
			usage();
		ctx = tls_setup(cert, key);
	}
	errno = 0;
	port = strtoul(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		usage();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, mode == MODE_SYN_DROP ? 0 : 64) != 0)
		die("listen");
	if (mode == MODE_SYN_DROP) {
		if (fill_queue(&sin) == -1)
			die("filling the accept queue");
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	for (i = 0; i < HELD_MAX; i++)
		held[i].fd = -1;
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		c.tls = NULL;
		if ((c.fd = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			die("accept");
		}
		if (serve(mode, tls_first, starttls, ctx, &c) == 0)
			report_stall();
		/* Hold the newest connections open; SSL_free sends nothing. */
		if (held[next].fd != -1) {
			if (held[next].tls != NULL)
				ssl.SSL_free(held[next].tls);
			close(held[next].fd);
		}
		held[next] = c;
		next = (next + 1) % HELD_MAX;
	}
}
