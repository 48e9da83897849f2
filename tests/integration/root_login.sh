#!/bin/bash
# root_login: the clouds' default login is root.  `keybound attach NAME
# root@INSTANCE` end to end against a real sshd (UsePAM yes, under
# pam_wrapper, auth stack = config-examples/pam.d-sshd's line, then
# pam_unix), the key pair imported, attached and detached with the admin
# CLI:
#
#   PermitRootLogin yes, nothing attached: root's password logs in
#     (control: the private shadow and the PAM path work); root's key not.
#   attach: root's key logs in; root's correct password is refused by
#     pam_keybound (logged decision=deny reason=key-pair-attached).
#   PermitRootLogin prohibit-password (what a hardened image ships): root's
#     key logs in.  Here sshd itself refuses every root password whatever
#     keybound says, so the password half is only a check that nothing
#     changes: refused while attached and still refused after detach.
#   detach: root's key is refused; with PermitRootLogin yes -- the setting
#     where keybound's refusal is what stands between a password and a root
#     shell -- root's password logs in again.
#
# Root's password is never changed on this machine: the script runs in a
# private mount namespace (kb_private_syslog) where /etc/shadow is a copy
# whose root entry holds a test password (kb_private_etc_file: a private
# view of /etc, not a bind mount on /etc/shadow, which the next useradd or
# userdel of a test running in parallel would silently undo).  Users are
# created before the copy is made (/etc is read-only in the view) and
# removed after it is gone; the host's root entry is compared before and
# after, and the copy is checked to have stayed in place for every login.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
. "$KB_SRC/tests/lib/pam.sh"
kb_private_syslog "$@"

[ "$(id -u)" = 0 ] || skip "needs root (sshd, root's shadow entry)"
[ -e /usr/lib/x86_64-linux-gnu/libpam_wrapper.so ] ||
    ldconfig -p | grep -q libpam_wrapper.so || skip "libpam-wrapper missing"
command -v sshpass >/dev/null || skip "sshpass missing"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
# The shadow copy must stay in this namespace; the parent (the test
# runner, which exec'ed us into it) still sees the host's files.
host=/proc/$PPID
[ -n "${KB_SYSLOG_NS:-}" ] && mnt_host=$(readlink "$host/ns/mnt") &&
    [ "$(readlink /proc/self/ns/mnt)" != "$mnt_host" ] ||
    skip "no private mount namespace to hold a test shadow file"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"	# useradd
pam_build_module || fail "cannot build the test module"
pam_helper_real "$KB_KEYS_CMD"
conf=$KB_T/kb.conf
# cache_ttl 0: every login asks the directory, so no waiting after a change
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" ||
    fail "cannot write keybound.conf"

# --- a private /etc/shadow with a test password for root ------------------
host_root_entry=$(grep '^root:' "$host/root/etc/shadow") ||
    fail "cannot read the host's root entry"
pw_root="Root-$$-pw"
hash=$(printf '%s\n' "$pw_root" | openssl passwd -6 -stdin) || fail "openssl passwd"
install -m 0640 -o root -g "$(stat -c %g /etc/shadow)" /dev/null "$KB_T/shadow"
awk -F: -v OFS=: -v h="$hash" '$1 == "root" { $2 = h; $7 = ""; $8 = "" } { print }' \
    /etc/shadow >"$KB_T/shadow" || fail "cannot copy /etc/shadow"
kb_private_etc_file shadow "$KB_T/shadow" || fail "cannot put the copy in place"
[ "$(getent shadow root | cut -d: -f2)" = "$hash" ] ||
    fail "the private shadow is not what NSS reads"
[ "$(grep '^root:' "$host/root/etc/shadow")" = "$host_root_entry" ] ||
    fail "the host's shadow changed"

# --- the key pair, imported with the CLI (not attached yet) ---------------
kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@" >>"$KB_T/cli.log" 2>&1
}
kk_keygen rootkey || fail "keygen"
key=$KB_T/rootkey
kb import rootkey "$key.pub"
check_eq "$?" 0 "keybound import rootkey"

