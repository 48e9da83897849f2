/*
 * c-floor.c - the smallest honest libldap AuthorizedKeysCommand: the floor
 * any C program that asks an LDAP server for keys pays.
 *
 *   c-floor load                  link libldap, call nothing that
 *                                 initialises it, exit
 *   c-floor init URI              ldap_initialize only
 *   c-floor search [-Z] [-C CA] [-G GROUPFILTER] URI BASE FILTER ATTR
 *                                 initialise, (StartTLS,) anonymous bind,
 *                                 (with -G first a search for the host
 *                                 groups, as keybound-keys makes,) one
 *                                 search, print the values of ATTR
 *
 * It does only what such a command must do: no config file, no cache, no
 * key parsing.  keybound-keys does all of those, so c-floor's start-up and
 * round trips are what it is measured against.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldap.h>

static int
usage(void)
{
	fprintf(stderr, "usage: c-floor load | init URI | "
	    "search [-Z] [-C CAFILE] [-G GROUPFILTER] URI BASE FILTER ATTR\n");
	return 2;
}

static int
set_options(LDAP *ld, const char *cafile)
{
	struct timeval tv = { 3, 0 };
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;

	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != 0)
		return -1;
	if (cafile == NULL)
		return 0;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, cafile) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != 0 ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != 0)
		return -1;
	return 0;
}

static int
print_values(LDAP *ld, LDAPMessage *res, const char *attr)
{
	LDAPMessage *e;
	struct berval **vals;
	int i, n = 0;

	for (e = ldap_first_entry(ld, res); e != NULL;
	    e = ldap_next_entry(ld, e)) {
		if ((vals = ldap_get_values_len(ld, e, attr)) == NULL)
			continue;
		for (i = 0; vals[i] != NULL; i++, n++)
			printf("%.*s\n", (int)vals[i]->bv_len, vals[i]->bv_val);
		ldap_value_free_len(vals);
	}
	return n;
}

static int
search(int argc, char **argv)
{
	LDAP *ld = NULL;
	LDAPMessage *res = NULL;
	struct berval cred = { 0, NULL };
	struct timeval tv = { 3, 0 };
	const char *cafile = NULL, *gfilter = NULL;
	char *attrs[2], *gattrs[] = { "cn", NULL };
	int starttls = 0, i = 1, r = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-Z") == 0)
			starttls = 1;
		else if (strcmp(argv[i], "-C") == 0 && i + 1 < argc)
			cafile = argv[++i];
		else if (strcmp(argv[i], "-G") == 0 && i + 1 < argc)
			gfilter = argv[++i];
		else
			return usage();
	}
	if (argc - i != 4)
		return usage();
	attrs[0] = argv[i + 3];
	attrs[1] = NULL;
	if (ldap_initialize(&ld, argv[i]) != LDAP_SUCCESS)
		goto out;
	if (set_options(ld, cafile) != 0)
		goto out;
	if (starttls && ldap_start_tls_s(ld, NULL, NULL) != LDAP_SUCCESS)
		goto out;
	if (ldap_sasl_bind_s(ld, NULL, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
	    NULL) != LDAP_SUCCESS)
		goto out;
	if (gfilter != NULL) {
		if (ldap_search_ext_s(ld, argv[i + 1], LDAP_SCOPE_SUBTREE,
		    gfilter, gattrs, 0, NULL, NULL, &tv, 100, &res) !=
		    LDAP_SUCCESS)
			goto out;
		ldap_msgfree(res);
		res = NULL;
	}
	if (ldap_search_ext_s(ld, argv[i + 1], LDAP_SCOPE_SUBTREE, argv[i + 2],
	    attrs, 0, NULL, NULL, &tv, 100, &res) != LDAP_SUCCESS)
		goto out;
	print_values(ld, res, attrs[0]);
	r = 0;
 out:
	if (res != NULL)
		ldap_msgfree(res);
	if (ld != NULL)
		ldap_unbind_ext_s(ld, NULL, NULL);
	return r;
}

int
main(int argc, char **argv)
{
	LDAP *ld = NULL;

	if (argc == 2 && strcmp(argv[1], "load") == 0) {
		/* Touch libldap without initialising it. */
		return ldap_err2string(LDAP_SUCCESS) == NULL;
	}
	if (argc == 3 && strcmp(argv[1], "init") == 0) {
		if (ldap_initialize(&ld, argv[2]) != LDAP_SUCCESS)
			return 1;
		ldap_unbind_ext_s(ld, NULL, NULL);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "search") == 0)
		return search(argc - 1, argv + 1);
	return usage();
}
