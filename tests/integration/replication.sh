#!/bin/bash
# replication: keybound over a replicated directory, as fleets run it.
# Two OpenLDAP providers in multi-provider replication and one read-only
# consumer (tests/lib/replication.sh), configured with exactly the files
# in config-examples/replication/.  Instances read from the consumer
# first, then the providers; the CLI writes to a provider.
#   1. an attach on provider A reaches the consumer (lag measured by
#      polling) and a real ssh key login through sshd is served by the
#      consumer;
#   2. a detach on provider B is refused by keybound-keys against the
#      consumer, A and B, each within cache_ttl + that server's lag, and
#      a real ssh login with the key is refused;
#   3. A is killed (SIGKILL) during 200 logins (4 at a time, keybound-keys
#      as the command user, uri A then B, no offline cache to hide behind)
#      while the CLI (uri A then B) keeps writing: every login succeeds,
#      writes go to B once A is gone, and every write started after A's
#      death is acknowledged; a detach on B reaches the consumer while A
#      is down;
#   4. A comes back and A, B and the consumer converge to the same
#      entries (ldapsearch): every acknowledged attach is there, every
#      acknowledged detach stays gone.
#
# Measured by this test (three slapds, sshd and
# keybound on one loaded 2-core machine, loopback): an attach on provider
# A is already on the consumer at the first search after the CLI's
# acknowledgement (that ldapsearch itself takes 50-130 ms here), and a
# real ssh login through sshd is then served by the consumer. A detach on
# provider B with `cache_ttl 4` is refused by instances reading the
# consumer, A or B after 3.5-4.5 s, each last served by a run that started
# before `cache_ttl` + lag had passed. Provider A killed with SIGKILL
# during 200 logins (4 at a time, `uri A B`, `cache_ttl 0`, no offline
# cache) and about 70 CLI writes (`uri A B`): no login failed (about 50
# answered by A, 150 by B, the slowest 0.6-1.3 s at four at a time on that
# machine), every write started after A's death was acknowledged by B (at
# most one, in flight at the kill, was not), and once A was back the three
# servers held the same entries within seconds, with every acknowledged
# attach present and every acknowledged detach still gone.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
. "$KB_SRC/tests/lib/replication.sh"
kb_private_syslog "$@"

