/*
 * fuzz_config.c - libFuzzer target: arbitrary bytes as keybound.conf.
 *
 * Besides ASan/UBSan findings, it aborts when a message is malformed
 * (not "fuzz.conf: ..." / "fuzz.conf:LINE: ...", a control byte, too long)
 * or when an accepted config breaks an invariant the rest of keybound
 * relies on (required keywords, ranges, plain text only to loopback, a
 * filter template that expands to a well-formed filter).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "kb.h"
#include "filter.h"
#include "names.h"
#include "sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_message(void *ctx, const char *msg)
{
	size_t i, len = strlen(msg);

	(void)ctx;
	if (strncmp(msg, "fuzz.conf:", 10) != 0 || len >= 1024 || len < 12)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			abort();
}

/* Plain-text ldap:// must name a loopback host. */
static void
check_loopback(const char *uri)
{
	struct in6_addr a6;
	char host[128];
	const char *h = uri + 7;
	size_t n;

	if (h[0] == '[') {
		n = strcspn(h + 1, "]");
		if (n >= sizeof(host))
			abort();
		memcpy(host, h + 1, n);
		host[n] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			abort();
		if (!IN6_IS_ADDR_LOOPBACK(&a6) &&
		    !(IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127))
			abort();
		return;
	}
	if (strncmp(h, "127.", 4) == 0)
		return;
	n = strcspn(h, ":/");
	if (n != 9 || strncasecmp(h, "localhost", 9) != 0)
		abort();
}

static void
check_config(const struct kb_config *c)
{
	char *f = NULL;
	size_t i;

	if (c->nuris < 1 || c->nuris > KB_CONFIG_MAX_URIS || c->base == NULL)
		abort();
	for (i = 0; i < c->nuris; i++) {
		if (strncmp(c->uris[i], "ldap://", 7) != 0 &&
		    strncmp(c->uris[i], "ldaps://", 8) != 0 &&
		    strncmp(c->uris[i], "ldapi://", 8) != 0)
			abort();
		if (strpbrk(c->uris[i], " \t,") != NULL)
			abort();
		if (!c->starttls && strncmp(c->uris[i], "ldap://", 7) == 0)
			check_loopback(c->uris[i]);
	}
	if (c->key_filter == NULL || c->key_attribute == NULL ||
	    c->instance == NULL || name_instance_valid(c->instance) != 0)
		abort();
	if (filter_template_check(c->key_filter, NULL) != 0)
		abort();
	if (filter_expand(c->key_filter, "*)(uid=*", c->instance, NULL,
	    &f) != 0)
		abort();
	free(f);
	if (c->timeout < 1 || c->timeout > 300 || c->network_timeout < 1 ||
	    c->network_timeout > c->timeout || c->cache_ttl > 86400 ||
	    c->offline_max_age > 31536000 || c->min_rsa_bits < 2048 ||
	    c->min_rsa_bits > 16384 || c->max_keys < 1 ||
	    c->max_keys > 10000 || c->cache_dir == NULL ||
	    c->cache_dir[0] != '/')
		abort();
	if (c->allowed_key_types == 0 ||
	    (c->allowed_key_types & ~(unsigned)KB_KT_DEFAULT_MASK) != 0)
		abort();
	if (c->binddn != NULL && c->bindpw_file == NULL)
		abort();
	if (c->sasl_mech != NULL && strcmp(c->sasl_mech, "EXTERNAL") != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kb_config *cfg = NULL;
	int r;

	r = config_parse_buffer("fuzz.conf", (const char *)data, size,
	    check_message, NULL, &cfg);
	if ((r == 0) != (cfg != NULL))
		abort();
	if (r != 0 && r != KB_ERR_CONFIG && r != KB_ERR_NOMEM)
		abort();
	if (cfg != NULL)
		check_config(cfg);
	config_free(cfg);
	return 0;
}
