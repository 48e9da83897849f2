#!/bin/bash
# directory_faults.sh - failover and deadlines, each timed: refused URIs,
# a URI that accepts and never answers (plain, StartTLS, ldaps://), a
# SIGSTOPped slapd, and the overall timeout across several dead URIs.
# The StartTLS and TLS handshake stalls are also run with SIGPIPE at its
# default (kb-sshdexec, kb-dirtool -P): the client never writes to a
# connection its handshake watchdog cut.
: "${KB_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

T=$KB_BUILD/tests/tools/kb-dirtool
BH=$KB_BUILD/tests/tools/kb-blackhole
BAD=$KB_BUILD/tests/tools/kb-badserver
EXEC=$KB_BUILD/tests/tools/kb-sshdexec
[ -x "$T" ] && [ -x "$BH" ] && [ -x "$BAD" ] && [ -x "$EXEC" ] ||
    fail "test tools not built"
kb_tmpdir

# timed CONF: one search; sets rc and ms; output in $KB_T/out, $KB_T/err.
timed() {
	local t0
	t0=$(kb_ms)
	"$T" -c "$1" search "$SLAPD_SUFFIX" '(ou=people)' ou \
	    >"$KB_T/out" 2>"$KB_T/err"
	rc=$?
	ms=$(( $(kb_ms) - t0 ))
}
got_data() { grep -q '^dn: ou=people,dc=example,dc=test$' "$KB_T/out"; }
no_data() { ! grep -q '^dn:' "$KB_T/out"; }
# within LIMIT_MS WHAT
within() {
	if [ "$ms" -le "$1" ]; then ok "$2 (${ms} ms <= $1 ms)"
	else not_ok "$2: took ${ms} ms, limit $1 ms"; fi
}
# at_least MIN_MS WHAT: the dead URI really was waited for
at_least() {
	if [ "$ms" -ge "$1" ]; then ok "$2 (${ms} ms >= $1 ms)"
	else not_ok "$2: only ${ms} ms, expected >= $1 ms"; fi
}

slapd_start || fail "slapd did not start"

# Black holes: accept TCP, never say a word.  Started from this shell
# (not a command substitution) so the exit handler stops them.
# blackhole VAR [-s]: start one, its port in VAR.
blackhole() {
	local port
	port=$(kb_free_port) || fail "no free port"
	"$BH" ${2:+"$2"} "$port" >/dev/null &
	kb_kill_at_exit $!
	kb_wait_port "$port" 5 || fail "black hole did not listen"
	printf -v "$1" '%s' "$port"
}
blackhole bh1; blackhole bh2; blackhole bh3
dead1=$(kb_free_port); dead2=$(kb_free_port)

# All URIs refused: failure in well under a second.
kb_write_config "$KB_T/refused.conf" \
    "uri ldap://127.0.0.1:$dead1 ldap://127.0.0.1:$dead2 ldaps://127.0.0.1:$dead1"
timed "$KB_T/refused.conf"
check_eq "$rc" 70 "all URIs refused: KB_ERR_DIR_UNAVAILABLE"
within 1000 "all URIs refused: fails fast"
no_data && ok "refused: no data" || not_ok "refused: data?"
grep -q "127.0.0.1:$dead1.*127.0.0.1:$dead2" "$KB_T/err" &&
    ok "the error names every URI tried" || not_ok "error text: $(cat "$KB_T/err")"

# A black hole first, then the real server: data within timeout (3 s),
# after one network_timeout (1 s) spent on the black hole.
s0=$(slapd_count_searches)
kb_write_config "$KB_T/bh-plain.conf" "uri ldap://127.0.0.1:$bh1 $SLAPD_URI"
timed "$KB_T/bh-plain.conf"
check_eq "$rc" 0 "black hole then slapd (plain): answered"
got_data && ok "black hole (plain): data" || not_ok "black hole (plain): no data"
at_least 900 "black hole (plain): waited for it"
within 3000 "black hole (plain): within timeout"
check_eq "$(( $(slapd_count_searches) - s0 ))" 1 \
    "one search reached slapd after failover"

kb_write_config "$KB_T/bh-starttls.conf" \
    "uri ldap://127.0.0.1:$bh1 $SLAPD_URI" "starttls yes"
