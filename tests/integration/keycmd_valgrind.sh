#!/bin/bash
# keycmd_valgrind: keybound-keys under valgrind --track-fds=yes on every
# path (directory, %f, --has-keys, cache hit, offline cache, directory
# down, invalid user, bad config, hostile data): zero errors, zero definite
# leaks, no descriptor beyond 0-2 open at exit.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

command -v valgrind >/dev/null || skip "valgrind not installed"
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" "timeout 10" \
    "network_timeout 5"
conf_ttl=$KB_T/ttl.conf
kb_write_config "$conf_ttl" "cache_dir $KB_CACHE_DIR" "cache_ttl 60" \
    "timeout 10" "network_timeout 5"
conf_tls=$KB_T/tls.conf
kb_write_config "$conf_tls" "uri $SLAPD_URI" "starttls yes" \
    "tls_cacert $KB_CA_CERT" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "timeout 10" "network_timeout 5"
kk_keygen ka && ka_fp=$KK_FP
kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" \
    -- "keyboundKeyOptions: restrict,environment=\"X=y\"" \
    "keyboundNotAfter: 20991231235959Z" || fail "add ka"
kk_keygen kr rsa 1024
kk_add_keypair kr "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add kr"

# vg WANT-STATUS LABEL ARGS...: one run under valgrind, everything checked
vg() {
	local want=$1 label=$2 log=$KB_T/vg.log rc
	shift 2
	rm -f "$log"
	valgrind -q --track-fds=yes --leak-check=full \
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	    --error-exitcode=99 --log-file="$log" \
	    "$KB_KEYS_CMD" "$@" >"$KB_T/vg.out" 2>/dev/null
	rc=$?
	check_eq "$rc" "$want" "$label: exit $want, no valgrind error"
	grep -q 'ERROR SUMMARY: [1-9]\|definitely lost: [1-9]' "$log"
	check_eq "$?" 1 "$label: zero errors, zero definite leaks"
	if grep -q 'FILE DESCRIPTORS' "$log"; then
		grep -q 'FILE DESCRIPTORS: 3 open (3 std) at exit' "$log"
		check_eq "$?" 0 "$label: only 0-2 open at exit"
	else
		ok "$label: only 0-2 open at exit (nothing reported)"
	fi
	[ "$rc" = "$want" ] || cat "$log"
}

vg 0 "directory" -c "$conf" alice
check_eq "$(grep -c . "$KB_T/vg.out")" 1 "directory: one key (the RSA-1024 one skipped)"
vg 0 "directory, StartTLS" -c "$conf_tls" alice
vg 0 "%f" -c "$conf" alice "$ka_fp"
vg 0 "--has-keys attached" -c "$conf" --has-keys alice
vg 3 "--has-keys none" -c "$conf" --has-keys bob
vg 0 "cache hit" -c "$conf_ttl" alice
vg 0 "cache hit, second call" -c "$conf_ttl" alice
vg 2 "invalid user" -c "$conf" -- "-x"
vg 2 "usage" -c "$conf"
printf 'uri %s\nbogus 1\n' "$SLAPD_URI" >"$KB_T/bad.conf"
vg 2 "bad config" -c "$KB_T/bad.conf" alice
# Extra descriptors inherited from the caller are closed at start.
exec 7</dev/null 8>/dev/null
vg 0 "inherited descriptors" -c "$conf" alice
exec 7<&- 8>&-
slapd_stop
vg 0 "offline cache" -c "$conf" alice
check_eq "$(grep -c . "$KB_T/vg.out")" 1 "offline cache: the key"
vg 1 "directory down, no cache" -c "$conf" carol
vg 1 "--has-keys directory down, no cache" -c "$conf" --has-keys carol

kb_done
