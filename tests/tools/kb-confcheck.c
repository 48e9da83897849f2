/*
 * kb-confcheck - load a keybound.conf with the real parser, as the
 * programs do, and print the effective settings.
 *
 *   kb-confcheck [-o] FILE
 *
 * Every problem is printed on stderr as "FILE:LINE: keyword: problem".
 * With -o the file must also pass the ownership and mode checks.  On
 * success the effective settings are printed one "keyword value" per line
 * in a fixed order, so a test can compare two files' meaning.  Exit 0 if
 * the file is accepted, 2 if it is refused, 1 for anything else.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "kb.h"

static void
print_problem(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "%s\n", msg);
}

static void
print_str(const char *keyword, const char *val)
{
	printf("%s %s\n", keyword, val != NULL ? val : "(none)");
}

static void
print_config(const struct kb_config *c)
{
	size_t i;

	printf("uri");
	for (i = 0; i < c->nuris; i++)
		printf(" %s", c->uris[i]);
	printf("\n");
	print_str("base", c->base);
	print_str("schema", config_schema_name(c->schema));
	print_str("key_filter", c->key_filter);
	print_str("key_attribute", c->key_attribute);
	print_str("fingerprint_attribute", c->fingerprint_attribute);
	print_str("expiry_attribute", c->expiry_attribute);
	print_str("options_attribute", c->options_attribute);
	print_str("instance", c->instance);
	print_str("binddn", c->binddn);
	print_str("bindpw_file", c->bindpw_file);
	print_str("sasl_mech", c->sasl_mech);
	print_str("starttls", c->starttls ? "yes" : "no");
	print_str("tls_cacert", c->tls_cacert);
	print_str("tls_cacertdir", c->tls_cacertdir);
	print_str("tls_cert", c->tls_cert);
	print_str("tls_key", c->tls_key);
	printf("timeout %u\n", c->timeout);
	printf("network_timeout %u\n", c->network_timeout);
	print_str("cache_dir", c->cache_dir);
	printf("cache_ttl %u\n", c->cache_ttl);
	printf("offline_max_age %u\n", c->offline_max_age);
	printf("allowed_key_types 0x%x\n", c->allowed_key_types);
	printf("min_rsa_bits %u\n", c->min_rsa_bits);
	printf("max_keys %u\n", c->max_keys);
	print_str("trusted_signers", c->trusted_signers);
	printf("signature_max_age %u\n", c->signature_max_age);
}

int
main(int argc, char **argv)
{
	struct kb_config *cfg = NULL;
	unsigned flags = 0;
	int r, ret = 1;

	if (argc == 3 && strcmp(argv[1], "-o") == 0) {
		flags = KB_CONFIG_CHECK_OWNER;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: kb-confcheck [-o] FILE\n");
		return 1;
	}
	r = config_load(argv[1], flags, print_problem, NULL, &cfg);
	switch (r) {
	case 0:
		print_config(cfg);
		ret = 0;
		break;
	case KB_ERR_CONFIG:
	case KB_ERR_CONFIG_PERM:
	case KB_ERR_CONFIG_OPEN:
		fprintf(stderr, "kb-confcheck: %s: refused: %s\n", argv[1],
		    kb_strerror(r));
		ret = 2;
		break;
	default:
		fprintf(stderr, "kb-confcheck: %s: %s\n", argv[1],
		    kb_strerror(r));
		ret = 1;
		break;
	}
	config_free(cfg);
	return ret;
}
