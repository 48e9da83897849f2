#!/bin/bash
# keycmd_tty: keybound-keys run by hand is a diagnostic.  With stderr on a
# terminal, a run that serves nothing prints its one-line reason there
# (the syslog decision line); with stderr elsewhere (sshd, the PAM
# module) nothing goes to stderr.  --help prints the usage on stdout and
# exits 0 without reading the config, asking anything or logging.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
command -v script >/dev/null || skip "script(1) not installed (util-linux)"
kb_private_syslog "$@"
# Terminals of our own in the private /dev.
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 kbpts /dev/pts &&
    mount --bind /dev/pts/ptmx /dev/ptmx || fail "no private devpts"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
kk_keygen ka
kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add ka"

# A directory whose certificate is signed by another CA: StartTLS fails,
# so keybound-keys prints no key and exits 1.
bad=$KB_T/bad.conf
kb_write_config "$bad" "starttls yes" "tls_cacert $KB_OTHER_CA_CERT" \
    "cache_dir $KB_CACHE_DIR"
good=$KB_T/good.conf
kb_write_config "$good" "cache_dir $KB_CACHE_DIR"

# on_tty OUT CMD...: run CMD with stdin, stdout and stderr on a fresh
# terminal, stdout then sent to OUT; what reached the terminal is in
# $KB_T/tty, the status in RC.
on_tty() {
	local out=$1 q
	shift
	printf -v q '%q ' "$@"
	script -qec "$q >$out" /dev/null </dev/null >"$KB_T/tty" 2>&1
	RC=$?
	tr -d '\r' <"$KB_T/tty" >"$KB_T/tty.txt"
}

lines_before=$(grep -c 'keybound-keys\[' "$KB_SYSLOG")

# 1. By hand, from a terminal: the reason on stderr, one line.
on_tty "$KB_T/out" "$KB_KEYS_CMD" -c "$bad" alice
check_eq "$RC" 1 "no answer: exit 1"
check_eq "$(wc -c <"$KB_T/out")" 0 "no key printed"
check_eq "$(grep -c . "$KB_T/tty.txt")" 1 "one line on the terminal"
grep -Eq '^keybound-keys: user=alice instance=test-host .*result=unavailable error=' \
    "$KB_T/tty.txt" && ok "the line says why: $(cat "$KB_T/tty.txt")" ||
    not_ok "terminal shows: $(cat "$KB_T/tty.txt")"
kb_syslog_wait 'keybound-keys\[[0-9]+\]: user=alice .*result=unavailable' ||
    not_ok "no decision line in syslog"
# the terminal line is the syslog line
logged=$(grep 'keybound-keys\[[0-9]*\]: user=alice .*result=unavailable' \
    "$KB_SYSLOG" | tail -n 1 | sed 's/.*keybound-keys\[[0-9]*\]: //')
check_eq "$(sed 's/^keybound-keys: //' "$KB_T/tty.txt")" "$logged" \
    "the terminal line is the syslog decision line"

# As sshd runs it (stderr not a terminal): nothing on stderr.
kk_as_cmd -c "$bad" alice </dev/null >"$KB_T/out" 2>"$KB_T/err"
check_eq "$?" 1 "as the command user: exit 1"
check_eq "$(wc -c <"$KB_T/err")" 0 "stderr not a terminal: nothing on it"

# An invalid user name from a terminal: the reason too.
on_tty "$KB_T/out" "$KB_KEYS_CMD" -c "$bad" -x
check_eq "$RC" 2 "invalid user: exit 2"
grep -q 'result=invalid-user' "$KB_T/tty.txt" &&
    ok "invalid user: reason on the terminal" ||
    not_ok "invalid user: terminal shows: $(cat "$KB_T/tty.txt")"

# A good answer from a terminal prints the keys and nothing on stderr.
on_tty "$KB_T/out" "$KB_KEYS_CMD" -c "$good" alice
check_eq "$RC" 0 "good answer: exit 0"
check_eq "$(grep -c 'keybound:ka$' "$KB_T/out")" 1 "the key on stdout"
check_eq "$(grep -c . "$KB_T/tty.txt")" 0 "nothing on the terminal"

# 2. --help: usage on stdout, exit 0, no lookup, no log line.
searches=$(slapd_count_searches)
on_tty "$KB_T/out" "$KB_KEYS_CMD" --help
check_eq "$RC" 0 "--help exits 0"
grep -q '^usage: keybound-keys \[-c FILE\] USER \[FINGERPRINT\]$' "$KB_T/out" &&
    ok "--help prints the usage on stdout" ||
    not_ok "--help printed: $(cat "$KB_T/out")"
check_eq "$(grep -c . "$KB_T/tty.txt")" 0 "--help: nothing on stderr"
"$KB_KEYS_CMD" --help </dev/null >/dev/null 2>&1
check_eq "$?" 0 "--help without a terminal exits 0 too"
# A last run as a barrier: its line arrives after any --help line would.
"$KB_KEYS_CMD" -c "$good" -barrier >/dev/null 2>&1
kb_syslog_wait 'user=-barrier' || not_ok "no barrier line"
grep -q 'user=--help' "$KB_SYSLOG" && not_ok "--help was logged as a user" ||
    ok "--help logged nothing"
check_eq "$(($(grep -c 'keybound-keys\[' "$KB_SYSLOG") - lines_before))" 6 \
    "five runs, six lines: bad, as the command user, invalid, good (and its served key), barrier"
check_eq "$(slapd_count_searches)" "$searches" "--help asked nothing"

kb_done
