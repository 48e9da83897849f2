#!/bin/bash
# cache_revocation: after a detach, no cached answer brings the key back,
# whatever state the directory is in.  keybound-keys runs as the command
# user, as sshd runs it (real sshd logins fill the cache through "%u %f").
#   - an empty USER FP answer supersedes that key's older answers;
#   - an empty USER answer supersedes the user's USER FP answers;
#   - both hold with cache_dir already holding its file limit;
#   - with the directory then down (refused, or a SIGSTOPped slapd) USER,
#     USER FP and --has-keys never print or count the detached key, and a
#     real ssh login with it is refused;
#   - 200 concurrent runs racing a detach leave no positive answer on disk;
#   - only a write that removes a key is synced to disk;
#   - crash leftovers and expired answers are pruned.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
alice=kbrv$$
kb_make_user "$alice" || fail "useradd"
kk_keygen ka && ka_pub=$KK_PUB && ka_fp=$KK_FP
kk_add_keypair ka "$KK_PUB" "$KK_FP" || fail "add ka"
kk_keygen kb2 && kb2_fp=$KK_FP
kk_add_keypair kb2 "$KK_PUB" "$KK_FP" || fail "add kb2"
dead=$(kb_free_port)

# One cache_dir per scenario; the config names it and the URI: "up" is the
# running slapd, "down" a port nothing listens on.
newcache() {
	local d
	d=$(mktemp -d "$KB_T/cache.XXXXXX")
	chown "$KB_CMD_USER:" "$d" && chmod 0700 "$d"
	echo "$d"
}
conf=$KB_T/kb.conf
set_conf() {	# up|down CACHE_DIR [TTL]
	local uri=$SLAPD_URI
	[ "$1" = down ] && uri=ldap://127.0.0.1:$dead
	kb_write_config "$conf" "uri $uri" "cache_dir $2" \
	    "cache_ttl ${3:-0}" "offline_max_age 3600" "timeout 3"
}

# keybound-keys as sshd runs it (kk_as_cmd), stdin from /dev/null.
as_cmd() {
	kk_as_cmd -c "$conf" "$@" </dev/null >"$KB_T/out" 2>/dev/null
	RC=$?
}

