/*
 * agent.c - a minimal ssh-agent client (OpenSSH PROTOCOL.agent).
 *
 * Every message is uint32 length, byte type, contents.  We send
 * SSH_AGENTC_REQUEST_IDENTITIES, pick the identity whose SHA256
 * fingerprint matches, then SSH_AGENTC_SIGN_REQUEST (string key blob,
 * string data, uint32 flags).  One deadline covers the connection and both
 * exchanges; replies longer than AGENT_MSG_MAX are refused before reading.
 * No libcrypto here: fingerprints come from lib/sshkey.c.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "agent.h"
#include "blob.h"
#include "clock.h"
#include "sshkey.h"

#define SSH_AGENT_FAILURE		5
#define SSH_AGENTC_REQUEST_IDENTITIES	11
#define SSH_AGENT_IDENTITIES_ANSWER	12
#define SSH_AGENTC_SIGN_REQUEST		13
#define SSH_AGENT_SIGN_RESPONSE		14
#define SSH_AGENT_RSA_SHA2_512		0x04

/* Wait for fd to become ready for events before the deadline. */
static int
agent_wait(int fd, short events, const struct timespec *deadline)
{
	struct pollfd pfd;
	long left;
	int n;

	for (;;) {
		if ((left = deadline_left_ms(deadline)) <= 0)
			return KB_ERR_AGENT_TIMEOUT;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return KB_ERR_AGENT;
		if (n == 1)
			return 0;
	}
}

