#!/bin/bash
# tests/demo.sh - what `make demo` runs: keybound's whole story on loopback.
#
# As root on a Debian 12 machine (make demo installs the packages first):
# a throwaway slapd with the keybound schema and config-examples/sample.ldif,
# an sshd whose AuthorizedKeysCommand is keybound-keys and whose PAM auth
# stack starts with pam_keybound.so, a local demo user with a known
# password; then
#
#   keybound create -> keybound attach -> ssh -i: key login succeeds ->
#   password login refused with the correct password -> keybound detach ->
#   key login refused, password login accepted again (nothing restarted)
#   -> keybound delete
#
# Every step prints the command it ran, what happened, and "[ok] ..." or
# "[FAIL] ...".  Exit 0 only if every step behaved as described.  The
# servers are children of this script and, like the demo user and every
# temporary file, are removed on exit, Ctrl-C or failure.
set -u

KB_SRC=$(cd "$(dirname "$0")/.." && pwd)
: "${KB_BUILD:=$KB_SRC/build}"
case "$KB_BUILD" in /*) ;; *) KB_BUILD=$KB_SRC/$KB_BUILD ;; esac
export KB_SRC KB_BUILD

. "$KB_SRC/tests/lib/common.sh"

if [ "$(id -u)" != 0 ]; then
	echo "make demo: run as root (it starts sshd and creates a local user)" >&2
	exit 1
fi
for f in keybound keybound-keys pam_keybound.so; do
	if [ ! -e "$KB_BUILD/$f" ]; then
		echo "make demo: $KB_BUILD/$f is missing; run make first" >&2
		exit 1
	fi
done

. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/pam.sh"

DEMO_INSTANCE=demo-host
DEMO_PASSWORD=correct-horse-battery-staple
DEMO_KEYPAIR=demo-key
DEMO_TTL=2
demo_failures=0
demo_steps=0

# --- transcript helpers ------------------------------------------------------

say() { printf '%s\n' "$*"; }

section() {
	printf '\n== %s\n' "$*"
}

# shown TEXT: the command as the reader would type it.
shown() { printf '  $ %s\n' "$*"; }

# indent: command output, indented under the command.
indent() { sed -e 's/^/    /'; }

pass() {
	demo_steps=$((demo_steps + 1))
	printf '[ok] %s\n' "$*"
}

flunk() {
	demo_steps=$((demo_steps + 1))
	demo_failures=$((demo_failures + 1))
	printf '[FAIL] %s\n' "$*"
}

# expect_status WANT GOT OK-TEXT FAIL-TEXT
expect_status() {
	if [ "$2" = "$1" ]; then pass "$3"; else flunk "$4 (exit $2)"; fi
}

# The admin CLI, bound as the directory's administrator.
KB_ADMIN=()
keybound_cli() {
	"$KB_BUILD/keybound" "${KB_ADMIN[@]}" "$@"
}

# run_cli ARGS...: show and run "keybound ARGS", output indented; status kept.
run_cli() {
	local rc
	shown "keybound $*"
	keybound_cli "$@" >"$KB_T/out" 2>&1
	rc=$?
	indent <"$KB_T/out"
	return $rc
}

key_login() {
	local rc
	shown "ssh -i $DEMO_KEYFILE -p $SSHD_PORT $DEMO_USER@127.0.0.1 true"
	kb_ssh_key_login "$DEMO_USER" "$DEMO_KEYFILE" true >"$KB_T/out" 2>&1
	rc=$?
	indent <"$KB_T/out"
	say "    (ssh exit status $rc)"
	return $rc
}

# password_login password|keyboard-interactive
password_login() {
	local rc
	shown "SSHPASS='$DEMO_PASSWORD' sshpass -e ssh -o PreferredAuthentications=$1 -p $SSHD_PORT $DEMO_USER@127.0.0.1 true"
	kb_ssh_password_login "$DEMO_USER" "$DEMO_PASSWORD" "$1" \
	    >"$KB_T/out" 2>&1
	rc=$?
	indent <"$KB_T/out"
	say "    (exit status $rc)"
	return $rc
}

wait_ttl() {
	say "  ... waiting $((DEMO_TTL + 1)) s (cache_ttl $DEMO_TTL); nothing is restarted"
	sleep $((DEMO_TTL + 1))
}

finish() {
	section "result"
	if [ "$demo_failures" -eq 0 ]; then
		pass "demo complete: all $demo_steps steps behaved as described"
		say "Cleaning up: stopping slapd and sshd, removing $DEMO_USER and the temporary files."
		exit 0
	fi
	say "demo FAILED: $demo_failures of $((demo_steps)) steps did not behave as described"
	say "sshd log: last lines"
	tail -n 20 "${SSHD_LOG:-/dev/null}" 2>/dev/null | indent
	exit 1
}

# --- the story ---------------------------------------------------------------

say "keybound demo"
say "============="
say "Cloud-style SSH key pairs from an LDAP directory: attach a key pair to"
say "USER@INSTANCE and the key logs in while password login is refused; detach"
say "it and the password works again. No file edited, nothing restarted."

section "1. set up a throwaway directory and sshd on loopback"
kb_tmpdir
say "  work dir: $KB_T"

# The sample key pairs are bulk-loaded (slapadd) before slapd starts.
shown "slapadd -l config-examples/sample.ldif; slapd -h ldap://127.0.0.1:PORT ..."
if slapd_start --load "$KB_SRC/config-examples/sample.ldif"; then
	pass "slapd started: pid $SLAPD_PID, $SLAPD_URI, base $SLAPD_BASE"
else
	flunk "slapd did not start"
	finish
fi
shown "ldapsearch -x -H $SLAPD_URI -b $SLAPD_BASE '(objectClass=keyboundKeyPair)' cn keyboundAttachment"
ldapsearch -LLL -x -H "$SLAPD_URI" -b "$SLAPD_BASE" \
    '(objectClass=keyboundKeyPair)' cn keyboundAttachment >"$KB_T/out" 2>&1
indent <"$KB_T/out"
if [ "$(grep -c '^cn: ' "$KB_T/out")" = 3 ]; then
	pass "sample key pairs loaded: alice-laptop, ops:deploy, backup_rsa"
else
	flunk "config-examples/sample.ldif did not load"
fi

kb_install_keys_cmd || { flunk "could not install keybound-keys for sshd"; finish; }
kb_write_config "$KB_T/keybound.conf" "instance $DEMO_INSTANCE" \
    "cache_ttl $DEMO_TTL" "cache_dir $KB_CACHE_DIR"
DEMO_CONF=$KB_T/keybound.conf
say "  keybound.conf:"
grep -v '^#' "$DEMO_CONF" | indent
KB_ADMIN=(-c "$DEMO_CONF" -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE")
say "  keybound below stands for: keybound ${KB_ADMIN[*]}"

# pam_keybound.so runs keybound-keys by an absolute path fixed at build
# time; the demo's copy points at the keybound-keys sshd uses here.
mkdir -p "$KB_T/pam-build" "$KB_T/pam.d"
if make -s -C "$KB_SRC" B="$KB_T/pam-build" KB_HELPER="$KB_KEYS_CMD" \
    "$KB_T/pam-build/pam_keybound.so" >"$KB_T/pam-build.log" 2>&1; then
	pass "pam_keybound.so built to run $KB_KEYS_CMD"
	# sshd's children leave pam_wrapper's copies of pam.d behind
	KB_PAM_MODULE=$KB_T/pam-build/pam_keybound.so
	pam_wrapper_cleanup_at_exit
else
	indent <"$KB_T/pam-build.log"
	flunk "could not build pam_keybound.so for the demo"
	finish
fi
{
	# config-examples/pam.d-sshd's line, first, pointing at the demo files
	grep -v '^#' "$KB_SRC/config-examples/pam.d-sshd" | grep . |
	    sed "s|pam_keybound.so|$KB_T/pam-build/pam_keybound.so config=$DEMO_CONF|"
	echo "auth       required     pam_unix.so"
	echo "account    required     pam_unix.so"
	echo "session    required     pam_permit.so"
	echo "password   required     pam_deny.so"
} >"$KB_T/pam.d/sshd"
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' \
    >"$KB_T/pam.d/other"
say "  PAM stack for sshd (a private service directory; /etc/pam.d untouched):"
indent <"$KB_T/pam.d/sshd"

DEMO_USER=kbdemo$$
if kb_make_user "$DEMO_USER" "$DEMO_PASSWORD"; then
	pass "local user $DEMO_USER created with password '$DEMO_PASSWORD'"
else
	flunk "could not create the demo user"
	finish
fi

if sshd_start "$DEMO_CONF" --pam "$KB_T/pam.d" "PasswordAuthentication yes"; then
	pass "sshd started: pid $SSHD_PID, 127.0.0.1 port $SSHD_PORT, UsePAM yes, AuthorizedKeysCommand keybound-keys"
else
	flunk "sshd did not start"
	finish
fi
say "  sshd runs config-examples/sshd_config.d/40-keybound.conf, pointed at the demo's files:"
grep -v '^#' "$KB_SRC/config-examples/sshd_config.d/40-keybound.conf" | indent
START_PIDS="$SLAPD_PID $SSHD_PID"

section "2. before anything is attached, the password works"
password_login password
expect_status 0 $? "password login accepted (nothing attached yet)" \
    "password login with the correct password did not work"

section "3. keybound create"
DEMO_KEYFILE=$KB_T/$DEMO_KEYPAIR
run_cli create "$DEMO_KEYPAIR" -o "$DEMO_KEYFILE"
expect_status 0 $? "key pair $DEMO_KEYPAIR created" "keybound create failed"
mode=$(stat -c %a "$DEMO_KEYFILE" 2>/dev/null)
check_mode="private key $DEMO_KEYFILE, mode ${mode:-missing}"
[ "$mode" = 600 ] && pass "$check_mode" || flunk "$check_mode"
run_cli show "$DEMO_KEYPAIR"
expect_status 0 $? "keybound show lists the new key pair" "keybound show failed"
stored=$(sed -n 's/^public key: *//p' "$KB_T/out")
shown "ssh-keygen -y -f $DEMO_KEYFILE     # the public half of the private key"
derived=$(ssh-keygen -y -f "$DEMO_KEYFILE" 2>&1 | cut -d' ' -f1,2)
printf '%s\n' "$derived" | indent
if [ -n "$stored" ] && [ "$stored" = "$derived" ]; then
	pass "the directory holds the public key of the private key file"
