#!/bin/bash
# keycmd_failover_matrix: one misbehaving directory server, first in the URI
# list, never keeps keybound-keys from the healthy second one, and never
# ends it (or the admin CLI) by a signal.
#
# keybound-keys runs as sshd and pam_keybound run it: through kb-sshdexec,
# with every signal at its default and none blocked (checked first, also
# from a parent that ignores SIGPIPE).  For ldap:// with StartTLS and for
# ldaps://, the first URI is: refused (closed port); blackholed (SYNs
# dropped); reset on connect; silent after accept; silent after answering
# StartTLS (ldap:// only); stalled halfway through the TLS handshake;
# stalled on the search after TLS and bind; a slapd whose certificate
# another CA signed; a SIGSTOPped slapd.  Each row must print the healthy
# server's key lines and exit 0, and --has-keys must exit 0, each within
# timeout + 0.5 s.  The cache is never used offline here (offline_max_age
# 0), so only the second URI can have answered.  Then `keybound list` with
# the StartTLS staller first.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

EXEC=$KB_BUILD/tests/tools/kb-sshdexec
BAD=$KB_BUILD/tests/tools/kb-badserver
[ -x "$EXEC" ] && [ -x "$BAD" ] && [ -x "$KB_BUILD/keybound" ] ||
    fail "test tools not built"

# Each misbehaving server costs at most one network_timeout; the healthy
# second URI then has the rest of timeout.
TIMEOUT=3
NETWORK_TIMEOUT=1
LIMIT_MS=$((TIMEOUT * 1000 + 500))

# --- the launcher gives sshd's signal state --------------------------------
# sig_masks FILE: "SigIgn SigBlk" as read from a /proc/PID/status copy
sig_masks() {
	awk '/^SigIgn:/ {i = $2} /^SigBlk:/ {b = $2} END {print i, b}' "$1"
}
zero=0000000000000000
env --ignore-signal=PIPE --block-signal=PIPE,TERM \
    cat /proc/self/status >"$KB_T/parent.status"
read -r ign blk < <(sig_masks "$KB_T/parent.status")
[ "$ign" != $zero ] && [ "$blk" != $zero ]
check_eq "$?" 0 "control: the parent state ignores and blocks signals ($ign $blk)"
env --ignore-signal=PIPE --block-signal=PIPE,TERM \
    "$EXEC" cat /proc/self/status >"$KB_T/child.status"
check_eq "$(sig_masks "$KB_T/child.status")" "$zero $zero" \
    "kb-sshdexec: nothing ignored, nothing blocked (SigIgn SigBlk)"
(trap '' PIPE; "$EXEC" cat /proc/self/status) >"$KB_T/child2.status"
check_eq "$(sig_masks "$KB_T/child2.status")" "$zero $zero" \
    "kb-sshdexec from a shell that ignores SIGPIPE: SIGPIPE at its default"

# --- servers -----------------------------------------------------------------
# A slapd whose certificate the test CA did not sign (also the stopped one)
slapd_start --tls-other-ca || fail "the other-CA slapd did not start"
OTHER_PID=$SLAPD_PID
OTHER_URI=$SLAPD_URI
OTHER_LDAPS_URI=$SLAPD_LDAPS_URI
# The healthy one, signed by the CA keybound.conf trusts; written last, so
# kb_write_config and kk_* use it.
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
kk_keygen ka && kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" ||
    fail "add ka"
kk_keygen kb2 && kk_add_keypair kb2 "$KK_PUB" "$KK_FP" "alice@test-host" ||
    fail "add kb2"
cadir=$(dirname "$KB_CA_CERT")
kb_make_cert "$cadir" test-ca badserver "IP:127.0.0.1,DNS:localhost" ||
    fail "no certificate for kb-badserver"