timed "$KB_T/bh-starttls.conf"
check_eq "$rc" 0 "black hole then slapd (StartTLS): answered"
got_data && ok "black hole (StartTLS): data" || not_ok "no data"
at_least 900 "black hole (StartTLS): waited for it"
within 3000 "black hole (StartTLS): within timeout"

kb_write_config "$KB_T/bh-ldaps.conf" \
    "uri ldaps://127.0.0.1:$bh1 $SLAPD_LDAPS_URI"
timed "$KB_T/bh-ldaps.conf"
check_eq "$rc" 0 "black hole then slapd (ldaps://): answered"
got_data && ok "black hole (ldaps): data" || not_ok "no data"
at_least 900 "black hole (ldaps): waited for it"
within 3000 "black hole (ldaps): within timeout"

# Two black holes, then slapd: still inside the 3 s budget.
kb_write_config "$KB_T/bh-two.conf" \
    "uri ldap://127.0.0.1:$bh1 ldap://127.0.0.1:$bh2 $SLAPD_URI"
timed "$KB_T/bh-two.conf"
check_eq "$rc" 0 "two black holes then slapd: answered"
got_data && ok "two black holes: data" || not_ok "no data"
within 3000 "two black holes: within timeout"

# Three black holes then slapd: the 3 s deadline wins; nothing after it.
kb_write_config "$KB_T/bh-three.conf" \
    "uri ldap://127.0.0.1:$bh1 ldap://127.0.0.1:$bh2 ldap://127.0.0.1:$bh3 $SLAPD_URI"
timed "$KB_T/bh-three.conf"
[ "$rc" = 70 ] || [ "$rc" = 81 ] &&
    ok "three black holes: no answer within timeout (exit $rc)" ||
    not_ok "three black holes: exit $rc, expected 70 or 81"
within 3500 "three black holes: the overall deadline holds"
no_data && ok "three black holes: no data" || not_ok "data after deadline"

# Black hole only, StartTLS and ldaps: bounded by network_timeout.
for u in "ldap://127.0.0.1:$bh1" "ldaps://127.0.0.1:$bh1"; do
	kb_write_config "$KB_T/bh-only.conf" "uri $u" "starttls yes"
	timed "$KB_T/bh-only.conf"
	[ "$rc" = 70 ] || [ "$rc" = 81 ] &&
	    ok "$u alone: fails (exit $rc)" || not_ok "$u alone: exit $rc"
	within 1500 "$u alone: one network_timeout"
done

# A server that answers StartTLS and then never speaks TLS: libldap's own
# handshake loop would spin forever; the client cuts it off.
blackhole sport -s
kb_write_config "$KB_T/stall.conf" "uri ldap://127.0.0.1:$sport" \
    "starttls yes"
timed "$KB_T/stall.conf"
[ "$rc" = 70 ] || [ "$rc" = 81 ] &&
    ok "StartTLS then silence: fails (exit $rc)" ||
    not_ok "StartTLS then silence: exit $rc"
within 1500 "StartTLS then silence: one network_timeout"
grep -q 'no TLS handshake within' "$KB_T/err" &&
    ok "StartTLS then silence: reason given" ||
    not_ok "StartTLS then silence: $(cat "$KB_T/err")"
kb_write_config "$KB_T/stall-then-good.conf" \
    "uri ldap://127.0.0.1:$sport $SLAPD_URI" "starttls yes"
timed "$KB_T/stall-then-good.conf"
check_eq "$rc" 0 "StartTLS staller then slapd: answered"
got_data && ok "StartTLS staller then slapd: data" || not_ok "no data"
within 3000 "StartTLS staller then slapd: within timeout"

# The same with SIGPIPE at its default, as sshd leaves it: the unbind that
# dropped the cut connection used to write to it and kill the process.
# timed_default CONF: like timed, through kb-sshdexec with kb-dirtool -P
# (bounded by timeout(1): an unbounded handshake would hang here).
timed_default() {
	local t0
	t0=$(kb_ms)
	timeout 10 "$EXEC" "$T" -P -c "$1" search "$SLAPD_SUFFIX" \
	    '(ou=people)' ou >"$KB_T/out" 2>"$KB_T/err"
	rc=$?
	ms=$(( $(kb_ms) - t0 ))
}
# not_killed WHAT: rc is not a death by signal (nor timeout(1)'s 124)
not_killed() {
	if [ "$rc" -gt 128 ]; then
		not_ok "$1: killed by SIG$(kill -l $((rc - 128)))"
	elif [ "$rc" = 124 ]; then
		not_ok "$1: still running after 10 s"
	else
		ok "$1: not killed by a signal (exit $rc)"
	fi
}
for i in 1 2 3; do
	timed_default "$KB_T/stall-then-good.conf"
	not_killed "SIGPIPE at default, StartTLS staller then slapd ($i)"
	check_eq "$rc" 0 "SIGPIPE at default, StartTLS staller then slapd: answered ($i)"
	got_data && ok "SIGPIPE at default: data ($i)" || not_ok "no data ($i)"
	within 3000 "SIGPIPE at default, StartTLS staller then slapd ($i)"
