#!/bin/bash
# cache_offline_stale: a run that read an offline-only cached answer
# before a detach was recorded must not serve it after the record.
#   - the cache holds alice's answer with ka, past cache_ttl (offline only);
#   - ka is detached;
#   - run X starts against a directory that never answers: it reads the
#     cache, then waits for its deadline;
#   - run B asks the healthy directory and records "nothing attached";
#   - X's deadline comes: it must not print ka (the cache no longer holds
#     it by then).
# And a run whose first URI accepts but never answers asks the second URI
# after a detach; its empty answer must supersede an answer another run
# got before the detach, although that run started later.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
alice=kbos$$
kb_make_user "$alice" || fail "useradd"
kk_keygen ka && ka_pub=$KK_PUB && ka_fp=$KK_FP
kk_add_keypair ka "$KK_PUB" "$KK_FP" || fail "add ka"

bh=$(kb_free_port)
"$KB_BUILD/tests/tools/kb-blackhole" "$bh" >"$KB_T/bh.out" 2>&1 &
kb_kill_at_exit $!
kb_wait_port "$bh" 5 || fail "blackhole did not start"

cdir=$(mktemp -d "$KB_T/cache.XXXXXX")
chown "$KB_CMD_USER:" "$cdir" && chmod 0700 "$cdir"
# cache_ttl 0: every cached answer is usable only offline
up=$KB_T/up.conf
kb_write_config "$up" "uri $SLAPD_URI" "cache_dir $cdir" "cache_ttl 0" \
    "offline_max_age 3600" "timeout 5"
# X's deadline: long enough for B to finish first on a loaded machine
stalled=$KB_T/stalled.conf
kb_write_config "$stalled" "uri ldap://127.0.0.1:$bh" "cache_dir $cdir" \
    "cache_ttl 0" "offline_max_age 3600" "timeout 20" "network_timeout 20"

as_cmd() {	# CONF OUT ARGS...
	local conf=$1 out=$2
	shift 2
	kk_as_cmd -c "$conf" "$@" </dev/null >"$out" 2>/dev/null
}
on_disk() { grep -rl -- "${ka_pub#* }" "$cdir" 2>/dev/null | grep -c .; }

kk_attach ka "$alice@test-host" || fail "attach"
as_cmd "$up" "$KB_T/out0" "$alice"
check_eq "$?:$(grep -c "${ka_pub#* }" "$KB_T/out0")" 0:1 "attached: served"
check_eq "$(on_disk)" 1 "the answer with ka is cached"
kk_detach ka "$alice@test-host" || fail "detach"

for mode in user fp; do
	args=("$alice")
	[ "$mode" = fp ] && args=("$alice" "$ka_fp")
	# refill the cache with the pre-detach answer for this round
	if [ "$mode" = fp ]; then
		kk_attach ka "$alice@test-host" || fail "attach"
		as_cmd "$up" "$KB_T/out0" "$alice"
		kk_detach ka "$alice@test-host" || fail "detach"
	fi
	check_eq "$(on_disk)" 1 "$mode: ka cached before the detach is recorded"

	# X: reads the cache (offline answer with ka), then hangs on the
	# black hole; its connection there shows it is past the cache read
	as_cmd "$stalled" "$KB_T/outX" "${args[@]}" &
	xpid=$!
	kb_kill_at_exit "$xpid"
	for ((i = 0; i < 200; i++)); do
		ss -Htn state established "( dport = :$bh )" | grep -q . && break
		sleep 0.05
	done
	ss -Htn state established "( dport = :$bh )" | grep -q .
	check_eq "$?" 0 "$mode: X reached the stalled directory"

	# B: the directory answers; the empty answer is recorded
	as_cmd "$up" "$KB_T/outB" "${args[@]}"
	check_eq "$?:$(grep -c . "$KB_T/outB")" 0:0 "$mode: B: nothing attached"
	check_eq "$(on_disk)" 0 "$mode: B's empty answer removed ka from the cache"
	kill -0 "$xpid" 2>/dev/null
	check_eq "$?" 0 "$mode: X still waiting when B's answer was recorded"

	wait "$xpid"
	check_eq "$(grep -c "${ka_pub#* }" "$KB_T/outX")" 0 \
	    "$mode: X at its deadline does not serve the key B's answer revoked"
done

# --- an answer from the failover URI carries the first URI's stamp -------
dead=$(kb_free_port)
cdir=$(mktemp -d "$KB_T/cache.XXXXXX")
chown "$KB_CMD_USER:" "$cdir" && chmod 0700 "$cdir"
fo=$KB_T/failover.conf
kb_write_config "$fo" "uri ldap://127.0.0.1:$bh $SLAPD_URI" "cache_dir $cdir" \
    "cache_ttl 0" "offline_max_age 3600" "timeout 20" "network_timeout 5"
up=$KB_T/up2.conf
kb_write_config "$up" "uri $SLAPD_URI" "cache_dir $cdir" "cache_ttl 0" \
    "offline_max_age 3600" "timeout 5"
down=$KB_T/down.conf
kb_write_config "$down" "uri ldap://127.0.0.1:$dead" "cache_dir $cdir" \
    "cache_ttl 0" "offline_max_age 3600" "timeout 5"
kk_attach ka "$alice@test-host" || fail "attach"

# B stamps its answer, then waits network_timeout on the black hole
as_cmd "$fo" "$KB_T/outB" "$alice" &
bpid=$!
kb_kill_at_exit "$bpid"
for ((i = 0; i < 200; i++)); do
	ss -Htn state established "( dport = :$bh )" | grep -q . && break
	sleep 0.05
done
ss -Htn state established "( dport = :$bh )" | grep -q .
check_eq "$?" 0 "failover: B waits on the black hole"
# A asks the directory after B started, before the detach
as_cmd "$up" "$KB_T/outA" "$alice"
check_eq "$?:$(grep -c "${ka_pub#* }" "$KB_T/outA")" 0:1 "failover: A served ka"
kk_detach ka "$alice@test-host" || fail "detach"
kill -0 "$bpid" 2>/dev/null
check_eq "$?" 0 "failover: B still on the black hole after the detach"
wait "$bpid"
check_eq "$?:$(grep -c . "$KB_T/outB")" 0:0 \
    "failover: B asked the second URI after the detach: nothing attached"
# the directory goes away: B's answer is the newest the directory gave
as_cmd "$down" "$KB_T/outD" "$alice"
check_eq "$(grep -c "${ka_pub#* }" "$KB_T/outD")" 0 \
    "failover: directory down, the key B's answer revoked is not served offline"
check_eq "$(on_disk)" 0 "failover: no answer with ka left on disk"

kb_done