[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
[ -x "$KB_BUILD/keybound-keys" ] || fail "keybound-keys not built"
repl_start || fail "the replicated directory did not start"
ok "providers A, B and consumer C replicate (config-examples/replication/)"
kb_install_keys_cmd || fail "cannot install keybound-keys"

TTL=4		# cache_ttl of the instances
LOGINS=200	# logins in the failover run
WORKERS=4	# ... run this many at a time

# CLI configs: one provider, or A then B.
# A generous deadline: what is tested is the order of the URIs, not the
# speed of a loaded machine.
kb_write_config "$KB_T/cli-A.conf" "uri $REPL_A_URI" "timeout 10"
kb_write_config "$KB_T/cli-B.conf" "uri $REPL_B_URI" "timeout 10"
kb_write_config "$KB_T/cli-C.conf" "uri $REPL_C_URI" "timeout 10"
kb_write_config "$KB_T/cli-AB.conf" "uri $REPL_A_URI $REPL_B_URI" \
    "timeout 10"
cli() {	# CONF ARGS...: the admin CLI bound as the providers' root DN
	local conf=$1
	shift
	"$KB_BUILD/keybound" -c "$KB_T/cli-$conf.conf" -D "$SLAPD_ROOTDN" \
	    -y "$REPL_ROOTPW_FILE" "$@" >/dev/null 2>>"$KB_T/cli.err"
}

# Instance configs, each with its own cache_dir owned by the command user.
newcache() {
	local d
	d=$(mktemp -d "$KB_T/cache.XXXXXX")
	chown "$KB_CMD_USER:" "$d" && chmod 0700 "$d"
	echo "$d"
}
inst_conf() {	# NAME URI... : $KB_T/NAME.conf
	local name=$1
	shift
	kb_write_config "$KB_T/$name.conf" "uri $*" \
	    "cache_dir $(newcache)" "cache_ttl $TTL"
}
inst_conf fleet "$REPL_C_URI" "$REPL_A_URI" "$REPL_B_URI"
inst_conf onlyC "$REPL_C_URI"
inst_conf onlyA "$REPL_A_URI"
inst_conf onlyB "$REPL_B_URI"
kb_write_config "$KB_T/failover.conf" "uri $REPL_A_URI $REPL_B_URI" \
    "cache_dir $(newcache)" "cache_ttl 0" "offline_max_age 0" "timeout 10"

# as_cmd CONF OUT ARGS...: keybound-keys as sshd runs it (the command
# user, an empty environment); stdout in OUT, status in RC.
as_cmd() {
	local conf=$1 out=$2
	shift 2
	kk_as_cmd -c "$KB_T/$conf.conf" "$@" </dev/null >"$out" 2>/dev/null
	RC=$?
}
# served CONF USER PUB: 0 if keybound-keys prints PUB's key for USER.
# The longest run so far is kept in SLOWEST_MS.
SLOWEST_MS=0
served() {
	local t0 ms
	t0=$(kb_ms)
	as_cmd "$1" "$KB_T/served.out" "$2"
	ms=$(($(kb_ms) - t0))
	[ "$ms" -gt "$SLOWEST_MS" ] && SLOWEST_MS=$ms
	[ "$RC" = 0 ] && grep -qF -- "${3#* }" "$KB_T/served.out"
}

alice=kbrpa$$
kb_make_user "$alice" || fail "useradd $alice"
kk_keygen ka && ka_pub=$KK_PUB
kk_keygen kx
kk_keygen kf && kf_pub=$KK_PUB
kk_keygen kw
for k in ka kx kf kw; do
	cli A import "$k" "$KB_T/$k.pub" || fail "import $k on A"
done
cli A attach kf "failover@test-host" || fail "attach kf on A"
for x in B C; do
	repl_wait_attr "$x" "cn=kf,$SLAPD_BASE" keyboundAttachment \
	    failover@test-host present 30 >/dev/null ||
	    fail "the key pairs imported on A did not reach $x"
done
ok "key pairs imported on A are on B and C"
# The consumer is read-only: a write sent there fails and changes nothing.
cli C attach kx "nobody@test-host"
rc=$?
echo "# CLI write to the consumer: exit $rc: $(tail -n 1 "$KB_T/cli.err")"
[ "$rc" != 0 ] && ok "a write to the consumer is refused (exit $rc)" ||
    not_ok "a write to the consumer was acknowledged"
kb_write_config "$KB_T/cli-CA.conf" "uri $REPL_C_URI $REPL_A_URI" "timeout 10"
cli CA attach kx "nobody@test-host"
echo "# CLI write with uri C A: exit $?: $(tail -n 1 "$KB_T/cli.err")"
for x in A B C; do
	repl_dump "$x" "(cn=kx)" | grep -q "nobody@test-host" &&
	    not_ok "the refused write is on $x" || ok "the refused write is not on $x"
done

# --- 1. attach on A, ssh login through the consumer --------------------------
sshd_start "$KB_T/fleet.conf" || fail "sshd did not start"
kb_ssh_key_login "$alice" "$KB_T/kx" 2>/dev/null && served_kx=1 || served_kx=0
check_eq "$served_kx" 0 "a key never attached does not log in"

cli A attach ka "$alice@test-host"
check_eq "$?" 0 "keybound attach on provider A"
lag_C=$(repl_wait_attr C "cn=ka,$SLAPD_BASE" keyboundAttachment \
    "$alice@test-host" present 30) ||
    fail "the attachment did not reach the consumer within 30 s"
lag_B=$(repl_wait_attr B "cn=ka,$SLAPD_BASE" keyboundAttachment \
    "$alice@test-host" present 30) ||
    fail "the attachment did not reach provider B within 30 s"
echo "# attach on A seen on C after ${lag_C} ms, on B after <= ${lag_B} ms more"
kb_ssh_key_login "$alice" "$KB_T/ka" whoami >"$KB_T/ssh.out" 2>&1
check_eq "$?:$(cat "$KB_T/ssh.out")" "0:$alice" \
    "ssh login with the key attached on A, through sshd"
kb_syslog_wait "user=$alice instance=test-host fingerprint=[^ ]+ source=directory count=1 .*uri=$(kk_re "$REPL_C_URI") .*result=ok" 5 &&
    ok "keybound-keys served that login from the consumer" ||
    not_ok "the login was not served from the consumer"
# The lag over a series of writes on A, as the consumer's clients see it.
lags=()
for i in 1 2 3 4 5 6 7 8 9 10; do
	cli A attach kx "lag$i@test-host" || not_ok "attach lag$i on A"
	lag=$(repl_wait_attr C "cn=kx,$SLAPD_BASE" keyboundAttachment \
	    "lag$i@test-host" present 30) || { not_ok "lag$i never reached C"; continue; }
	lags+=("$lag")
done
lags_sorted=$(printf '%s\n' "${lags[@]}" | sort -n)
# What one poll costs: the same wait for a value already there.
poll=$(repl_wait_attr C "cn=kx,$SLAPD_BASE" keyboundAttachment \
    lag1@test-host present 5)
echo "# one poll (ldapsearch) of C takes ${poll} ms"
echo "# A -> C lag over ${#lags[@]} attaches (ms, polled every 20 ms): min $(echo "$lags_sorted" | head -1), median $(echo "$lags_sorted" | sed -n 5p), max $(echo "$lags_sorted" | tail -1)"

# --- 2. detach on B: refused everywhere within cache_ttl + lag ---------------
lagpids=()
for c in fleet onlyC onlyA onlyB; do
	served "$c" "$alice" "$ka_pub" && ok "$c serves the key (cache warm)" ||
	    not_ok "$c does not serve the attached key"
done
cli B detach ka "$alice@test-host"
check_eq "$?" 0 "keybound detach on provider B"
t_ack=$(kb_ms)
# Each server's lag for the detach, polled alongside (every 100 ms, so
# as not to starve the runs measured).
for x in A B C; do
	repl_wait_attr "$x" "cn=ka,$SLAPD_BASE" keyboundAttachment \
	    "$alice@test-host" absent 30 0.1 >"$KB_T/dlag.$x" &
	lagpids+=($!)
done
declare -A refused_ms last_served
pending="fleet onlyC onlyA onlyB"
bound=$(( (TTL + 30) * 1000 ))
while [ -n "$pending" ] && [ $(($(kb_ms) - t_ack)) -lt "$bound" ]; do
	left=
	for c in $pending; do
		t0=$(($(kb_ms) - t_ack))
		if served "$c" "$alice" "$ka_pub"; then
			left="$left $c"
			last_served[$c]=$t0
		else
			refused_ms[$c]=$t0
		fi
	done
	pending=${left# }
	[ -n "$pending" ] && sleep 0.1
done
[ -z "$pending" ] || not_ok "still served after $((bound / 1000)) s: $pending"
for p in "${lagpids[@]}"; do
	wait "$p"
done
declare -A dlag
for x in A B C; do
	dlag[$x]=$(cat "$KB_T/dlag.$x")
	[ -n "${dlag[$x]}" ] || { not_ok "the detach never left $x"; dlag[$x]=30000; }
done
echo "# detach on B gone from B after <= ${dlag[B]} ms, A <= ${dlag[A]} ms, C <= ${dlag[C]} ms (polled alongside, every 100 ms)"
# A cached answer is fresh for cache_ttl after it was stored, and the
# directory says "detached" once the detach has reached it: no run that
# starts later than cache_ttl + that server's lag after the detach may
# serve the key.  The lag is measured from above; an answer is stored
# at most one run's duration after its search (the slowest run seen is
# added).  So this does not fail on a slow machine; a cache kept too
# long fails it.
echo "# slowest keybound-keys run while polling: ${SLOWEST_MS} ms"
for c in fleet onlyC onlyA onlyB; do
	case $c in onlyA) x=A ;; onlyB) x=B ;; *) x=C ;; esac
	limit=$((TTL * 1000 + dlag[$x] + SLOWEST_MS))
	echo "# $c: last served by a run started ${last_served[$c]:-(none)} ms after the detach, refused by the run started ${refused_ms[$c]:-(none)} ms after it"
	[ -n "${refused_ms[$c]:-}" ] && [ "${last_served[$c]:-0}" -le "$limit" ] &&
	    ok "$c refuses within cache_ttl + lag of $x ($limit ms)" ||
	    not_ok "$c served the detached key after $limit ms"