done

# A server that sends half of its first TLS flight and stops: libldap's
# ldaps:// handshake used to wait in a blocking read() forever.
cadir=$(dirname "$KB_CA_CERT")
kb_make_cert "$cadir" test-ca badserver "IP:127.0.0.1" || fail "certificate"
# badserver VAR ARGS...: kb-badserver ARGS... PORT, port in VAR
badserver() {
	local var=$1 port i
	shift
	port=$(kb_free_port) || fail "no free port"
	"$BAD" "$@" "$port" >"$KB_T/$var.log" 2>&1 &
	kb_kill_at_exit $!
	for ((i = 0; i < 100; i++)); do
		grep -qsx ready "$KB_T/$var.log" && break
		sleep 0.05
	done
	grep -qx ready "$KB_T/$var.log" || fail "kb-badserver $*: $(cat "$KB_T/$var.log")"
	printf -v "$var" '%s' "$port"
}
badserver hs_l -l -c "$cadir/badserver.crt" -k "$cadir/badserver.key" \
    handshake-stall
badserver hs_s -s -c "$cadir/badserver.crt" -k "$cadir/badserver.key" \
    handshake-stall
for u in "ldaps://127.0.0.1:$hs_l" "ldap://127.0.0.1:$hs_s"; do
	kb_write_config "$KB_T/hs.conf" "uri $u" "starttls yes"
	for i in 1 2 3; do
		timed_default "$KB_T/hs.conf"
		not_killed "$u, half a TLS flight ($i)"
		check_eq "$rc" 70 "$u, half a TLS flight: unavailable ($i)"
		within 1500 "$u, half a TLS flight: one network_timeout ($i)"
	done
	grep -q 'no TLS handshake within' "$KB_T/err" &&
	    ok "$u, half a TLS flight: reason given" ||
	    not_ok "$u, half a TLS flight: $(cat "$KB_T/err")"
	kb_write_config "$KB_T/hs-good.conf" "uri $u $SLAPD_URI $SLAPD_LDAPS_URI" \
	    "starttls yes"
	timed_default "$KB_T/hs-good.conf"
	not_killed "$u, half a TLS flight, then slapd"
	check_eq "$rc" 0 "$u, half a TLS flight, then slapd: answered"
	within 3000 "$u, half a TLS flight, then slapd: within timeout"
done

# A stopped slapd accepts connections in the kernel and never answers.
kb_write_config "$KB_T/stopped.conf"
kb_write_config "$KB_T/stopped-tls.conf" "starttls yes"
kb_write_config "$KB_T/stopped-ldaps.conf" "uri $SLAPD_LDAPS_URI"
kill -STOP "$SLAPD_PID"
for c in stopped stopped-tls stopped-ldaps; do
	timed "$KB_T/$c.conf"
	[ "$rc" = 70 ] || [ "$rc" = 81 ] &&
	    ok "$c: fails (exit $rc)" || not_ok "$c: exit $rc"
	within 3500 "$c: within timeout + 0.5 s"
	no_data && ok "$c: no data" || not_ok "$c: data?"
done
# With a longer network_timeout the overall timeout still bounds it.
kb_write_config "$KB_T/stopped-long.conf" "timeout 2" "network_timeout 2"
timed "$KB_T/stopped-long.conf"
[ "$rc" = 70 ] || [ "$rc" = 81 ] && ok "stopped, timeout 2: fails" ||
    not_ok "stopped, timeout 2: exit $rc"
within 2500 "stopped, timeout 2: within timeout + 0.5 s"
kill -CONT "$SLAPD_PID"

# Awake again: the same config answers at once.
timed "$KB_T/stopped.conf"
check_eq "$rc" 0 "slapd resumed: answered"
within 1000 "slapd resumed: fast"

kb_done