else
	flunk "stored public key [$stored] is not the key file's [$derived]"
fi
key_login
[ $? -ne 0 ] && pass "key login refused (not attached yet)" ||
    flunk "key login succeeded before the key pair was attached"

section "4. keybound attach"
run_cli attach "$DEMO_KEYPAIR" "$DEMO_USER@$DEMO_INSTANCE"
expect_status 0 $? "key pair attached to $DEMO_USER@$DEMO_INSTANCE" \
    "keybound attach failed"
wait_ttl
shown "keybound-keys $DEMO_USER          # what sshd is told, on this instance"
"$KB_BUILD/keybound-keys" -c "$DEMO_CONF" "$DEMO_USER" >"$KB_T/out" 2>&1
rc=$?
indent <"$KB_T/out"
if [ $rc -eq 0 ] && grep -q " keybound:$DEMO_KEYPAIR\$" "$KB_T/out"; then
	pass "keybound-keys serves the key for $DEMO_USER"
else
	flunk "keybound-keys does not serve the key (exit $rc)"
fi

section "5. ssh -i: key login"
key_login
expect_status 0 $? "key login succeeded" "key login failed"

section "6. password login with the correct password"
password_login password
[ $? -ne 0 ] && pass "password login refused with the correct password" ||
    flunk "password login succeeded while a key pair is attached"
