#!/bin/bash
# directory_tls.sh - the directory client over ldap://, StartTLS, ldaps://
# and ldapi://; certificates are always verified, whatever the environment
# and ldaprc files say; SASL EXTERNAL with a client certificate and over
# ldapi://.
: "${KB_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

T=$KB_BUILD/tests/tools/kb-dirtool
[ -x "$T" ] || fail "kb-dirtool not built"
kb_tmpdir

# search CONF [ENV...]: run one search for ou=people; stdout to $KB_T/out,
# stderr to $KB_T/err; prints the exit status.
search() {
	local conf=$1
	shift
	env -u LDAPNOINIT "$@" "$T" -c "$conf" search "$SLAPD_SUFFIX" '(ou=people)' ou \
	    >"$KB_T/out" 2>"$KB_T/err"
	echo $?
}
got_data() { grep -q '^dn: ou=people,dc=example,dc=test$' "$KB_T/out"; }
no_data() { ! grep -q '^dn:' "$KB_T/out"; }

slapd_start || fail "slapd did not start"
good_uri=$SLAPD_URI
good_ldaps=$SLAPD_LDAPS_URI
good_ldapi=$SLAPD_LDAPI_URI
good_log=$SLAPD_LOG

kb_write_config "$KB_T/plain.conf"
check_eq "$(search "$KB_T/plain.conf")" 0 "plain ldap:// to loopback"
got_data && ok "plain: data" || not_ok "plain: no data"

kb_write_config "$KB_T/starttls.conf" "starttls yes"
check_eq "$(search "$KB_T/starttls.conf")" 0 "StartTLS with the right CA"
got_data && ok "StartTLS: data" || not_ok "StartTLS: no data"

kb_write_config "$KB_T/ldaps.conf" "uri $SLAPD_LDAPS_URI"
check_eq "$(search "$KB_T/ldaps.conf")" 0 "ldaps:// with the right CA"
got_data && ok "ldaps: data" || not_ok "ldaps: no data"

kb_write_config "$KB_T/ldapi.conf" "uri $SLAPD_LDAPI_URI"
check_eq "$(search "$KB_T/ldapi.conf")" 0 "ldapi://"
got_data && ok "ldapi: data" || not_ok "ldapi: no data"

# The server's log shows TLS really was negotiated for the TLS cases.
check_eq "$(grep -c 'STARTTLS' "$SLAPD_LOG")" 1 "one StartTLS seen by slapd"
grep -q 'ACCEPT from IP=127.0.0.1.*(IP=127.0.0.1:'"$SLAPD_LDAPS_PORT"')' \
    "$SLAPD_LOG" && ok "slapd saw the ldaps:// connection" ||
    not_ok "no ldaps:// connection in slapd's log"

# The wrong trust anchor for the right server: refused.
kb_write_config "$KB_T/wrongca.conf" "uri $SLAPD_LDAPS_URI" \
    "tls_cacert $KB_OTHER_CA_CERT"
rc=$(search "$KB_T/wrongca.conf")
[ "$rc" = 72 ] && ok "ldaps:// with the wrong CA: KB_ERR_DIR_TLS" ||
    not_ok "ldaps:// with the wrong CA: exit $rc, expected 72"
no_data && ok "wrong CA: no data" || not_ok "wrong CA: data leaked"
kb_write_config "$KB_T/wrongca-st.conf" "starttls yes" \
    "tls_cacert $KB_OTHER_CA_CERT"
rc=$(search "$KB_T/wrongca-st.conf")
[ "$rc" = 72 ] && ok "StartTLS with the wrong CA: KB_ERR_DIR_TLS" ||
    not_ok "StartTLS with the wrong CA: exit $rc, expected 72"
no_data && ok "StartTLS wrong CA: no data" || not_ok "StartTLS wrong CA: data"

# An impostor: a second slapd whose certificate comes from another CA,
# with every libldap knob that could switch verification off set the
# hostile way.  The ldap-utils, which honour them, prove they bite.
slapd_start --tls-other-ca || fail "second slapd did not start"
mkdir -p "$KB_T/home" "$KB_T/cwd"
printf 'TLS_REQCERT never\nTLS_CACERT %s\n' "$KB_OTHER_CA_CERT" \
    >"$KB_T/home/.ldaprc"
cp "$KB_T/home/.ldaprc" "$KB_T/home/ldaprc"
cp "$KB_T/home/.ldaprc" "$KB_T/cwd/ldaprc"
cp "$KB_T/home/.ldaprc" "$KB_T/cwd/hostile.conf"
hostile=(HOME="$KB_T/home" LDAPTLS_REQCERT=never
    LDAPTLS_CACERT="$KB_OTHER_CA_CERT" LDAPRC=hostile.conf
    LDAPCONF="$KB_T/cwd/hostile.conf")

if (cd "$KB_T/cwd" && env -u LDAPNOINIT "${hostile[@]}" ldapsearch -x -LLL \
    -H "$SLAPD_LDAPS_URI" -b "$SLAPD_SUFFIX" -s base dn >/dev/null 2>&1); then
	ok "control: ldapsearch trusts the impostor in this environment"
