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

sshdexec=$KB_BUILD/tests/tools/kb-sshdexec
as_cmd() {	# CONF OUT ARGS...
	local conf=$1 out=$2
	shift 2
	"$sshdexec" setpriv --reuid="$KB_CMD_USER" --regid="$KB_CMD_USER" \
	    --clear-groups env -i PATH=/usr/bin:/bin "$KB_KEYS_CMD" -c "$conf" \
	    "$@" </dev/null >"$out" 2>/dev/null
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

kb_done
