#!/bin/bash
# pam_resources: pam_keybound.so leaves its host as it found it.  10,000
# pam_authenticate calls in one process (fast helper): descriptor count
# unchanged, no child left, SIGCHLD disposition and signal mask restored;
# the same under valgrind with zero definite leaks; with 1,100 descriptors
# open the module still works and the helper sees only 0-2 (on /dev/null),
# the clean environment and the documented argv.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/pam.sh"
kb_private_syslog "$@"

pam_build_module || fail "cannot build the test module"
# The module refuses names that are no account before running the helper:
# the rounds below run as an account that exists, this script's own.
acct=$(id -un) && [ -n "$acct" ] || fail "no account name for uid $(id -u)"
confdir=$KB_T/pam.d
pam_write_service "$confdir" kbres "" "auth required pam_permit.so" ||
    fail "cannot write the PAM service"

# The fake's "check" mode must really catch what it claims to catch.  The
# controls run in a subshell that first closes whatever this script
# inherited beyond 0-2.
pam_helper_fake check
fake_check() {
	(
		for fd in $(ls /proc/$BASHPID/fd); do
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		[ "$1" = --extra-fd ] && shift && exec 7</dev/null
		exec env -i PATH=/usr/bin:/bin "$@" </dev/null >/dev/null 2>&1
	)
}
fake_check --extra-fd "$KB_PAM_HELPER" -c /etc/kb.conf --has-keys alice
check_eq "$?" 40 "control: an extra descriptor in the helper is detected"
fake_check X=1 "$KB_PAM_HELPER" -c /etc/kb.conf --has-keys alice
check_eq "$?" 41 "control: an extra environment variable is detected"
fake_check "$KB_PAM_HELPER" -c /etc/kb.conf --has-keys -alice
check_eq "$?" 42 "control: a wrong argv is detected"
fake_check "$KB_PAM_HELPER" -c /etc/kb.conf --has-keys alice
check_eq "$?" 3 "control: the clean case passes"

# 10,000 calls, helper checking its descriptors, environment and argv.
out=$("$KB_PAMTEST" -d "$confdir" -s kbres -n 10000 -e PAM_SUCCESS -S \
    "$acct")
rc=$?
echo "$out"
check_eq "$rc" 0 "10,000 calls in one process: every check held"
[ "$rc" = 0 ] ||
    grep pam_keybound "$KB_SYSLOG" | grep -v decision=ignore | head >&2
check_eq "$(grep '^PAM_SUCCESS ' <<<"$out")" "PAM_SUCCESS 10000" \
    "10,000 helper runs answered 'not attached' (helper saw only 0-2)"
grep -q '^signals: restored$' <<<"$out" &&
    ok "SIGCHLD handler and signal mask restored" ||
    not_ok "signal state changed"
grep -q '^children: none$' <<<"$out" && ok "no child left behind" ||
    not_ok "child left behind"
b=$(sed -n 's/^fds before=\([0-9]*\) after=.*/\1/p' <<<"$out")
a=$(sed -n 's/^fds before=[0-9]* after=\([0-9]*\)/\1/p' <<<"$out")
[ -n "$b" ] && check_eq "$a" "$b" "descriptor count unchanged ($b)" ||
    not_ok "no descriptor count"

# 1,100 descriptors already open (not close-on-exec).
out=$("$KB_PAMTEST" -d "$confdir" -s kbres -n 200 -e PAM_SUCCESS -S \
    -F 1100 "$acct")
rc=$?
echo "$out"
check_eq "$rc" 0 "with 1,100 open descriptors: every check held"
check_eq "$(grep '^PAM_SUCCESS ' <<<"$out")" "PAM_SUCCESS 200" \
    "with 1,100 open descriptors the helper still sees only 0-2"

# Host with stdin closed: the child still gets /dev/null on 0.
out=$("$KB_PAMTEST" -d "$confdir" -s kbres "$acct" 0<&-)
check_eq "$out" PAM_SUCCESS "host without stdin: helper still gets 0-2"

# An attached answer through the same path (sanity for the loop above).
pam_helper_fake "exit 0"
out=$("$KB_PAMTEST" -d "$confdir" -s kbres -n 100 -e PAM_AUTH_ERR \
    "$acct")
check_eq "$?" 0 "100 'attached' answers: PAM_AUTH_ERR every time"

# valgrind: zero errors, zero definite leaks over 200 rounds.
pam_helper_fake check
if command -v valgrind >/dev/null; then
	valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	    "$KB_PAMTEST" -d "$confdir" -s kbres -n 200 -e PAM_SUCCESS -S \
	    "$acct" >"$KB_T/vg.out" 2>"$KB_T/vg.err"
	rc=$?
	grep -v 'syscall: 434\|write your own handler\|README_MISSING\|Nevertheless we\|valgrind.org/support' \
	    "$KB_T/vg.err" >&2
	cat "$KB_T/vg.out"
	check_eq "$rc" 0 "valgrind: 200 rounds, zero errors and definite leaks"
	check_eq "$(grep '^PAM_SUCCESS ' "$KB_T/vg.out")" "PAM_SUCCESS 200" \
	    "valgrind: every round answered"
else
	not_ok "valgrind not installed"
fi

kb_done