done
for c in fleet onlyC onlyA onlyB; do
	as_cmd "$c" "$KB_T/o" --has-keys "$alice"
	check_eq "$RC" 3 "$c: --has-keys counts nothing after the detach"
	served "$c" "$alice" "$ka_pub" && not_ok "$c serves the key again" ||
	    ok "$c still refuses"
done
kb_ssh_key_login "$alice" "$KB_T/ka" >/dev/null 2>&1
check_eq "$?" 255 "ssh login with the detached key is refused"

# --- 3. SIGKILL provider A during 200 logins and CLI writes ------------------
R=$KB_T/run
mkdir "$R"
login_worker() {	# N: LOGINS / WORKERS logins, "rc ok ms" lines
	local n=$1 j t0 rc good
	for ((j = 0; j < LOGINS / WORKERS; j++)); do
		t0=$(kb_ms)
		as_cmd failover "$R/out.$n" failover
		rc=$RC
		good=0
		grep -qF -- "${kf_pub#* }" "$R/out.$n" && good=1
		echo "$rc $good $t0 $(($(kb_ms) - t0))" >>"$R/logins.$n"
	done
}
# Writes: attach u$i@wr, and detach every third one again.  Lines
# "i op value rc start_ms end_ms".
write_worker() {
	local i=0 t0 rc
	while [ ! -e "$R/stop" ] && [ $i -lt 1000 ]; do
		i=$((i + 1))
		t0=$(kb_ms)
		cli AB attach kw "u$i@wr"
		rc=$?
		echo "$i add u$i@wr $rc $t0 $(kb_ms)" >>"$R/writes"
		if [ $((i % 3)) = 0 ]; then
			t0=$(kb_ms)
			cli AB detach kw "u$i@wr"
			rc=$?
			echo "$i del u$i@wr $rc $t0 $(kb_ms)" >>"$R/writes"
		fi
	done
}
: >"$R/writes"
write_worker &
wpid=$!
kb_on_exit "touch '$R/stop'; wait $wpid"
lpids=()
for ((n = 0; n < WORKERS; n++)); do
	: >"$R/logins.$n"
	login_worker "$n" &
	lpids+=($!)