# badserver VAR ARGS...: start kb-badserver ARGS... PORT from this shell
# (so the exit handler stops it), wait for "ready"; the port goes to VAR,
# its output to $KB_T/VAR.log.
badserver() {
	local var=$1 port pid try i
	shift
	for try in 1 2 3; do
		port=$(kb_free_port) || fail "no free port"
		"$BAD" "$@" "$port" >"$KB_T/$var.log" 2>&1 &
		pid=$!
		kb_kill_at_exit "$pid"
		for ((i = 0; i < 100; i++)); do
			grep -qsx ready "$KB_T/$var.log" && break 2
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill "$pid" 2>/dev/null
	done
	grep -qx ready "$KB_T/$var.log" || fail "kb-badserver $*: $(cat "$KB_T/$var.log")"
	printf -v "$var" '%s' "$port"
}
tls=(-c "$cadir/badserver.crt" -k "$cadir/badserver.key")
badserver syndrop syn-drop
badserver reset reset
badserver silent silent
badserver starttls_stall starttls-stall
badserver hs_stall_s -s "${tls[@]}" handshake-stall
badserver hs_stall_l -l "${tls[@]}" handshake-stall
badserver search_stall_s -s "${tls[@]}" search-stall
badserver search_stall_l -l "${tls[@]}" search-stall
badserver second_reset_s -s "${tls[@]}" second-search-reset
refused=$(kb_free_port)

# --- the reference answer ------------------------------------------------------
newcache() {
	local d
	d=$(mktemp -d "$KB_T/cache.XXXXXX")
	chown "$KB_CMD_USER:" "$d" && chmod 0700 "$d"
	echo "$d"
}
# config FILE URI...: both schemes' settings, no offline answers
config() {
	local f=$1
	shift
	kb_write_config "$f" "uri $*" "starttls yes" "timeout $TIMEOUT" \
	    "network_timeout $NETWORK_TIMEOUT" "cache_dir $(newcache)" \
	    "cache_ttl 0" "offline_max_age 0"
}
# run_keys CONF ARGS...: keybound-keys under kb-sshdexec; KK_RC, KK_MS, KK_OUT
run_keys() {
	local conf=$1 t0
	shift
	KK_OUT=$KB_T/kk.out
	t0=$(kb_ms)
	"$EXEC" "$KB_KEYS_CMD" -c "$conf" "$@" >"$KK_OUT" 2>"$KB_T/kk.err"
	KK_RC=$?
	KK_MS=$(($(kb_ms) - t0))
}
# status_text RC: "exit N" or "killed by SIGNAME"
status_text() {
	if [ "$1" -gt 128 ]; then
		echo "killed by SIG$(kill -l "$(($1 - 128))")"
	else
		echo "exit $1"
	fi
}

config "$KB_T/healthy.conf" "$SLAPD_URI"
run_keys "$KB_T/healthy.conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:2" "healthy server alone: two keys"
kk_lines_valid "$KK_OUT" || not_ok "healthy server alone: invalid lines"
sort "$KK_OUT" >"$KB_T/expected"

# row NAME FIRST_URI SECOND_URI [STALL_LOG]: keys from SECOND_URI in time;
# with STALL_LOG, the first server logged that it reached its stall point.
row() {
	local name=$1 first=$2 second=$3 log=${4:-} conf before=0
	conf=$KB_T/row.conf
	config "$conf" "$first" "$second"
	[ -n "$log" ] && before=$(grep -c '^stalled' "$log")
	run_keys "$conf" alice
	check_eq "$(status_text "$KK_RC")" "exit 0" "$name: keybound-keys USER"
	sort "$KK_OUT" | cmp -s - "$KB_T/expected" &&
	    ok "$name: the healthy server's two key lines" ||
	    not_ok "$name: got [$(cat "$KK_OUT")]"
	[ "$KK_MS" -le "$LIMIT_MS" ] &&
	    ok "$name: answered in ${KK_MS} ms (<= $LIMIT_MS)" ||
	    not_ok "$name: took ${KK_MS} ms, limit $LIMIT_MS"
	run_keys "$conf" --has-keys alice
	check_eq "$(status_text "$KK_RC"):$(wc -c <"$KK_OUT")" "exit 0:0" \
	    "$name: --has-keys"
	[ "$KK_MS" -le "$LIMIT_MS" ] &&
	    ok "$name: --has-keys in ${KK_MS} ms (<= $LIMIT_MS)" ||
	    not_ok "$name: --has-keys took ${KK_MS} ms, limit $LIMIT_MS"
	if [ -n "$log" ]; then
		[ "$(grep -c '^stalled' "$log")" -ge $((before + 2)) ] &&
		    ok "$name: both runs reached the first server's stall" ||
		    not_ok "$name: the first server did not stall both runs"
	fi
}