# Nothing of ka is served or counted: USER, USER FP, --has-keys (which
# still answers 0 when OTHERS, another key, is attached).
no_ka() {	# WHAT [OTHERS]
	as_cmd "$alice" "$ka_fp"
	check_eq "$(grep -c "${ka_pub#* }" "$KB_T/out")" 0 "$1: USER FP prints nothing"
	as_cmd "$alice"
	check_eq "$(grep -c "${ka_pub#* }" "$KB_T/out")" 0 "$1: USER prints nothing"
	if [ -n "${2:-}" ]; then
		check_eq "$RC:$(grep -c . "$KB_T/out")" 0:1 "$1: USER prints the other key"
		return
	fi
	as_cmd --has-keys "$alice"
	[ "$RC" != 0 ]
	check_eq "$?" 0 "$1: --has-keys does not count it (exit $RC)"
}

ka_served() {	# WHAT ARGS...
	local what=$1
	shift
	as_cmd "$@"
	check_eq "$RC:$(grep -c "${ka_pub#* }" "$KB_T/out")" 0:1 "$what"
}

on_disk() {	# CACHE_DIR: files holding ka's key, whatever their name
	grep -rl -- "${ka_pub#* }" "$1" 2>/dev/null | grep -c .
}

fill_cache() {	# CACHE_DIR: fresh user files up to the limit
	(cd "$1" && seq 1 10000 | xargs printf 'u-%064x\n' | xargs touch)
	chown "$KB_CMD_USER:" "$1"/u-*
}

# --- 1. logins through sshd fill the USER FP answers; detach -------------
cdir=$(newcache)
set_conf up "$cdir" 3600
kk_attach ka "$alice@test-host" || fail "attach"
sshd_start "$conf" || fail "sshd did not start"
out=$(kb_ssh_key_login "$alice" "$KB_T/ka" id -un)
check_eq "$?:$out" "0:$alice" "attached key logs in (cache filled through %u %f)"
check_eq "$(on_disk "$cdir")" 1 "the USER FP answer is cached"
kk_detach ka "$alice@test-host" || fail "detach"
ka_served "detached, within cache_ttl: the fresh cached answer is served" \
    "$alice" "$ka_fp"
set_conf up "$cdir" 0	# cache_ttl has passed
as_cmd "$alice" "$ka_fp"
check_eq "$RC:$(grep -c . "$KB_T/out")" 0:0 "directory up after detach: USER FP answer empty"
check_eq "$(on_disk "$cdir")" 0 "the empty USER FP answer removed the cached key"
set_conf down "$cdir"
no_ka "USER FP superseded, directory refused"
kb_ssh_key_login "$alice" "$KB_T/ka" 2>/dev/null
check_eq "$?" 255 "directory refused: detached key does not log in"
set_conf up "$cdir"
kill -STOP "$SLAPD_PID"
no_ka "USER FP superseded, slapd stopped"
kb_ssh_key_login "$alice" "$KB_T/ka" 2>/dev/null
check_eq "$?" 255 "slapd stopped: detached key does not log in"
kill -CONT "$SLAPD_PID"
sshd_stop

# --- 2. both forms cached; an empty USER answer supersedes both -----------
for full in no yes; do
	cdir=$(newcache)
	[ "$full" = yes ] && fill_cache "$cdir"
	what="full=$full"
	set_conf up "$cdir"
	kk_attach ka "$alice@test-host" || fail "attach"
	ka_served "$what: USER served" "$alice"
	ka_served "$what: USER FP served" "$alice" "$ka_fp"
	as_cmd --has-keys "$alice"
	check_eq "$RC" 0 "$what: --has-keys 0 while attached"
	check_eq "$(on_disk "$cdir")" 1 "$what: both answers cached (one user file)"
	kk_detach ka "$alice@test-host" || fail "detach"
	as_cmd --has-keys "$alice"
	check_eq "$RC" 3 "$what: --has-keys 3 after detach, directory up"
	check_eq "$(on_disk "$cdir")" 0 "$what: the empty USER answer removed every cached copy"
	set_conf down "$cdir"
	no_ka "$what: USER superseded, directory refused"
	as_cmd --has-keys "$alice"
	check_eq "$RC" 3 "$what: directory refused: the cached 'nothing attached' answers 3"
	[ "$full" = yes ] && check_eq "$(ls "$cdir" | grep -c '^u-')" 10001 \
	    "$what: no new file beyond the limit"

	# the same with an empty USER FP answer against a cached USER answer
	set_conf up "$cdir"
	kk_attach ka "$alice@test-host" || fail "attach"
	kk_attach kb2 "$alice@test-host" || fail "attach kb2"
	ka_served "$what: USER served again" "$alice"
	kk_detach ka "$alice@test-host" || fail "detach"
	as_cmd "$alice" "$ka_fp"
	check_eq "$RC:$(grep -c . "$KB_T/out")" 0:0 "$what: USER FP empty after detach"
	set_conf down "$cdir"
	no_ka "$what: USER FP answer took the key out of the USER answer" kb2
	as_cmd "$alice" "$kb2_fp"
	check_eq "$RC:$(grep -c . "$KB_T/out")" 0:1 "$what: the other key is still served offline"
	kk_detach kb2 "$alice@test-host" || fail "detach kb2"
done

# --- 3. 200 concurrent runs racing a detach --------------------------------
cdir=$(newcache)
set_conf up "$cdir"
kk_attach ka "$alice@test-host" || fail "attach"
race() {	# N: N runs in the background, the three query forms in turn
	local i args
	for ((i = 0; i < $1; i++)); do
		case $((i % 3)) in
		0) args=("$alice") ;;
		1) args=("$alice" "$ka_fp") ;;
		*) args=(--has-keys "$alice") ;;
		esac
		"${KK_AS_CMD[@]}" -c "$conf" "${args[@]}" \
		    </dev/null >/dev/null 2>&1 &
		racers+=($!)
	done
}
racers=()
kk_as_cmd_argv
race 100
kk_detach ka "$alice@test-host" || fail "detach"
race 100
wait "${racers[@]}"
check_eq "$(on_disk "$cdir")" 0 "200 runs racing a detach: no positive answer on disk"
check_eq "$(ls -A "$cdir" | grep -c '^\.tmp-')" 0 "no temporary file left"
busy=$(grep -c "event=cache-store-failed" "$KB_SYSLOG")
check_eq "$busy" 0 "every run recorded its answer (no lock timeouts)"
set_conf down "$cdir"
no_ka "after the race, directory refused"