else
	not_ok "control: the hostile environment did not affect ldapsearch"
fi

kb_write_config "$KB_T/impostor-ldaps.conf" "uri $SLAPD_LDAPS_URI"
rc=$(cd "$KB_T/cwd" && search "$KB_T/impostor-ldaps.conf" "${hostile[@]}")
[ "$rc" = 72 ] && ok "impostor over ldaps:// refused (KB_ERR_DIR_TLS)" ||
    not_ok "impostor over ldaps://: exit $rc, expected 72"
no_data && ok "impostor ldaps: no data" || not_ok "impostor ldaps: data"

kb_write_config "$KB_T/impostor-st.conf" "starttls yes"
rc=$(cd "$KB_T/cwd" && search "$KB_T/impostor-st.conf" "${hostile[@]}")
[ "$rc" = 72 ] && ok "impostor over StartTLS refused (KB_ERR_DIR_TLS)" ||
    not_ok "impostor over StartTLS: exit $rc, expected 72"
no_data && ok "impostor StartTLS: no data" || not_ok "impostor StartTLS: data"

# Failover from the impostor to the genuine server.
kb_write_config "$KB_T/impostor-then-good.conf" \
    "uri $SLAPD_LDAPS_URI $good_ldaps"
rc=$(cd "$KB_T/cwd" && search "$KB_T/impostor-then-good.conf" \
    "${hostile[@]}")
check_eq "$rc" 0 "impostor first, genuine second: answered"
got_data && ok "failover past the impostor: data" || not_ok "no data"

# Back to the genuine server.
SLAPD_URI=$good_uri SLAPD_LDAPS_URI=$good_ldaps SLAPD_LDAPI_URI=$good_ldapi
SLAPD_LOG=$good_log

# cn=config is writable by root over ldapi:// (SASL EXTERNAL).
config_modify() {
	LDAPNOINIT=1 ldapmodify -Q -Y EXTERNAL -H "$SLAPD_LDAPI_URI" >/dev/null
}
set_server_cert() {
	config_modify <<EOF
dn: cn=config
changetype: modify
replace: olcTLSCertificateFile
olcTLSCertificateFile: $1.crt
-
replace: olcTLSCertificateKeyFile
olcTLSCertificateKeyFile: $1.key
EOF
}

# Host name checking: the genuine server, trusted CA, but a certificate
# for another name is refused; put back, it is accepted again.
cadir=$(dirname "$KB_CA_CERT")
kb_make_cert "$cadir" test-ca "wrongname-$$" "DNS:elsewhere.example" ||
    fail "cannot make a certificate"
orig=$(LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL \
    -H "$SLAPD_LDAPI_URI" -b cn=config -s base olcTLSCertificateFile |
    sed -n 's/^olcTLSCertificateFile: \(.*\)\.crt$/\1/p')
[ -n "$orig" ] || fail "cannot read the server certificate setting"
set_server_cert "$cadir/wrongname-$$" || fail "cannot switch certificate"
rc=$(search "$KB_T/ldaps.conf")
[ "$rc" = 72 ] && ok "certificate for another host name refused" ||
    not_ok "certificate for another host name: exit $rc, expected 72"
no_data && ok "wrong host name: no data" || not_ok "wrong host name: data"
set_server_cert "$orig" || fail "cannot restore certificate"
check_eq "$(search "$KB_T/ldaps.conf")" 0 "right certificate again: answered"

# SASL EXTERNAL over ldapi:// (peer credentials of this root process).
kb_write_config "$KB_T/ext-ldapi.conf" "uri $SLAPD_LDAPI_URI" \
    "sasl_mech EXTERNAL"
check_eq "$(search "$KB_T/ext-ldapi.conf")" 0 "SASL EXTERNAL over ldapi://"
got_data && ok "EXTERNAL ldapi: data" || not_ok "EXTERNAL ldapi: no data"
grep -q 'BIND dn="gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth" mech=EXTERNAL' \
    "$SLAPD_LOG" && ok "slapd saw the EXTERNAL bind as root" ||
    not_ok "no EXTERNAL bind in slapd's log"

# SASL EXTERNAL over ldaps:// with a client certificate.
kb_make_cert "$cadir" test-ca "client-$$" "DNS:client.example" ||
    fail "cannot make a client certificate"
kb_write_config "$KB_T/ext-tls.conf" "uri $SLAPD_LDAPS_URI" \
    "sasl_mech EXTERNAL" "tls_cert $cadir/client-$$.crt" \
    "tls_key $cadir/client-$$.key"
check_eq "$(search "$KB_T/ext-tls.conf")" 0 \
    "SASL EXTERNAL with a client certificate"
got_data && ok "EXTERNAL TLS: data" || not_ok "EXTERNAL TLS: no data"
grep -q "BIND dn=\"cn=client-$$,o=keybound tests\" mech=EXTERNAL" \
    "$SLAPD_LOG" && ok "slapd bound the client certificate's identity" ||
    not_ok "no EXTERNAL bind for the client certificate in slapd's log"

kb_done