pamdir=$KB_T/sshd-pam
pam_write_service "$pamdir" sshd "config=$conf" \
    "auth required pam_unix.so nodelay" \
    "account required pam_unix.so" \
    "password required pam_deny.so" \
    "session required pam_permit.so" || fail "cannot write the service"
pam_wrapper_cleanup_at_exit
export PAM_WRAPPER_DEBUGLEVEL=2

# start_sshd PERMITROOTLOGIN: a fresh sshd with that setting.
start_sshd() {
	sshd_stop
	sshd_start "$conf" --pam "$pamdir" "PasswordAuthentication yes" \
	    "PermitRootLogin $1" || fail "sshd did not start"
	grep -qx "PermitRootLogin $1" "$SSHD_CONFIG" &&
	    [ "$(grep -ci '^PermitRootLogin' "$SSHD_CONFIG")" = 1 ] ||
	    fail "sshd_config does not say PermitRootLogin $1"
}
key_login() { kb_ssh_key_login root "$key" >>"$KB_T/ssh.log" 2>&1; }
pw_login() {	# pw_login METHOD [PASSWORD]
	kb_ssh_password_login root "${2:-$pw_root}" "$1" >>"$KB_T/ssh.log" 2>&1
}

# --- PermitRootLogin yes, nothing attached --------------------------------
start_sshd yes
pw_login password && ok "nothing attached: root password login works" ||
    not_ok "nothing attached: root password login failed (PAM or shadow broken?)"
pw_login password wrong && not_ok "root: a wrong password accepted" ||
    ok "nothing attached: a wrong root password is refused"
key_login && not_ok "nothing attached: root key login accepted" ||
    ok "nothing attached: root key login refused"

# --- attach with the CLI ----------------------------------------------------
kb attach rootkey root@test-host
check_eq "$?" 0 "keybound attach rootkey root@test-host"
key_login && ok "attached: root key login works (PermitRootLogin yes)" ||
    not_ok "attached: root key login failed"
for m in password keyboard-interactive; do
	pw_login "$m" &&
	    not_ok "attached: root $m login accepted with the correct password" ||
	    ok "attached: root $m login refused by keybound (PermitRootLogin yes)"
done
grep -q "SYSLOG(5): user=root decision=deny reason=key-pair-attached" \
    "$SSHD_LOG" && ok "attached: pam_keybound's refusal for root logged" ||
    not_ok "attached: no decision=deny line for root"

start_sshd prohibit-password
key_login && ok "attached: root key login works (PermitRootLogin prohibit-password)" ||
    not_ok "attached: root key login failed with prohibit-password"
pw_login password &&
    not_ok "prohibit-password: root password login accepted" ||
    ok "attached: root password refused (prohibit-password refuses it anyway)"

# --- detach with the CLI ----------------------------------------------------
kb detach rootkey root@test-host
check_eq "$?" 0 "keybound detach rootkey root@test-host"
key_login && not_ok "detached: root key login still works" ||
    ok "detached: root key login refused"
pw_login password &&
    not_ok "detached, prohibit-password: root password login accepted" ||
    ok "detached: root password still refused by sshd's prohibit-password"

start_sshd yes
for m in password keyboard-interactive; do
	pw_login "$m" && ok "detached: root $m login works again (PermitRootLogin yes)" ||
	    not_ok "detached: root $m login still refused"
done
key_login && not_ok "detached: root key login accepted" ||
    ok "detached: root key login refused (PermitRootLogin yes)"

sshd_stop
# Every login above saw the test password, none the host's.
[ "$(getent shadow root | cut -d: -f2)" = "$hash" ]
check_eq "$?" 0 "the private shadow stayed what NSS reads"
[ "$(grep '^root:' "$host/root/etc/shadow")" = "$host_root_entry" ]
check_eq "$?" 0 "the host's root shadow entry is unchanged"

if [ "$kb_failures" -gt 0 ]; then
	echo "--- cli.log"; cat "$KB_T/cli.log"
	echo "--- ssh.log"; cat "$KB_T/ssh.log"
	echo "--- sshd log"; tail -n 60 "$SSHD_LOG"
	echo "--- syslog"; grep -a 'pam_keybound\|keybound-keys' "$KB_SYSLOG" | tail -n 30
fi
kb_done
