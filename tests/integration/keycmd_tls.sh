#!/bin/bash
# keycmd_tls: keybound-keys over ldaps:// and StartTLS with the test CA
# works; a server certificate from another CA is refused (no keys, exit 1)
# even with LDAPTLS_REQCERT=never, LDAPTLS_CACERT, LDAPRC/LDAPCONF and a
# hostile ~/.ldaprc and ./ldaprc in place.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

kb_install_keys_cmd || fail "cannot install keybound-keys"
newcache() {
	local d
	d=$(mktemp -d "$KB_T/cache.XXXXXX")
	chown "$KB_CMD_USER:" "$d" && chmod 0700 "$d"
	echo "$d"
}

# --- the right CA --------------------------------------------------------
slapd_start || fail "slapd did not start"
good_uri=$SLAPD_URI
good_ldaps=$SLAPD_LDAPS_URI
kk_keygen ka && ka_pub=$KK_PUB
kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add ka"

conf=$KB_T/ldaps.conf
kb_write_config "$conf" "uri $good_ldaps" "tls_cacert $KB_CA_CERT" \
    "cache_dir $(newcache)" "cache_ttl 0"
kk_run "$conf" alice
check_eq "$KK_RC:$(grep -c "$ka_pub keybound:ka" "$KK_OUT")" "0:1" "ldaps:// with the test CA: keys served"

conf=$KB_T/starttls.conf
kb_write_config "$conf" "uri $good_uri" "starttls yes" \
    "tls_cacert $KB_CA_CERT" "cache_dir $(newcache)" "cache_ttl 0"
before=$(grep -c 'EXT oid=1.3.6.1.4.1.1466.20037' "$SLAPD_LOG")
kk_run "$conf" alice
check_eq "$KK_RC:$(grep -c "$ka_pub keybound:ka" "$KK_OUT")" "0:1" "StartTLS with the test CA: keys served"
after=$(grep -c 'EXT oid=1.3.6.1.4.1.1466.20037' "$SLAPD_LOG")
check_eq "$((after - before))" 1 "StartTLS was negotiated"

# --- another CA ------------------------------------------------------------
slapd_start --tls-other-ca || fail "second slapd did not start"
kk_add_keypair ka "$ka_pub" "$(ssh-keygen -l -f "$KB_T/ka.pub" | awk '{print $2}')" \
    "alice@test-host" || fail "add ka to the other slapd"

# Everything a libldap client could be talked into trusting it with.
mkdir -p "$KB_T/home" "$KB_T/cwd"
chmod 0755 "$KB_T/home" "$KB_T/cwd"
for f in "$KB_T/home/.ldaprc" "$KB_T/home/ldaprc" "$KB_T/cwd/ldaprc" \
    "$KB_T/ldap.conf"; do
	printf 'TLS_REQCERT never\nTLS_CACERT %s\nURI %s\n' \
	    "$KB_OTHER_CA_CERT" "$SLAPD_LDAPS_URI" >"$f"
	chmod 0644 "$f"
done
hostile_run() {
	local save=$PWD
	cd "$KB_T/cwd" || return 1
	HOME=$KB_T/home LDAPTLS_REQCERT=never LDAPTLS_CACERT=$KB_OTHER_CA_CERT \
	    LDAPRC=$KB_T/ldap.conf LDAPCONF=$KB_T/ldap.conf \
	    LDAPURI=$SLAPD_LDAPS_URI kk_run "$@"
	cd "$save" || return 1
}

conf=$KB_T/other-ldaps.conf
kb_write_config "$conf" "uri $SLAPD_LDAPS_URI" "tls_cacert $KB_CA_CERT" \
    "cache_dir $(newcache)" "timeout 2"
hostile_run "$conf" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "ldaps:// with another CA's certificate: refused, exit 1"
[ "$KK_MS" -lt 2500 ]
check_eq "$?" 0 "refused promptly (${KK_MS} ms)"
hostile_run "$conf" --has-keys alice
check_eq "$KK_RC" 1 "--has-keys, another CA: exit 1"
kb_syslog_wait "user=alice instance=test-host elapsed_ms=[0-9]+ result=unavailable error=.* detail=\"$(kk_re "$SLAPD_LDAPS_URI"): " ||
    not_ok "ldaps refusal not logged"

conf=$KB_T/other-starttls.conf
kb_write_config "$conf" "uri $SLAPD_URI" "starttls yes" \
    "tls_cacert $KB_CA_CERT" "cache_dir $(newcache)" "timeout 2"
hostile_run "$conf" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "StartTLS with another CA's certificate: refused, exit 1"
kb_syslog_wait "user=alice instance=test-host elapsed_ms=[0-9]+ result=unavailable error=\"TLS failure talking to directory\"" ||
    not_ok "StartTLS failure not logged as a TLS failure"

# Without the environment, the same refusal (the setup is not the reason).
kk_run "$conf" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "another CA, clean environment: refused"

# The right CA still works next to the hostile files and variables.
conf=$KB_T/good-again.conf
kb_write_config "$conf" "uri $good_ldaps" "tls_cacert $KB_CA_CERT" \
    "cache_dir $(newcache)"
hostile_run "$conf" alice
check_eq "$KK_RC:$(grep -c "$ka_pub keybound:ka" "$KK_OUT")" "0:1" "right CA among hostile settings: keys served"

kb_done