L=ldap://127.0.0.1
S=ldaps://127.0.0.1
row "ldap refused" "$L:$refused" "$SLAPD_URI"
row "ldap SYN dropped" "$L:$syndrop" "$SLAPD_URI"
row "ldap reset on connect" "$L:$reset" "$SLAPD_URI" "$KB_T/reset.log"
row "ldap silent after accept" "$L:$silent" "$SLAPD_URI" "$KB_T/silent.log"
row "ldap silent after StartTLS" "$L:$starttls_stall" "$SLAPD_URI" \
    "$KB_T/starttls_stall.log"
row "ldap stall in the TLS handshake" "$L:$hs_stall_s" "$SLAPD_URI" \
    "$KB_T/hs_stall_s.log"
row "ldap stall on the search" "$L:$search_stall_s" "$SLAPD_URI" \
    "$KB_T/search_stall_s.log"
# groups answered, then the server dies before the key search: both
# searches start again on the next server
row "ldap reset between the two searches" "$L:$second_reset_s" \
    "$SLAPD_URI" "$KB_T/second_reset_s.log"
row "ldap certificate of another CA" "$OTHER_URI" "$SLAPD_URI"

row "ldaps refused" "$S:$refused" "$SLAPD_LDAPS_URI"
row "ldaps SYN dropped" "$S:$syndrop" "$SLAPD_LDAPS_URI"
row "ldaps reset on connect" "$S:$reset" "$SLAPD_LDAPS_URI" "$KB_T/reset.log"
row "ldaps silent after accept" "$S:$silent" "$SLAPD_LDAPS_URI" \
    "$KB_T/silent.log"
row "ldaps stall in the TLS handshake" "$S:$hs_stall_l" "$SLAPD_LDAPS_URI" \
    "$KB_T/hs_stall_l.log"
row "ldaps stall on the search" "$S:$search_stall_l" "$SLAPD_LDAPS_URI" \
    "$KB_T/search_stall_l.log"
row "ldaps certificate of another CA" "$OTHER_LDAPS_URI" "$SLAPD_LDAPS_URI"

kill -STOP "$OTHER_PID"
row "ldap SIGSTOPped slapd" "$OTHER_URI" "$SLAPD_URI"
row "ldaps SIGSTOPped slapd" "$OTHER_LDAPS_URI" "$SLAPD_LDAPS_URI"
kill -CONT "$OTHER_PID"

# --- the admin CLI --------------------------------------------------------------
config "$KB_T/admin.conf" "$L:$starttls_stall" "$SLAPD_URI"
"$EXEC" "$KB_BUILD/keybound" -c "$KB_T/admin.conf" list \
    >"$KB_T/list.out" 2>"$KB_T/list.err"
rc=$?
check_eq "$(status_text "$rc")" "exit 0" \
    "keybound list, StartTLS staller first: $(head -c 200 "$KB_T/list.err")"
grep -qw ka "$KB_T/list.out" && grep -qw kb2 "$KB_T/list.out" &&
    ok "keybound list: both key pairs from the second URI" ||
    not_ok "keybound list: [$(cat "$KB_T/list.out")]"
"$EXEC" "$KB_BUILD/keybound" -c "$KB_T/admin.conf" check alice@test-host \
    >"$KB_T/check.out" 2>"$KB_T/check.err"
rc=$?
check_eq "$(status_text "$rc")" "exit 0" \
    "keybound check, StartTLS staller first: $(head -c 200 "$KB_T/check.err")"

kb_done
