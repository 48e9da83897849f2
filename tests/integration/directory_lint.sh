#!/bin/bash
# directory_lint.sh - the design rules of the directory client, checked in
# the source: one file talks to libldap, per-handle options only, no
# synchronous libldap call that would wait without our timeout.
: "${KB_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$KB_SRC/tests/lib/common.sh"

cd "$KB_SRC" || fail "no source tree"
D=lib/directory.c

users=$(grep -l '^[[:space:]]*#[[:space:]]*include[[:space:]]*<\(ldap\|lber\)\.h>' \
    lib/*.c lib/*.h keycmd/*.c admin/*.c pam_module/*.c 2>/dev/null |
    tr '\n' ' ')
check_eq "$users" "$D " "only $D includes <ldap.h>/<lber.h>"

grep -n 'ldap_set_option[[:space:]]*([[:space:]]*NULL' "$D" &&
    not_ok "a global ldap_set_option(NULL, ...)" ||
    ok "no global ldap_set_option(NULL, ...)"
grep -n 'ldap_get_option[[:space:]]*([[:space:]]*NULL' "$D" &&
    not_ok "a global ldap_get_option(NULL, ...)" ||
    ok "no global ldap_get_option(NULL, ...)"

# Synchronous calls wait with libldap's own (or no) timeout.
sync=$(grep -on 'ldap_[a-z_]*_s[[:space:]]*(' "$D" | grep -v 'ldap_unbind_ext_s' )
check_eq "$sync" "" "no synchronous ldap_*_s() call"
grep -n 'ldap_simple_bind\|ldap_bind[[:space:]]*(\|ldap_search[[:space:]]*(\|ldap_init[[:space:]]*(\|ldap_open[[:space:]]*(' "$D" &&
    not_ok "deprecated libldap entry point used" ||
    ok "no deprecated libldap entry point"
check_eq "$(grep -c 'ldap_initialize[[:space:]]*(' "$D")" 1 \
    "one ldap_initialize() call site (one per URI attempt)"

# Every ldap_result() gets a timeout.
grep -n 'ldap_result[[:space:]]*(' "$D" | grep -v '&tv' &&
    not_ok "ldap_result() without a timeout" ||
    ok "every ldap_result() has a timeout"

# LDAPNOINIT before anything else in dir_open; TLS demand; NEWCTX last.
awk '/^dir_open\(/ { inopen = 1 } inopen && /dir_init_env\(\)/ {
	print "ok"; exit } inopen && /ldap_/ { print "late"; exit }' "$D" |
    grep -qx ok && ok "dir_init_env() runs before the first libldap call" ||
    not_ok "dir_init_env() is not called first in dir_open"
awk '/^dir_init_env\(/ { f = 1 } f && /env_set_once\("LDAPNOINIT", "1"\)/ {
	print "ok"; exit } f && /^}/ { exit }' "$D" | grep -qx ok &&
    ok "dir_init_env() sets LDAPNOINIT" ||
    not_ok "dir_init_env() does not set LDAPNOINIT"
grep -q 'LDAP_OPT_X_TLS_REQUIRE_CERT, &demand' "$D" &&
    grep -q 'demand = LDAP_OPT_X_TLS_DEMAND' "$D" &&
    ok "certificates are demanded" || not_ok "TLS_REQUIRE_CERT not DEMAND"
awk '/^dir_set_options\(/ { f = 1 } f && /LDAP_OPT_X_TLS_NEWCTX/ { n = NR }
    f && /LDAP_OPT_X_TLS_[A-Z]/ && !/NEWCTX/ { last = NR }
    f && /^}/ { exit } END { exit !(n > last) }' "$D" &&
    ok "LDAP_OPT_X_TLS_NEWCTX comes after every other TLS option" ||
    not_ok "a TLS option is set after LDAP_OPT_X_TLS_NEWCTX"

# Secrets are wiped, never memset.
grep -n 'memset([^)]*pw\|memset([^)]*password' "$D" &&
    not_ok "memset on a password" || ok "passwords wiped with explicit_bzero"

kb_done