password_login keyboard-interactive
[ $? -ne 0 ] &&
    pass "keyboard-interactive login refused with the correct password" ||
    flunk "keyboard-interactive login succeeded while a key pair is attached"
run_cli --json check "$DEMO_USER@$DEMO_INSTANCE"
rc=$?
if [ $rc -eq 0 ] &&
    grep -Eq '"password_login_refused" *: *true' "$KB_T/out"; then
	pass "keybound check agrees: password login refused"
else
	flunk "keybound check does not report password_login_refused (exit $rc)"
fi
run_cli delete "$DEMO_KEYPAIR"
[ $? -ne 0 ] && pass "delete refused while attached" ||
    flunk "keybound delete removed an attached key pair"

section "7. keybound detach"
run_cli detach "$DEMO_KEYPAIR" "$DEMO_USER@$DEMO_INSTANCE"
expect_status 0 $? "key pair detached" "keybound detach failed"
wait_ttl
key_login
[ $? -ne 0 ] && pass "key login refused after detach" ||
    flunk "key login still works after detach"
password_login password
expect_status 0 $? "password login accepted again" \
    "password login still refused after detach"
now_pids="$SLAPD_PID $SSHD_PID"
alive=1
for p in $START_PIDS; do kill -0 "$p" 2>/dev/null || alive=0; done
if [ "$now_pids" = "$START_PIDS" ] && [ $alive = 1 ]; then
	pass "no restart: slapd and sshd still the same processes ($START_PIDS)"
else
	flunk "slapd or sshd changed or died ($START_PIDS -> $now_pids)"
fi

section "8. keybound delete"
run_cli delete "$DEMO_KEYPAIR"
expect_status 0 $? "key pair deleted" "keybound delete failed"
run_cli show "$DEMO_KEYPAIR"
[ $? -ne 0 ] && pass "the key pair is gone from the directory" ||
    flunk "keybound show still finds the deleted key pair"

finish