done
done_logins() { cat "$R"/logins.* | grep -c .; }
for ((i = 0; i < 600; i++)); do
	[ "$(done_logins)" -ge $((LOGINS / 4)) ] && break
	sleep 0.05
done
repl_kill A
t_kill=$(kb_ms)
echo "# provider A killed after $(done_logins) logins, $(grep -c . "$R/writes") writes"
for p in "${lpids[@]}"; do
	wait "$p"
done
# Keep writing until a few writes have started after A's death.
for ((i = 0; i < 600; i++)); do
	[ "$(awk -v k="$t_kill" '$5 > k' "$R/writes" | grep -c .)" -ge 10 ] &&
	    break
	sleep 0.05
done
touch "$R/stop"
wait "$wpid"

cat "$R"/logins.* >"$R/logins"
check_eq "$(grep -c . "$R/logins")" "$LOGINS" "$LOGINS logins ran"
nbad=$(awk '$1 != 0 || $2 != 1' "$R/logins" | grep -c .)
check_eq "$nbad" 0 "every login succeeded (exit 0, key served): B was healthy"
if [ "$nbad" != 0 ]; then
	# what the failed ones were ("rc served start_ms ms") and said
	echo "# A killed at $t_kill ms; failed logins:"
	awk '$1 != 0 || $2 != 1 { print "#   " $0 }' "$R/logins"
	grep -a 'user=failover' "$KB_SYSLOG" | grep -v 'result=ok' |
	    sed 's/^/#   /' | tail -n 20
fi
after=$(awk -v k="$t_kill" '$3 > k' "$R/logins" | grep -c .)
[ "$after" -gt 0 ] && ok "$after logins started after A's death" ||
    not_ok "no login ran after A's death"
echo "# login ms: max $(awk '{ print $4 }' "$R/logins" | sort -n | tail -1), p50 $(awk '{ print $4 }' "$R/logins" | sort -n | awk '{ a[NR] = $1 } END { print a[int(NR / 2) + 1] }'), max after the kill $(awk -v k="$t_kill" '$3 + $4 > k { print $4 }' "$R/logins" | sort -n | tail -1)"
byA=$(grep -c "user=failover .*source=directory .*uri=$(kk_re "$REPL_A_URI") .*result=ok" "$KB_SYSLOG")
byB=$(grep -c "user=failover .*source=directory .*uri=$(kk_re "$REPL_B_URI") .*result=ok" "$KB_SYSLOG")
echo "# logins answered by A: $byA, by B: $byB"
[ "$byA" -gt 0 ] && [ "$byB" -gt 0 ] && [ $((byA + byB)) = "$LOGINS" ] &&
    ok "logins answered by A, then by B, all from the directory" ||
    not_ok "logins answered by A: $byA, by B: $byB (of $LOGINS)"

