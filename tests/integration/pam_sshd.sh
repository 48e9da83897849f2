#!/bin/bash
# pam_sshd: a real sshd (UsePAM yes) under pam_wrapper, so its PAM service
# file comes from a private directory and /etc/pam.d is never read.  The
# auth stack is config-examples/pam.d-sshd's line, then pam_unix.
#
#   attached user: password and keyboard-interactive login refused with the
#   correct password; key login works
#   unattached control user: password and keyboard-interactive work
#   detach (ldapmodify): password login works after cache_ttl, key login
#   refused, nothing restarted; re-attach: refused again
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
. "$KB_SRC/tests/lib/pam.sh"
kb_private_syslog "$@"

[ "$(id -u)" = 0 ] || skip "needs root (sshd, local users)"
[ -e /usr/lib/x86_64-linux-gnu/libpam_wrapper.so ] ||
    ldconfig -p | grep -q libpam_wrapper.so || skip "libpam-wrapper missing"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
pam_build_module || fail "cannot build the test module"
pam_helper_real "$KB_KEYS_CMD"

conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 1" ||
    fail "cannot write keybound.conf"

bound=kbsb$$
free=kbsf$$
pw_bound="Bound-$$-pw"
pw_free="Free-$$-pw"
kb_make_user "$bound" "$pw_bound" || fail "useradd $bound"
kb_make_user "$free" "$pw_free" || fail "useradd $free"
kk_keygen skey && kk_add_keypair skey "$KK_PUB" "$KK_FP" "$bound@test-host" ||
    fail "cannot add the key pair"
key=$KB_T/skey

pamdir=$KB_T/sshd-pam
pam_write_service "$pamdir" sshd "config=$conf" \
    "auth required pam_unix.so nodelay" \
    "account required pam_unix.so" \
    "password required pam_deny.so" \
    "session required pam_permit.so" || fail "cannot write the service"
# pam_wrapper copies the service directory to /tmp/pam.? per process and
# sshd's children exit without its destructor: remove our copies (they
# name our unique module path) once sshd is gone.  Registered before
# sshd_start, so it runs after sshd is stopped.
pam_wrapper_cleanup_at_exit
# pam_wrapper turns pam_syslog into lines on sshd's stderr ($SSHD_LOG);
# level 2 keeps the notice and info lines.
export PAM_WRAPPER_DEBUGLEVEL=2
sshd_start "$conf" --pam "$pamdir" "PasswordAuthentication yes" ||
    fail "sshd did not start"
grep -q '^UsePAM yes' "$SSHD_CONFIG" || fail "sshd runs without PAM"

login() {	# login USER PASSWORD METHOD -> 0 if logged in
	kb_ssh_password_login "$1" "$2" "$3" >>"$KB_T/ssh.log" 2>&1
}

# Control: PAM through sshd works at all.
for m in password keyboard-interactive; do
	login "$free" "$pw_free" "$m" && ok "unattached user: $m login works" ||
	    not_ok "unattached user: $m login failed (PAM path broken?)"
	login "$free" wrong "$m" && not_ok "$m: wrong password accepted" ||
	    ok "unattached user: $m with a wrong password refused"
done

# Attached: the correct password is refused, the key works.
for m in password keyboard-interactive; do
	login "$bound" "$pw_bound" "$m" &&
	    not_ok "attached user: $m login accepted with the correct password" ||
	    ok "attached user: $m login refused with the correct password"
done
kb_ssh_key_login "$bound" "$key" >>"$KB_T/ssh.log" 2>&1 &&
    ok "attached user: key login works" || not_ok "attached user: key login failed"
grep -q "SYSLOG(5): user=$bound decision=deny reason=key-pair-attached" \
    "$SSHD_LOG" && ok "log: sshd's PAM refusal logged with user= and outcome" ||
    not_ok "log: no decision=deny line from sshd"

# Detach: password login comes back after cache_ttl, no restart.
sshd_pid_before=$SSHD_PID
kk_detach skey "$bound@test-host" || fail "ldapmodify detach"
sleep 1.5
for m in password keyboard-interactive; do
	login "$bound" "$pw_bound" "$m" &&
	    ok "after detach: $m login works, nothing restarted" ||
	    not_ok "after detach: $m login still refused"
done
kb_ssh_key_login "$bound" "$key" >>"$KB_T/ssh.log" 2>&1 &&
    not_ok "after detach: key login still works" ||
    ok "after detach: key login refused"

# Re-attach: refused again.
kk_attach skey "$bound@test-host" || fail "ldapmodify attach"
sleep 1.5
login "$bound" "$pw_bound" password &&
    not_ok "after re-attach: password login accepted" ||
    ok "after re-attach: password login refused again"
kb_ssh_key_login "$bound" "$key" >>"$KB_T/ssh.log" 2>&1 &&
    ok "after re-attach: key login works" ||
    not_ok "after re-attach: key login failed"
kill -0 "$sshd_pid_before" 2>/dev/null && [ "$SSHD_PID" = "$sshd_pid_before" ] &&
    ok "the same sshd served every attempt" || not_ok "sshd was restarted"

if [ "$kb_failures" -gt 0 ]; then
	echo "--- ssh.log"; cat "$KB_T/ssh.log"
	echo "--- sshd log"; tail -n 60 "$SSHD_LOG"
	echo "--- syslog"; grep -a 'pam_keybound\|keybound-keys' "$KB_SYSLOG" | tail -n 30
fi
kb_done
