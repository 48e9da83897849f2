#!/bin/bash
# bench/revocation.sh - `make bench-revocation`: how long after `detach` a
# key stops being served, with the directory up, down and flapping, for
# the three questions sshd and PAM ask (USER, USER FINGERPRINT,
# --has-keys).
#
# A throwaway slapd on loopback, keybound-keys run as the command user
# every 100 ms.  Each row: attach, ask all three questions (the cache now
# holds every form), then take the directory down (a port nothing listens
# on) or start flapping it (1 s up, 1 s down), detach, and poll until the
# key is no longer served; then poll 20 more times and count any answer
# that brings it back.
#
# The same run against the previous cache (one file per query,
# second-granularity stamps, empty fingerprint answers never stored)
# served the detached key again in 10 of 20 polls of the flapping USER FP
# row: each time the directory was down, the older positive answer came
# back.
#
# Knobs: REV_TTL=2 (cache_ttl), REV_OFFLINE=6 (offline_max_age).  The
# times scale with them: read "up" as cache_ttl, "down" as offline_max_age.
set -u

KB_SRC=$(cd "$(dirname "$0")/.." && pwd)
: "${KB_BUILD:=$KB_SRC/build}"
export KB_SRC KB_BUILD
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
[ "$(id -u)" = 0 ] || { echo "revocation: needs root" >&2; exit 77; }
kb_private_syslog "$@"

: "${REV_TTL:=2}" "${REV_OFFLINE:=6}"
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
user=kbrev$$
kk_keygen ka && ka_pub=$KK_PUB && ka_fp=$KK_FP
kk_add_keypair ka "$KK_PUB" "$KK_FP" || fail "add ka"
dead=$(kb_free_port)
conf=$KB_T/kb.conf

write_conf() {	# up|down CACHE_DIR: replaced atomically
	local uri=$SLAPD_URI
	[ "$1" = down ] && uri=ldap://127.0.0.1:$dead
	kb_write_config "$conf.new" "uri $uri" "cache_dir $2" \
	    "cache_ttl $REV_TTL" "offline_max_age $REV_OFFLINE" \
	    "timeout 3" "network_timeout 1"
	mv -f "$conf.new" "$conf"
}

served() {	# QUESTION: 0 if the key is served (counted)
	local out rc
	case $1 in
	USER) set -- "$user" ;;
	USER-FP) set -- "$user" "$ka_fp" ;;
	has-keys) set -- --has-keys "$user" ;;
	esac
	out=$(setpriv --reuid="$KB_CMD_USER" --regid="$KB_CMD_USER" \
	    --clear-groups env -i "$KB_KEYS_CMD" -c "$conf" "$@" </dev/null \
	    2>/dev/null)
	rc=$?
	if [ "$1" = --has-keys ]; then
		[ "$rc" = 0 ]
	else
		printf '%s\n' "$out" | grep -qF "${ka_pub#* }"
	fi
}

flapper=
flap() {	# CACHE_DIR: toggle up/down every second until killed
	while :; do
		write_conf down "$1"; sleep 1
		write_conf up "$1"; sleep 1
	done
}

row() {	# MODE QUESTION
	local mode=$1 q=$2 cdir t0 ms=-1 back=0 i limit
	cdir=$(mktemp -d "$KB_T/cache.XXXXXX")
	chown "$KB_CMD_USER:" "$cdir" && chmod 0700 "$cdir"
	write_conf up "$cdir"
	kk_attach ka "$user@test-host" || fail "attach"
	served USER; served USER-FP; served has-keys
	case $mode in
	down) write_conf down "$cdir" ;;
	flapping) flap "$cdir" & flapper=$! ;;
	esac
	kk_detach ka "$user@test-host" || fail "detach"
	t0=$(kb_ms)
	limit=$(((REV_OFFLINE + 5) * 1000))
	while [ $(($(kb_ms) - t0)) -lt "$limit" ]; do
		if ! served "$q"; then
			ms=$(($(kb_ms) - t0))
			break
		fi
		sleep 0.1
	done
	for ((i = 0; i < 20; i++)); do
		served "$q" && back=$((back + 1))
		sleep 0.1
	done
	if [ -n "$flapper" ]; then
		kill "$flapper"; wait "$flapper" 2>/dev/null; flapper=
	fi
	printf '| %-8s | %-8s | %9s | %5s |\n' "$mode" "$q" \
	    "$([ "$ms" -ge 0 ] && echo "$ms" || echo never)" "$back"
}

printf 'cache_ttl %s, offline_max_age %s, polled every 100 ms\n\n' \
    "$REV_TTL" "$REV_OFFLINE"
printf '| %-8s | %-8s | %9s | %5s |\n' directory question "refused ms" back
printf '|----------|----------|-----------|-------|\n'
for mode in up down flapping; do
	for q in USER USER-FP has-keys; do
		row "$mode" "$q"
	done
done