nw=$(grep -c . "$R/writes")
late_bad=$(awk -v k="$t_kill" '$5 > k && $4 != 0' "$R/writes" | grep -c .)
check_eq "$late_bad" 0 "every write started after A's death is acknowledged"
failed=$(awk '$4 != 0' "$R/writes" | grep -c .)
echo "# $nw writes, $failed not acknowledged (in flight when A died)"
wA=$(grep -Ec "command=(attach|detach) keypair=kw .*uri=$(kk_re "$REPL_A_URI") .*result=ok" "$KB_SYSLOG")
wB=$(grep -Ec "command=(attach|detach) keypair=kw .*uri=$(kk_re "$REPL_B_URI") .*result=ok" "$KB_SYSLOG")
echo "# acknowledged writes by A: $wA, by B: $wB"
[ "$wA" -gt 0 ] && [ "$wB" -gt 0 ] && ok "writes went to A, then to B" ||
    not_ok "writes by A: $wA, by B: $wB"
check_eq "$((wA + wB))" "$((nw - failed))" \
    "every acknowledged write was logged with the provider that took it"
late_acked=$(awk -v k="$t_kill" '$5 > k && $4 == 0' "$R/writes" | grep -c .)
[ "$wB" -ge "$late_acked" ] &&
    ok "the $late_acked writes after A's death all went to B" ||
    not_ok "only $wB writes went to B, $late_acked started after A's death"

# With A down, a detach on B still reaches the consumer.
cli B detach kf "failover@test-host"
check_eq "$?" 0 "detach on B while A is down"
lag=$(repl_wait_attr C "cn=kf,$SLAPD_BASE" keyboundAttachment \
    failover@test-host absent 30) &&
    ok "it reached the consumer with A down (${lag} ms)" ||
    not_ok "a detach on B did not reach the consumer while A was down"

# --- 4. A comes back: convergence, nothing lost or resurrected ---------------
repl_restart A || fail "provider A did not start again"
t0=$(kb_ms)
if repl_wait_same 90; then
	ok "A, B and C converge after A's restart ($(($(kb_ms) - t0)) ms)"
else
	not_ok "A, B and C still differ 90 s after A's restart"
	diff "$KB_T/repl-same.A" "$KB_T/repl-same.B" >&2
	diff "$KB_T/repl-same.A" "$KB_T/repl-same.C" >&2
fi
for x in A B C; do
	repl_dump "$x" "(cn=kw)" | sed -n 's/.*\tkeyboundAttachment: //p' |
	    sort >"$KB_T/kw.$x"
done
# Expected: the acknowledged adds without the acknowledged detaches;
# values with a write that was not acknowledged may be either way.
awk '$4 != 0 { print $3 }' "$R/writes" | sort -u >"$KB_T/uncertain"
awk '$2 == "add" && $4 == 0 { print $3 }' "$R/writes" | sort -u >"$KB_T/added"
awk '$2 == "del" && $4 == 0 { print $3 }' "$R/writes" | sort -u >"$KB_T/deleted"
comm -23 "$KB_T/added" "$KB_T/deleted" | comm -23 - "$KB_T/uncertain" \
    >"$KB_T/want"
echo "# $(grep -c . "$KB_T/want") attachments expected, $(grep -c . "$KB_T/deleted") detached"
for x in A B C; do
	lost=$(comm -23 "$KB_T/want" "$KB_T/kw.$x" | grep -c .)
	back=$(comm -12 "$KB_T/deleted" "$KB_T/kw.$x" | grep -c .)
	check_eq "$lost" 0 "$x: no acknowledged attach lost"
	check_eq "$back" 0 "$x: no acknowledged detach resurrected"
	repl_dump "$x" "(cn=ka)" | grep -q "keyboundAttachment: $alice@test-host" &&
	    not_ok "$x: the detach of step 2 was resurrected" ||
	    ok "$x: the detach of step 2 holds"
	repl_dump "$x" "(cn=kf)" | grep -q "keyboundAttachment: failover@" &&
	    not_ok "$x: the detach made while A was down was resurrected" ||
	    ok "$x: the detach made while A was down holds"
done
# A accepts writes again, and they reach the others.
cli A attach kw "back@wr"
check_eq "$?" 0 "attach on A after its restart"
for x in B C; do
	repl_wait_attr "$x" "cn=kw,$SLAPD_BASE" keyboundAttachment back@wr \
	    present 30 >/dev/null && ok "it reached $x" ||
	    not_ok "a write on the restarted A did not reach $x"
done

kb_done
