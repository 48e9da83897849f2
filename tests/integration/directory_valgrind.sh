#!/bin/bash
# directory_valgrind.sh - kb-dirtool under valgrind against a real slapd:
# zero errors, zero definite leaks, no descriptor beyond 0-2 left at exit,
# on every path (plain, StartTLS, ldaps://, ldapi://, bind, failover past a
# black hole, TLS refusal, a write with controls, a timeout).
: "${KB_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

T=$KB_BUILD/tests/tools/kb-dirtool
BH=$KB_BUILD/tests/tools/kb-blackhole
[ -x "$T" ] && [ -x "$BH" ] || fail "test tools not built"
command -v valgrind >/dev/null || skip "valgrind not installed"
kb_tmpdir
slapd_start || fail "slapd did not start"

bport=$(kb_free_port) || fail "no free port"
"$BH" "$bport" >/dev/null &
kb_kill_at_exit $!
kb_wait_port "$bport" 5 || fail "black hole did not listen"
sport=$(kb_free_port) || fail "no free port"
"$BH" -s "$sport" >/dev/null &
kb_kill_at_exit $!
kb_wait_port "$sport" 5 || fail "StartTLS staller did not listen"

PW='valgrind-reader-pw'
slapd_ldapadd <<EOF || fail "cannot add entries"
dn: uid=reader,$SLAPD_PEOPLE
objectClass: inetOrgPerson
uid: reader
cn: reader
sn: reader
userPassword: $PW

dn: cn=vg,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: vg
keyboundPublicKey: ssh-ed25519 AAAA
keyboundFingerprint: SHA256:vg
keyboundAttachment: alice@test-host
EOF
(umask 077; printf '%s\n' "$PW" >"$KB_T/pw")

# valgrind slows TLS handshakes down a lot: generous per-wait limits,
# except where a wait is what is being tested.
slow=("timeout 30" "network_timeout 10")
kb_write_config "$KB_T/plain.conf" "${slow[@]}"
kb_write_config "$KB_T/starttls.conf" "starttls yes" "${slow[@]}"
kb_write_config "$KB_T/ldaps.conf" "uri $SLAPD_LDAPS_URI" "${slow[@]}"
kb_write_config "$KB_T/ldapi.conf" "uri $SLAPD_LDAPI_URI" "${slow[@]}"
kb_write_config "$KB_T/bind.conf" "starttls yes" \
    "binddn uid=reader,$SLAPD_PEOPLE" "bindpw_file $KB_T/pw" "${slow[@]}"
kb_write_config "$KB_T/failover.conf" \
    "uri ldap://127.0.0.1:$bport $SLAPD_URI" "timeout 30" "network_timeout 2"
kb_write_config "$KB_T/failover-ldaps.conf" \
    "uri ldaps://127.0.0.1:$bport $SLAPD_LDAPS_URI" "timeout 30" \
    "network_timeout 5"
kb_write_config "$KB_T/wrongca.conf" "uri $SLAPD_LDAPS_URI" \
    "tls_cacert $KB_OTHER_CA_CERT" "${slow[@]}"
kb_write_config "$KB_T/hole.conf" "uri ldap://127.0.0.1:$bport"
kb_write_config "$KB_T/stall.conf" "uri ldap://127.0.0.1:$sport $SLAPD_URI" \
    "starttls yes" "timeout 30" "network_timeout 5"

# vg NAME EXPECTED-EXIT ARGS...: run kb-dirtool under valgrind.
vg() {
	local name=$1 want=$2 log=$KB_T/vg-$1.log rc
	shift 2
	valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	    --track-fds=yes --log-file="$log" "$T" "$@" \
	    >"$KB_T/out" 2>"$KB_T/err" </dev/null
	rc=$?
	check_eq "$rc" "$want" "$name: exit status under valgrind"
	if grep -q 'ERROR SUMMARY: [1-9]\|definitely lost: [1-9]\|Invalid \|uninitialised' \
	    "$log"; then
		not_ok "$name: valgrind reports errors or leaks"
		sed 's/^/    /' "$log" | head -40 >&2
	else
		ok "$name: no valgrind errors, no definite leaks"
	fi
	# --track-fds lists every descriptor open at exit.  Those inherited
	# from the test harness (valgrind's log, the runner's) are not ours;
	# anything kb-dirtool opened itself must be closed, 0-2 aside.
	if awk '
	    /Open (file descriptor|AF_[A-Z0-9]+ socket) [0-9]+/ {
		    pending = $0; next }
	    pending != "" {
		    if ($0 !~ /inherited from parent/ &&
			pending !~ /descriptor [012]:/) bad = 1
		    pending = "" }
	    END { exit bad ? 0 : 1 }' "$log"; then
		not_ok "$name: descriptors left open at exit"
		grep -A3 'Open ' "$log" | sed 's/^/    /' >&2
	else
		ok "$name: no descriptor of its own open at exit"
	fi
}

q=("$SLAPD_BASE" '(keyboundAttachment=alice@test-host)' cn keyboundPublicKey)
vg plain 0 -c "$KB_T/plain.conf" search "${q[@]}"
vg starttls 0 -c "$KB_T/starttls.conf" search "${q[@]}"
vg ldaps 0 -c "$KB_T/ldaps.conf" search "${q[@]}"
vg ldapi 0 -c "$KB_T/ldapi.conf" search "${q[@]}"
vg bind 0 -c "$KB_T/bind.conf" search "${q[@]}"
vg failover 0 -c "$KB_T/failover.conf" search "${q[@]}"
vg failover-ldaps 0 -c "$KB_T/failover-ldaps.conf" search "${q[@]}"
vg wrong-ca 72 -c "$KB_T/wrongca.conf" search "${q[@]}"
vg starttls-stall 0 -c "$KB_T/stall.conf" search "${q[@]}"
vg timeout 81 -c "$KB_T/hole.conf" search "${q[@]}"
vg sizelimit 78 -c "$KB_T/plain.conf" search -z 1 "$SLAPD_SUFFIX" \
    '(objectClass=*)' cn
vg write 0 -c "$KB_T/plain.conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
    -y "$SLAPD_ROOTPW_FILE" modify -p -a '(cn=vg)' "cn=vg,$SLAPD_BASE" \
    add:keyboundAttachment=bob@test-host
vg assertion 75 -c "$KB_T/plain.conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
    -y "$SLAPD_ROOTPW_FILE" delete -a '(!(keyboundAttachment=*))' \
    "cn=vg,$SLAPD_BASE"
vg wrong-password 71 -c "$KB_T/plain.conf" -H "$SLAPD_URI" \
    -D "uid=reader,$SLAPD_PEOPLE" -y "$KB_T/plain.conf" search "${q[@]}"

kb_done