static int
agent_write(int fd, const unsigned char *p, size_t len,
    const struct timespec *deadline)
{
	ssize_t n;
	int r;

	while (len > 0) {
		if ((r = agent_wait(fd, POLLOUT, deadline)) != 0)
			return r;
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			return KB_ERR_AGENT;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
agent_read(int fd, unsigned char *p, size_t len,
    const struct timespec *deadline)
{
	ssize_t n;
	int r;

	while (len > 0) {
		if ((r = agent_wait(fd, POLLIN, deadline)) != 0)
			return r;
		n = recv(fd, p, len, MSG_DONTWAIT);
		if (n == -1 && (errno == EINTR || errno == EAGAIN ||
		    errno == EWOULDBLOCK))
			continue;
		if (n <= 0)		/* error or the agent hung up */
			return KB_ERR_AGENT;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Send one request (type + body) and read one reply: *replyp (the
 * caller's) holds type byte and contents, at most AGENT_MSG_MAX bytes.
 */
static int
agent_call(int fd, unsigned char type, const unsigned char *body,
    size_t bodylen, const struct timespec *deadline, unsigned char **replyp,
    size_t *replylenp)
{
	struct kb_wblob w;
	unsigned char *msg = NULL, hdr[4], *reply = NULL;
	size_t msglen = 0;
	uint32_t n;
	int r;

	*replyp = NULL;
	*replylenp = 0;
	memset(&w, 0, sizeof(w));
	if (bodylen + 1 > AGENT_MSG_MAX) {
		r = KB_ERR_TOO_LONG;
		goto out;
	}
	blob_put_u32(&w, (uint32_t)(bodylen + 1));
	blob_put_u8(&w, type);
	blob_put_raw(&w, body, bodylen);
	if ((r = blob_w_done(&w, &msg, &msglen)) != 0 ||
	    (r = agent_write(fd, msg, msglen, deadline)) != 0 ||
	    (r = agent_read(fd, hdr, sizeof(hdr), deadline)) != 0)
		goto out;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (n == 0 || n > AGENT_MSG_MAX) {
		r = KB_ERR_AGENT;
		goto out;
	}
	if ((reply = malloc(n)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	if ((r = agent_read(fd, reply, n, deadline)) != 0)
		goto out;
	*replyp = reply;
	*replylenp = n;
	reply = NULL;
	r = 0;
 out:
	blob_w_free(&w);
	free(msg);
	free(reply);
	return r;
}

static int
agent_connect(const char *sock, const struct timespec *deadline, int *fdp)
{
	struct sockaddr_un sun;
	int fd = -1, r = KB_ERR_AGENT, err;
	socklen_t errlen = sizeof(err);

	*fdp = -1;
	if (sock == NULL || *sock == '\0' ||
	    strlen(sock) >= sizeof(sun.sun_path))
		goto out;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		goto out;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (errno != EINPROGRESS)
			goto out;
		if ((r = agent_wait(fd, POLLOUT, deadline)) != 0)
			goto out;
		r = KB_ERR_AGENT;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == -1 ||
		    err != 0)
			goto out;
	}
	*fdp = fd;
	fd = -1;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	return r;
}

/* From an identities answer, a copy of the blob whose fingerprint is fp. */
static int
agent_pick(const unsigned char *reply, size_t len, const char *fp,
    unsigned char **keyp, size_t *keylenp, int *rsap)
{
	struct kb_blob b;
	const unsigned char *kb, *comment;
	size_t kblen, commentlen;
	struct kb_key *k = NULL;
	char *kfp = NULL;
	uint32_t n, i;
	int r = KB_ERR_AGENT;

	*keyp = NULL;
	*keylenp = 0;
	*rsap = 0;
	blob_init(&b, reply, len);
	b.p++;				/* the type byte, checked */
	b.left--;
	if (blob_get_u32(&b, &n) != 0 || n > AGENT_MAX_IDENTITIES)
		goto out;
	for (i = 0; i < n; i++) {
		if (blob_get_string(&b, &kb, &kblen) != 0 ||
		    blob_get_string(&b, &comment, &commentlen) != 0) {
			r = KB_ERR_AGENT;
			goto out;
		}
		/* keys we cannot parse (certificates, ...) are not ours */
		if (key_from_blob(kb, kblen, &k) != 0)
			continue;
		if ((r = key_fingerprint_sha256(k, &kfp)) != 0)
			goto out;
		if (strcmp(kfp, fp) == 0) {
			if ((*keyp = malloc(kblen)) == NULL) {
				r = KB_ERR_NOMEM;
				goto out;
			}
			memcpy(*keyp, kb, kblen);
			*keylenp = kblen;
			*rsap = key_type(k) == KB_KT_RSA;
			r = 0;
			goto out;
		}
		key_free(k);
		k = NULL;
		free(kfp);
		kfp = NULL;
	}
	r = blob_empty(&b) ? KB_ERR_AGENT_NO_KEY : KB_ERR_AGENT;
 out:
	key_free(k);
	free(kfp);
	return r;
}

int
agent_sign(const char *sock, const char *fp, long timeout_ms,
    const unsigned char *data, size_t len, unsigned char **keyp,
    size_t *keylenp, unsigned char **sigp, size_t *siglenp)
{
	struct timespec deadline;
	struct kb_wblob w;
	struct kb_blob b;
	unsigned char *reply = NULL, *key = NULL, *body = NULL, type;
	const unsigned char *sig;
	size_t replylen = 0, keylen = 0, bodylen = 0, siglen;
	int fd = -1, rsa = 0, r = KB_ERR_INTERNAL;

	memset(&w, 0, sizeof(w));
	if (keyp != NULL)
		*keyp = NULL;
	if (keylenp != NULL)
		*keylenp = 0;
	if (sigp != NULL)
		*sigp = NULL;
	if (siglenp != NULL)
		*siglenp = 0;
	if (fp == NULL || (data == NULL && len > 0) || keyp == NULL ||
	    keylenp == NULL || sigp == NULL || siglenp == NULL ||
	    timeout_ms <= 0) {
		r = KB_ERR_INVALID_ARG;
		goto out;
	}
	if (sock == NULL)
		sock = secure_getenv("SSH_AUTH_SOCK");
	deadline_set(&deadline, timeout_ms);
	if ((r = agent_connect(sock, &deadline, &fd)) != 0)
		goto out;

	if ((r = agent_call(fd, SSH_AGENTC_REQUEST_IDENTITIES, NULL, 0,
	    &deadline, &reply, &replylen)) != 0)
		goto out;
	if (reply[0] != SSH_AGENT_IDENTITIES_ANSWER) {
		r = KB_ERR_AGENT;
		goto out;
	}
	if ((r = agent_pick(reply, replylen, fp, &key, &keylen, &rsa)) != 0)
		goto out;
	free(reply);
	reply = NULL;

	blob_put_string(&w, key, keylen);
	blob_put_string(&w, data, len);
	blob_put_u32(&w, rsa ? SSH_AGENT_RSA_SHA2_512 : 0);
	if ((r = blob_w_done(&w, &body, &bodylen)) != 0 ||
	    (r = agent_call(fd, SSH_AGENTC_SIGN_REQUEST, body, bodylen,
	    &deadline, &reply, &replylen)) != 0)
		goto out;
	blob_init(&b, reply, replylen);
	(void)blob_get_u8(&b, &type);
	if (type == SSH_AGENT_FAILURE) {
		r = KB_ERR_AGENT_REFUSED;
		goto out;
	}
	if (type != SSH_AGENT_SIGN_RESPONSE ||
	    blob_get_string(&b, &sig, &siglen) != 0 || !blob_empty(&b) ||
	    siglen == 0) {
		r = KB_ERR_AGENT;
		goto out;
	}
	if ((*sigp = malloc(siglen)) == NULL) {
		r = KB_ERR_NOMEM;
		goto out;
	}
	memcpy(*sigp, sig, siglen);
	*siglenp = siglen;
	*keyp = key;
	*keylenp = keylen;
	key = NULL;
	r = 0;
 out:
	blob_w_free(&w);
	if (fd != -1)
		close(fd);
	free(reply);
	free(key);
	free(body);
	return r;
}
