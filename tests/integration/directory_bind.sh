#!/bin/bash
# directory_bind.sh - simple bind from bindpw_file and from the admin
# override: the right password binds, a wrong one is KB_ERR_DIR_AUTH, an
# empty one is refused before anything is sent, and the password never
# shows up in error text.
: "${KB_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

T=$KB_BUILD/tests/tools/kb-dirtool
[ -x "$T" ] || fail "kb-dirtool not built"
kb_tmpdir
slapd_start || fail "slapd did not start"

PW='s3cret-Pa55-for-reader'
READER=uid=reader,$SLAPD_PEOPLE
slapd_ldapadd <<EOF || fail "cannot add the reader"
dn: $READER
objectClass: inetOrgPerson
uid: reader
cn: reader
sn: reader
userPassword: $PW
EOF

(umask 077
printf '%s\n' "$PW" >"$KB_T/pw"
printf 'wrong-%s\n' "$PW" >"$KB_T/wrongpw"
: >"$KB_T/emptypw"
printf '\n' >"$KB_T/newlinepw")

# search CONF [kb-dirtool options]: sets rc; output in $KB_T/out, err.
search() {
	local conf=$1
	shift
	"$T" -c "$conf" "$@" search "$SLAPD_SUFFIX" '(ou=people)' ou \
	    >"$KB_T/out" 2>"$KB_T/err"
	rc=$?
}
got_data() { grep -q '^dn: ou=people,dc=example,dc=test$' "$KB_T/out"; }
no_data() { ! grep -q '^dn:' "$KB_T/out"; }
binds_as() { grep -c "BIND dn=\"$1\" method=128" "$SLAPD_LOG"; }
no_secret() {
	if grep -q "$PW" "$KB_T/out" "$KB_T/err"; then
		not_ok "$1: the password appears in the output"
	else
		ok "$1: the password appears nowhere in the output"
	fi
}

# Simple bind with the configured password file.
kb_write_config "$KB_T/bind.conf" "binddn $READER" "bindpw_file $KB_T/pw"
b0=$(binds_as "$READER"); s0=$(slapd_count_searches)
search "$KB_T/bind.conf"
check_eq "$rc" 0 "simple bind with bindpw_file"
got_data && ok "bound search: data" || not_ok "bound search: no data"
check_eq "$(( $(binds_as "$READER") - b0 ))" 1 "one bind as the reader"
check_eq "$(( $(slapd_count_searches) - s0 ))" 1 "one search"
grep -q "dn=\"$READER\" mech=SIMPLE.*err=0\|conn=.*BIND dn=\"$READER\" mech=SIMPLE" \
    "$SLAPD_LOG" && ok "slapd accepted the bind" ||
    not_ok "slapd did not log a successful simple bind"

# The same over StartTLS.
kb_write_config "$KB_T/bind-tls.conf" "binddn $READER" \
    "bindpw_file $KB_T/pw" "starttls yes"
search "$KB_T/bind-tls.conf"
check_eq "$rc" 0 "simple bind over StartTLS"

# Wrong password: KB_ERR_DIR_AUTH, and no other URI is tried for it.
kb_write_config "$KB_T/wrong.conf" "binddn $READER" \
    "bindpw_file $KB_T/wrongpw" "uri $SLAPD_URI $SLAPD_LDAPS_URI"
c0=$(grep -c ' ACCEPT from' "$SLAPD_LOG")
search "$KB_T/wrong.conf"
check_eq "$rc" 71 "wrong password: KB_ERR_DIR_AUTH"
no_data && ok "wrong password: no data" || not_ok "wrong password: data"
check_eq "$(( $(grep -c ' ACCEPT from' "$SLAPD_LOG") - c0 ))" 1 \
    "wrong password: the second URI is not tried"
grep -q 'Invalid credentials' "$KB_T/err" && ok "reason: invalid credentials" ||
    not_ok "reason: $(cat "$KB_T/err")"
no_secret "wrong password"

# Empty password file (and one holding only a newline): refused, and no
# bind request leaves the client (it would be an unauthenticated bind).
for f in emptypw newlinepw; do
	kb_write_config "$KB_T/empty.conf" "binddn $READER" \
	    "bindpw_file $KB_T/$f"
	b0=$(grep -c ' BIND ' "$SLAPD_LOG")
	search "$KB_T/empty.conf"
	[ "$rc" != 0 ] && ok "$f: refused (exit $rc)" || not_ok "$f: accepted"
	no_data && ok "$f: no data" || not_ok "$f: data"
	check_eq "$(( $(grep -c ' BIND ' "$SLAPD_LOG") - b0 ))" 0 \
	    "$f: no bind sent"
done

# A password file others may read is refused (config_read_password).
cp "$KB_T/pw" "$KB_T/pw-open"
chmod 0644 "$KB_T/pw-open"
kb_write_config "$KB_T/open.conf" "binddn $READER" "bindpw_file $KB_T/pw-open"
b0=$(grep -c ' BIND ' "$SLAPD_LOG")
search "$KB_T/open.conf"
[ "$rc" != 0 ] && ok "world-readable password file: refused (exit $rc)" ||
    not_ok "world-readable password file accepted"
check_eq "$(( $(grep -c ' BIND ' "$SLAPD_LOG") - b0 ))" 0 \
    "world-readable password file: no bind sent"
no_secret "world-readable password file"

# The admin override (-H -D -y): right, wrong and empty passwords.
kb_write_config "$KB_T/anon.conf"
search "$KB_T/anon.conf" -H "$SLAPD_URI" -D "$READER" -y "$KB_T/pw"
check_eq "$rc" 0 "override bind: right password"
search "$KB_T/anon.conf" -H "$SLAPD_URI" -D "$READER" -y "$KB_T/wrongpw"
check_eq "$rc" 71 "override bind: wrong password is KB_ERR_DIR_AUTH"
no_secret "override bind"
b0=$(grep -c ' BIND ' "$SLAPD_LOG")
search "$KB_T/anon.conf" -H "$SLAPD_URI" -D "$READER" -y "$KB_T/emptypw"
check_eq "$rc" 71 "override bind: empty password refused"
check_eq "$(( $(grep -c ' BIND ' "$SLAPD_LOG") - b0 ))" 0 \
    "override bind, empty password: no bind sent"
search "$KB_T/anon.conf" -H "ldap://127.0.0.1:$(kb_free_port)"
check_eq "$rc" 70 "override URI replaces the configured ones"

# Anonymous: no bind request at all on the lookup path.
b0=$(grep -c ' BIND ' "$SLAPD_LOG"); s0=$(slapd_count_searches)
search "$KB_T/anon.conf"
check_eq "$rc" 0 "anonymous search"
check_eq "$(( $(grep -c ' BIND ' "$SLAPD_LOG") - b0 ))" 0 \
    "anonymous: no bind request"
check_eq "$(( $(slapd_count_searches) - s0 ))" 1 "anonymous: one search"

kb_done
