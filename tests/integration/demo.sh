#!/bin/bash
# demo.sh - `make demo` runs non-interactively, every step of its
# transcript reports the documented outcome, in order, and it leaves
# nothing behind: no server it started, no demo user, no temporary file.
. "$KB_SRC/tests/lib/common.sh"

[ "$(id -u)" = 0 ] || skip "make demo needs root"
for f in keybound keybound-keys pam_keybound.so; do
	[ -e "$KB_BUILD/$f" ] || skip "$f not built yet"
done
kb_tmpdir

# Through make, as a user would run it (deps and all are already done).
start=$(kb_ms)
make -s -C "$KB_SRC" B="$KB_BUILD" demo </dev/null >"$KB_T/transcript" 2>&1
rc=$?
elapsed=$(( $(kb_ms) - start ))
sed 's/^/  | /' "$KB_T/transcript"
check_eq "$rc" 0 "make demo exits 0 (${elapsed} ms)"

# Every outcome the story promises, in this order.
expected=(
	"[ok] slapd started"
	"[ok] sample key pairs loaded"
	"[ok] pam_keybound.so built"
	"[ok] local user "
	"[ok] sshd started"
	"[ok] password login accepted (nothing attached yet)"
	"[ok] key pair demo-key created"
	"[ok] private key "
	"[ok] keybound show lists the new key pair"
	"[ok] the directory holds the public key of the private key file"
	"[ok] key login refused (not attached yet)"
	"[ok] key pair attached to "
	"[ok] keybound-keys serves the key"
	"[ok] key login succeeded"
	"[ok] password login refused with the correct password"
	"[ok] keyboard-interactive login refused with the correct password"
	"[ok] keybound check agrees: password login refused"
	"[ok] delete refused while attached"
	"[ok] key pair detached"
	"[ok] key login refused after detach"
	"[ok] password login accepted again"
	"[ok] no restart: slapd and sshd still the same processes"
	"[ok] key pair deleted"
	"[ok] the key pair is gone from the directory"
	"[ok] demo complete: all "
)
line=0
for m in "${expected[@]}"; do
	n=$(grep -nF -- "$m" "$KB_T/transcript" | head -n 1 | cut -d: -f1)
	if [ -z "$n" ]; then
		not_ok "transcript lacks: $m"
	elif [ "$n" -le "$line" ]; then
		not_ok "out of order (line $n): $m"
	else
		ok "line $n: $m"
		line=$n
	fi
done
check_eq "$(grep -c '^\[FAIL\]' "$KB_T/transcript")" 0 "no [FAIL] line"
check_eq "$(grep -c '^\[ok\]' "$KB_T/transcript")" "${#expected[@]}" \
    "exactly the expected [ok] lines"
grep -q '^  \$ keybound create demo-key -o ' "$KB_T/transcript" &&
    grep -q '^  \$ ssh -i ' "$KB_T/transcript" &&
    grep -q '^  \$ keybound detach demo-key ' "$KB_T/transcript" &&
    ok "each step prints the command it ran" ||
    not_ok "commands missing from the transcript"

# Nothing left behind.
user=$(sed -n 's/^\[ok\] local user \([^ ]*\) created.*/\1/p' "$KB_T/transcript")
[ -n "$user" ] && ! getent passwd "$user" >/dev/null &&
    ok "demo user $user removed" || not_ok "demo user ${user:-?} still exists"
workdir=$(sed -n 's/^  work dir: //p' "$KB_T/transcript")
[ -n "$workdir" ] && [ ! -e "$workdir" ] &&
    ok "work dir removed" || not_ok "work dir ${workdir:-?} left behind"
helper=$(sed -n 's/^\[ok\] pam_keybound.so built to run //p' "$KB_T/transcript")
[ -n "$helper" ] && [ ! -e "$(dirname "$helper")" ] &&
    ok "installed keybound-keys removed" ||
    not_ok "keybound-keys dir ${helper:-?} left behind"
for p in $(sed -n 's/^\[ok\] [a-z]* started: pid \([0-9]*\),.*/\1/p' \
    "$KB_T/transcript"); do
	kill -0 "$p" 2>/dev/null && not_ok "process $p still running" ||
	    ok "process $p stopped"
done

# Ctrl-C half way: the same cleanup.  With job control on, the demo runs
# in its own process group with SIGINT at its default (a non-interactive
# shell would start it with SIGINT ignored), and the signal goes to the
# whole group, as a terminal's Ctrl-C does.
set -m
bash "$KB_SRC/tests/demo.sh" </dev/null >"$KB_T/interrupted" 2>&1 &
pid=$!
set +m
for _ in $(seq 1 600); do
	grep -q '^\[ok\] sshd started' "$KB_T/interrupted" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
grep -q '^\[ok\] sshd started' "$KB_T/interrupted" ||
    not_ok "interrupted run did not get as far as sshd"
kill -INT -- -"$pid" 2>/dev/null
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	not_ok "demo did not stop on SIGINT"
	kill -KILL -- -"$pid" 2>/dev/null
fi
wait "$pid" 2>/dev/null
rc=$?
[ "$rc" -ne 0 ] && ok "interrupted demo exits non-zero ($rc)" ||
    not_ok "interrupted demo exited 0"
user=$(sed -n 's/^\[ok\] local user \([^ ]*\) created.*/\1/p' "$KB_T/interrupted")
[ -n "$user" ] && ! getent passwd "$user" >/dev/null &&
    ok "after Ctrl-C: demo user removed" ||
    not_ok "after Ctrl-C: demo user ${user:-?} still exists"
workdir=$(sed -n 's/^  work dir: //p' "$KB_T/interrupted")
[ -n "$workdir" ] && [ ! -e "$workdir" ] &&
    ok "after Ctrl-C: work dir removed" ||
    not_ok "after Ctrl-C: work dir ${workdir:-?} left behind"
for p in $(sed -n 's/^\[ok\] [a-z]* started: pid \([0-9]*\),.*/\1/p' \
    "$KB_T/interrupted"); do
	kill -0 "$p" 2>/dev/null && not_ok "after Ctrl-C: process $p still running" ||
	    ok "after Ctrl-C: process $p stopped"
done

kb_done
