/*
 * agent.h - a minimal ssh-agent client (PROTOCOL.agent): list identities,
 * sign.  Unix socket, one deadline for the whole exchange, replies bounded
 * in size and parsed strictly.  No key material other than public keys.
 */
#ifndef KB_AGENT_H
#define KB_AGENT_H

#include <stddef.h>

#define AGENT_MSG_MAX		(256 * 1024)	/* as ssh-agent's */
#define AGENT_MAX_IDENTITIES	1024

/*
 * Ask the agent at sock (NULL: $SSH_AUTH_SOCK) to sign data with the
 * identity whose SHA256 fingerprint is fp; RSA keys are asked for
 * rsa-sha2-512.  On success *keyp and *keylenp hold the identity's public key
 * blob and *sigp and *siglenp the SSH signature blob (string type, string
 * signature), both the caller's.  0, KB_ERR_AGENT (no socket, I/O error,
 * malformed reply), KB_ERR_AGENT_NO_KEY, KB_ERR_AGENT_REFUSED,
 * KB_ERR_AGENT_TIMEOUT, KB_ERR_INVALID_ARG, KB_ERR_NOMEM.
 */
int agent_sign(const char *sock, const char *fp, long timeout_ms,
    const unsigned char *data, size_t len, unsigned char **keyp,
    size_t *keylenp, unsigned char **sigp, size_t *siglenp);

#endif /* KB_AGENT_H */