# --- 4. only a write that revokes waits for the disk ----------------------
# The same answer again (a new stamp) or more keys may be lost to a crash
# without harm; an answer that removes a key must be on disk before the
# run ends.
syncs() {	# ARGS...: fsync/fdatasync calls of one run as the command user
	kk_as_cmd_argv
	strace -f -qq -e trace=fsync,fdatasync -o "$KB_T/strace" \
	    "${KK_AS_CMD[@]}" -c "$conf" "$@" </dev/null >/dev/null 2>&1
	grep -c 'sync(' "$KB_T/strace"
}
# An answer repeated unchanged is not even rewritten: no new file, no
# rename; its new stamp goes into the file's modification time
# (utimensat on its name; futimens, on a descriptor, is not counted).
writes() {	# ARGS...: renames and utimensat calls of one run
	kk_as_cmd_argv
	strace -f -qq -e trace=rename,renameat,renameat2,utimensat \
	    -o "$KB_T/strace" "${KK_AS_CMD[@]}" -c "$conf" "$@" \
	    </dev/null >/dev/null 2>&1
	printf '%s:%s' "$(grep -c 'rename' "$KB_T/strace")" \
	    "$(grep -c 'utimensat([0-9]*, "u-' "$KB_T/strace")"
}
cdir=$(newcache)
set_conf up "$cdir"
kk_attach ka "$alice@test-host" || fail "attach"
check_eq "$(writes "$alice")" 1:0 "a new answer: written and renamed into place"
check_eq "$(writes "$alice")" 0:1 "the same answer again: not rewritten, stamp in the mtime"
check_eq "$(writes "$alice")" 0:1 "and again"
check_eq "$(syncs "$alice")" 0 "the same answer again: no fsync"
check_eq "$(syncs "$alice" "$ka_fp")" 0 "a new USER FP answer: no fsync"
kk_detach ka "$alice@test-host" || fail "detach"
n=$(syncs "$alice")
[ "$n" -ge 2 ]
check_eq "$?" 0 "an answer that removes keys: file and directory synced ($n)"
check_eq "$(syncs "$alice" "$ka_fp")" 0 "nothing left to remove: no fsync"
check_eq "$(syncs "$alice")" 0 "'nothing attached' again: no fsync"
kk_attach ka "$alice@test-host" || fail "attach"
check_eq "$(syncs "$alice")" 0 "an answer with more keys: no fsync"
kk_detach ka "$alice@test-host" || fail "detach"
n=$(syncs "$alice" "$ka_fp")
[ "$n" -ge 2 ]
check_eq "$?" 0 "an empty USER FP answer taking the key out: synced ($n)"

# --- 5. pruning ------------------------------------------------------------
cdir=$(newcache)
set_conf up "$cdir"
for i in 1 2 3; do
	f=$cdir/u-$(printf '%064x' "$i")
	printf 'old\n' >"$f" && chown "$KB_CMD_USER:" "$f" && chmod 0600 "$f"
	touch -d '-2 days' "$f"
done
printf 'half' >"$cdir/.tmp-0123456789abcdef"
chown "$KB_CMD_USER:" "$cdir/.tmp-0123456789abcdef"
as_cmd --has-keys "$alice"
check_eq "$RC" 3 "a lookup with old files present"
check_eq "$(ls -A "$cdir" | grep -c '^u-')" 1 "answers older than offline_max_age are pruned"
check_eq "$(ls -A "$cdir" | grep -c '^\.tmp-')" 0 "temporary files left by a crash are pruned"

kb_done
