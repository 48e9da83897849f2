#!/bin/bash
# admin_unit: the admin CLI's pure parts (admin-selftest: JSON and terminal
# escaping, time parsing, key generation, bcrypt_pbkdf) plain, under
# ASan/UBSan and under valgrind; then the keybound binary itself under
# valgrind for one pass of every command against a throwaway slapd: zero
# errors, zero definite leaks, no descriptor left open beyond 0-2.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

t=$KB_BUILD/tests/tools/admin-selftest
[ -x "$t" ] || fail "admin-selftest not built"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
kb_tmpdir

"$t" >"$KB_T/unit.log" 2>&1
check_eq "$?" 0 "admin-selftest: $(tail -n 1 "$KB_T/unit.log")"

asan=$KB_BUILD/asan/tests/tools/admin-selftest
if [ -x "$asan" ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$asan" >"$KB_T/asan.log" 2>&1
	check_eq "$?" 0 "admin-selftest under ASan/UBSan"
else
	echo "note: no ASan build in $KB_BUILD/asan (make check builds it)"
fi

if command -v valgrind >/dev/null; then
	KB_UNDER_VALGRIND=1 valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	    "$t" >"$KB_T/vg.log" 2>&1
	rc=$?
	check_eq "$rc" 0 "admin-selftest under valgrind"
	[ "$rc" = 0 ] || tail -n 30 "$KB_T/vg.log" >&2
else
	skip "valgrind missing"
fi

slapd_start || fail "slapd did not start"
conf=$KB_T/kb.conf
kb_write_config "$conf"
K=$KB_T/keys
mkdir -m 0700 "$K"
(umask 077 && echo phrase >"$KB_T/phrase")

# vg ARGS...: keybound under valgrind; fails on errors, leaks, stray fds.
vg() {
	local log=$KB_T/vg-$1.log rc
	KB_UNDER_VALGRIND=1 valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	    --track-fds=yes --log-file="$log" \
	    "$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" \
	    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" "$@" \
	    >"$KB_T/out" 2>"$KB_T/err"
	rc=$?
	# valgrind lists the descriptors open at exit: besides 0-2, only
	# those inherited from the test harness may remain
	if awk '/Open file descriptor [0-9]+/ && !/descriptor [012]:/ {
		getline nxt; if (nxt !~ /inherited from parent/) bad = 1 }
	    END { exit !bad }' "$log"; then
		echo "descriptors left open:" >&2
		grep -A2 'Open file descriptor' "$log" >&2
		rc=98
	fi
	case $rc in 98|99) cat "$log" "$KB_T/err" >&2 ;; esac
	return $rc
}
vg create vged -o "$K/vged" --passphrase-file "$KB_T/phrase"
check_eq "$?" 0 "valgrind: create (Ed25519, encrypted)"
vg create vgec -t ecdsa -o "$K/vgec"
check_eq "$?" 0 "valgrind: create (ECDSA)"
ssh-keygen -y -f "$K/vgec" >"$K/vgec.pub"
vg import vgimp --allow-duplicate "$K/vgec.pub"
check_eq "$?" 0 "valgrind: import"
vg attach vged a@test-host b@test-host
check_eq "$?" 0 "valgrind: attach"
vg attach vgec a@test-host --replace --json
check_eq "$?" 0 "valgrind: attach --replace"
vg set vged --expires 2030-01-01T00:00:00Z --options restrict \
    --description text
check_eq "$?" 0 "valgrind: set"
vg list --json
check_eq "$?" 0 "valgrind: list --json"
vg list --attached-to b@test-host
check_eq "$?" 0 "valgrind: list --attached-to"
vg show vged
check_eq "$?" 0 "valgrind: show"
vg check b@test-host --json
check_eq "$?" 0 "valgrind: check"
vg delete vged
check_eq "$?" 4 "valgrind: delete refused while attached: exit 4"
vg detach vged --all
check_eq "$?" 0 "valgrind: detach --all"
vg delete vged
check_eq "$?" 0 "valgrind: delete"
vg show nosuch
check_eq "$?" 3 "valgrind: failure path: exit 3"
vg create bad,name -o "$K/x"
check_eq "$?" 2 "valgrind: invalid name path: exit 2"
# signed entries: a signing key, every signing path once
vg signer create -o "$K/signer"
check_eq "$?" 0 "valgrind: signer create"
vg -S "$K/signer" attach vgec s@test-host
check_eq "$?" 1 "valgrind: a signed write to an unsigned pair refused: exit 1"
vg -S "$K/signer" resign vgec
check_eq "$?" 0 "valgrind: resign NAME"
vg -S "$K/signer" attach vgec s@test-host
check_eq "$?" 0 "valgrind: attach signed (-S FILE)"
vg -S "$K/signer" detach vgec s@test-host
check_eq "$?" 0 "valgrind: detach signed (tombstone)"
vg -S "$K/signer" group create vgg
check_eq "$?" 0 "valgrind: group create signed"
vg -S "$K/signer" group add vgg h1 h2
vg -S "$K/signer" group remove vgg h2
check_eq "$?" 0 "valgrind: group remove signed (tombstone)"
vg -S "$K/signer" prune
check_eq "$?" 0 "valgrind: prune signed"
vg -S "$K/signer" resign --all
check_eq "$?" 0 "valgrind: resign --all"
vg verify --json
check_eq "$?" 0 "valgrind: verify --json"
vg verify vgec vgg
check_eq "$?" 0 "valgrind: verify NAME..."
ssh-keygen -q -t ed25519 -N secret -C '' -f "$K/encsigner"
vg -S "$K/encsigner" attach vgec t@test-host
check_eq "$?" 2 "valgrind: encrypted signing key refused: exit 2"

kb_done
