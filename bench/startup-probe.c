/*
 * startup-probe.c - pieces of a key command's start-up, one at a time, to
 * see what each costs when timed as whole processes by bench/timer.
 *
 *   startup-probe none        exit at once (libcrypto linked, not used)
 *   startup-probe sha256      one SHA256 through EVP (OpenSSL's
 *                             initialisation: config file, providers)
 *   startup-probe sha256-noconf
 *                             the same without reading openssl.cnf
 *                             (OPENSSL_INIT_NO_LOAD_CONFIG)
 *   startup-probe ed25519     also build an Ed25519 key from raw bytes
 *   startup-probe hostname    gethostname + gethostbyname_r, the host
 *                             name lookup libldap's initialisation does
 *                             through NSS (ldap_pvt_get_fqdn)
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static int
sha256(void)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;

	return EVP_Digest("keybound", 8, md, &len, EVP_sha256(), NULL) != 1;
}

static int
ed25519(void)
{
	/* The Ed25519 base point's encoding: a valid public key. */
	static const unsigned char pub[32] = { 0x58, 0x66, 0x66, 0x66, 0x66,
	    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
	    0x66, 0x66, 0x66, 0x66, 0x66 };
	EVP_PKEY *k;

	if (sha256() != 0)
		return 1;
	k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    sizeof(pub));
	if (k == NULL)
		return 1;
	EVP_PKEY_free(k);
	return 0;
}

static int
hostname(void)
{
	struct hostent he, *hp = NULL;
	char name[256], buf[8192];
	int err = 0;

	if (gethostname(name, sizeof(name) - 1) != 0)
		return 1;
	name[sizeof(name) - 1] = '\0';
	gethostbyname_r(name, &he, buf, sizeof(buf), &hp, &err);
	printf("%s %s\n", name, hp != NULL ? hp->h_name : "unresolved");
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	if (strcmp(argv[1], "none") == 0)
		return 0;
	if (strcmp(argv[1], "sha256") == 0)
		return sha256();
	if (strcmp(argv[1], "sha256-noconf") == 0) {
		if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
			return 1;
		return sha256();
	}
	if (strcmp(argv[1], "ed25519") == 0)
		return ed25519();
	if (strcmp(argv[1], "hostname") == 0)
		return hostname();
	return 2;
}
