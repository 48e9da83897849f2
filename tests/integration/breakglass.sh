#!/bin/bash
# breakglass: the break-glass path of config-examples, against a real slapd,
# a real sshd (UsePAM yes, under pam_wrapper) and ssh.
#
#   The sshd drop-in's Match block gives one local emergency account a key
#   file (config-examples/breakglass_authorized_keys, installed root:root
#   0644 in a root-owned directory); the PAM line is the commented
#   break-glass line of config-examples/pam.d-sshd (exclude=ACCOUNT), then
#   pam_unix.
#
#   Directory up (control): the attached user's key works and its password
#   is refused, the unattached user's password works.
#   slapd stopped (by PID), cache empty: the emergency key logs in, its
#   password works, sshd logs "Accepted publickey for ACCOUNT ... SHA256:FP"
#   and pam_keybound "decision=ignore reason=excluded"; keybound-keys is not
#   run for it.  Every other account is refused: the attached user's key and
#   password, the unattached user's password; the emergency key opens no
#   other account, and no other key opens the emergency account.
#   StrictModes: the key file owned by another user, writable by group or
#   others, or a directory above it writable by others or owned by another
#   user, is refused by sshd (logged); put back, it works again.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
. "$KB_SRC/tests/lib/pam.sh"
kb_private_syslog "$@"

[ "$(id -u)" = 0 ] || skip "needs root (sshd, local users)"
[ -e /usr/lib/x86_64-linux-gnu/libpam_wrapper.so ] ||
    ldconfig -p | grep -q libpam_wrapper.so || skip "libpam-wrapper missing"
command -v sshpass >/dev/null || skip "sshpass missing"

EX=$KB_SRC/config-examples
DROPIN=$EX/sshd_config.d/40-keybound.conf

# --- the examples say what this test does -----------------------------------
grep -qx 'Match User breakglass' "$DROPIN" &&
    ok "the sshd drop-in has the break-glass Match block" ||
    fail "no 'Match User breakglass' in $DROPIN"
check_eq "$(sed -n '/^Match User breakglass$/,$p' "$DROPIN" | grep -v '^#' |
    tr -s ' \t' ' ' | sed 's/^ //')" \
    "Match User breakglass
AuthorizedKeysFile /etc/ssh/breakglass_authorized_keys
AuthorizedKeysCommand none" \
    "the Match block is last and sets the key file and no command"
grep -q '^#   install -o root -g root -m 0644 breakglass_authorized_keys /etc/ssh/$' \
    "$EX/breakglass_authorized_keys" &&
    ok "config-examples/breakglass_authorized_keys says root:root 0644" ||
    not_ok "config-examples/breakglass_authorized_keys has no install line"
active=$(grep -E '^auth[[:space:]].*pam_keybound\.so' "$EX/pam.d-sshd")
bgline=$(grep -E '^#auth[[:space:]].*pam_keybound\.so' "$EX/pam.d-sshd")
check_eq "$bgline" "#$active exclude=breakglass" \
    "config-examples/pam.d-sshd shows the break-glass line: the line plus exclude="

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
pam_build_module || fail "cannot build the test module"
pam_helper_real "$KB_KEYS_CMD"

conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" ||
    fail "cannot write keybound.conf"
grep -q '^on_error' "$conf" && fail "the test relies on on_error=deny"

bg=kbbg$$	# the emergency account
bound=kbgb$$	# a key pair attached in the directory, and a password
free=kbgf$$	# a password, nothing attached
pw_bg="Glass-$$-pw"
pw_bound="Bound-$$-pw"
pw_free="Free-$$-pw"
kb_make_user "$bg" "$pw_bg" || fail "useradd $bg"
kb_make_user "$bound" "$pw_bound" || fail "useradd $bound"
kb_make_user "$free" "$pw_free" || fail "useradd $free"

kk_keygen bgkey || fail "ssh-keygen"
bg_fp=$KK_FP
bgkey=$KB_T/bgkey
kk_keygen boundkey && kk_add_keypair boundkey "$KK_PUB" "$KK_FP" \
    "$bound@test-host" || fail "cannot add the key pair"
boundkey=$KB_T/boundkey

# The key file as the example says: root:root 0644, every directory above
# it owned by root and not writable by others (/run is; /tmp is not).
bgdir=$(mktemp -d /run/kbbreakglass.XXXXXX) || fail "mktemp"
kb_on_exit "rm -rf '$bgdir'"
chown root:root "$bgdir" && chmod 0755 "$bgdir" || fail "chmod $bgdir"
bgfile=$bgdir/breakglass_authorized_keys
{
	cat "$EX/breakglass_authorized_keys"
	cat "$bgkey.pub"
} >"$KB_T/bg.keys"
install -o root -g root -m 0644 "$KB_T/bg.keys" "$bgfile" ||
    fail "cannot install the key file"

pamdir=$KB_T/sshd-pam
pam_write_service "$pamdir" sshd "config=$conf exclude=$bg" \
    "auth required pam_unix.so nodelay" \
    "account required pam_unix.so" \
    "password required pam_deny.so" \
    "session required pam_permit.so" || fail "cannot write the service"
pam_wrapper_cleanup_at_exit
# pam_wrapper turns pam_syslog into lines on sshd's stderr ($SSHD_LOG);
# level 2 keeps the notice and info lines.
export PAM_WRAPPER_DEBUGLEVEL=2
sshd_start "$conf" --pam "$pamdir" --breakglass "$bg" "$bgfile" \
    "PasswordAuthentication yes" || fail "sshd did not start"
/usr/sbin/sshd -T -f "$SSHD_CONFIG" -C "user=$bg,host=h,addr=127.0.0.1" \
    >"$KB_T/sshd-T-bg" 2>&1
/usr/sbin/sshd -T -f "$SSHD_CONFIG" -C "user=$free,host=h,addr=127.0.0.1" \
    >"$KB_T/sshd-T-free" 2>&1
grep -qx "authorizedkeysfile $bgfile" "$KB_T/sshd-T-bg" &&
    grep -qx 'authorizedkeyscommand none' "$KB_T/sshd-T-bg" &&
    ok "sshd -T: the emergency account reads the file and runs no command" ||
    not_ok "sshd -T for $bg: $(grep authorizedkeys "$KB_T/sshd-T-bg")"
grep -qx 'authorizedkeysfile none' "$KB_T/sshd-T-free" &&
    grep -qx "authorizedkeyscommand $KB_KEYS_CMD -c $conf %u %f" \
    "$KB_T/sshd-T-free" &&
    ok "sshd -T: every other account reads no file and runs keybound-keys" ||
    not_ok "sshd -T for $free: $(grep authorizedkeys "$KB_T/sshd-T-free")"

key_login() {	# key_login USER KEY -> 0 if logged in as USER
	local out
	out=$(kb_ssh_key_login "$1" "$2" id -un 2>>"$KB_T/ssh.log") &&
	    [ "$out" = "$1" ]
}
pw_login() {	# pw_login USER PASSWORD METHOD -> 0 if logged in
	kb_ssh_password_login "$1" "$2" "$3" >>"$KB_T/ssh.log" 2>&1
}

# --- directory up: the set-up works -------------------------------------------
key_login "$bound" "$boundkey" &&
    ok "directory up: attached user's key logs in" ||
    not_ok "directory up: attached user's key refused (set-up broken?)"
pw_login "$bound" "$pw_bound" password &&
    not_ok "directory up: attached user's password accepted" ||
    ok "directory up: attached user's password refused"
pw_login "$free" "$pw_free" password &&
    ok "directory up: unattached user's password works" ||
    not_ok "directory up: unattached user's password refused (PAM broken?)"
key_login "$bg" "$bgkey" && ok "directory up: the emergency key logs in" ||
    not_ok "directory up: the emergency key refused"

# --- outage: slapd stopped, cache emptied -------------------------------------
slapd_pid=$SLAPD_PID
slapd_stop
kill -0 "$slapd_pid" 2>/dev/null && fail "slapd $slapd_pid still running"
(exec 3<>"/dev/tcp/127.0.0.1/$SLAPD_PORT") 2>/dev/null &&
    fail "something still answers on the directory's port"
ok "slapd (pid $slapd_pid) stopped, its port closed"
find "$KB_CACHE_DIR" -mindepth 1 -delete || fail "cannot empty the cache"
check_eq "$(find "$KB_CACHE_DIR" -mindepth 1 | wc -l)" 0 "the cache is empty"
kk_run "$conf" --has-keys "$bound"
check_eq "$KK_RC" 1 "keybound-keys has no answer for anyone (exit 1)"
log_mark=$(wc -l <"$SSHD_LOG")
syslog_mark=$(wc -l <"$KB_SYSLOG")

# The emergency account gets in, by key and by password.
key_login "$bg" "$bgkey" &&
    ok "outage: the emergency key logs in (id -un = $bg)" ||
    not_ok "outage: the emergency key refused"
for m in password keyboard-interactive; do
	pw_login "$bg" "$pw_bg" "$m" &&
	    ok "outage: the emergency account's $m login works (exclude=)" ||
	    not_ok "outage: the emergency account's $m login refused"
done
pw_login "$bg" "wrong-$pw_bg" password &&
    not_ok "outage: a wrong password accepted for the emergency account" ||
    ok "outage: a wrong password for the emergency account still refused"

# Everyone else is refused.
key_login "$bound" "$boundkey" &&
    not_ok "outage: attached user's key accepted with no directory or cache" ||
    ok "outage: attached user's key refused"
for m in password keyboard-interactive; do
	pw_login "$bound" "$pw_bound" "$m" &&
	    not_ok "outage: attached user's $m login accepted" ||
	    ok "outage: attached user's $m login refused"
	pw_login "$free" "$pw_free" "$m" &&
	    not_ok "outage: unattached user's $m login accepted (on_error=deny)" ||
	    ok "outage: unattached user's $m login refused (on_error=deny)"
done
key_login "$bound" "$bgkey" &&
    not_ok "outage: the emergency key opens another account" ||
    ok "outage: the emergency key does not open another account"
key_login "$free" "$bgkey" &&
    not_ok "outage: the emergency key opens the unattached account" ||
    ok "outage: the emergency key does not open the unattached account"
key_login "$bg" "$boundkey" &&
    not_ok "outage: another key opens the emergency account" ||
    ok "outage: another user's key does not open the emergency account"

# The log shows every use.
# sshd -e ends its lines with CR LF.
tail -n +"$((log_mark + 1))" "$SSHD_LOG" | tr -d '\r' >"$KB_T/outage.log"
tail -n +"$((syslog_mark + 1))" "$KB_SYSLOG" >"$KB_T/outage.syslog"
accepted="Accepted publickey for $bg from 127\.0\.0\.1 port [0-9]+ ssh2: ED25519 $(kk_re "$bg_fp")\$"
check_eq "$(grep -Ec "$accepted" "$KB_T/outage.log")" 1 \
    "sshd logged the emergency login with its key's fingerprint"
check_eq "$(grep -c "Accepted publickey for " "$KB_T/outage.log")" 1 \
    "no other key login was accepted during the outage"
check_eq "$(grep -Ec "Accepted (password|keyboard-interactive/pam) for $bg " \
    "$KB_T/outage.log")" 2 "sshd logged both password logins of $bg"
check_eq "$(grep -Ec "Accepted (password|keyboard-interactive/pam) for " \
    "$KB_T/outage.log")" 2 "and no other password login was accepted"
# pam_wrapper shows pam_syslog lines on sshd's stderr, from sshd's own
# processes only: the keyboard-interactive attempt runs PAM in a child
# whose stderr is not kept, so the two "password" attempts are counted.
check_eq "$(grep -c "SYSLOG(5): user=$bg decision=ignore reason=excluded\$" \
    "$KB_T/outage.log")" 2 \
    "pam_keybound logged both password attempts of $bg as excluded"
grep -q "user=$bound decision=unavailable .*on_error=deny" "$KB_T/outage.log" &&
    grep -q "user=$free decision=unavailable .*on_error=deny" \
    "$KB_T/outage.log" &&
    ok "pam_keybound logged the others as decision=unavailable" ||
    not_ok "no decision=unavailable lines for $bound and $free"
grep -a "keybound-keys" "$KB_T/outage.syslog" | grep -q "user=$bound" &&
    ok "keybound-keys was asked about the attached user (and had no answer)" ||
    not_ok "keybound-keys never ran for $bound: is the outage real?"
grep -a "keybound-keys" "$KB_T/outage.syslog" | grep -q "user=$bg\\b" &&
    not_ok "keybound-keys ran for the emergency account" ||
    ok "keybound-keys never ran for the emergency account"
grep -Ei "AuthorizedKeysCommand.*( $bg |none)" "$KB_T/outage.log" &&
    not_ok "sshd logged a command for the emergency account" ||
    ok "sshd logged no command for the emergency account"
check_eq "$(find "$KB_CACHE_DIR" -mindepth 1 -type f | wc -l)" 0 \
    "the cache is still empty after the outage logins"

# The same PAM service through real libpam and the real syslog socket: the
# auth log line an administrator greps for.
mark=$(wc -l <"$KB_SYSLOG")
check_eq "$(pam_auth "$pamdir" sshd "$bg" "$pw_bg" | tail -n 1)" PAM_SUCCESS \
    "libpam: the emergency account's password passes the stack"
check_eq "$(pam_auth "$pamdir" sshd "$free" "$pw_free" | tail -n 1)" \
    PAM_AUTHINFO_UNAVAIL "libpam: the unattached user's password does not"
kb_syslog_wait "pam_keybound\(sshd:auth\): user=$free decision=unavailable" 10
tail -n +"$((mark + 1))" "$KB_SYSLOG" >"$KB_T/pam.syslog"
check_eq "$(grep -c "pam_keybound(sshd:auth): user=$bg decision=ignore reason=excluded\$" \
    "$KB_T/pam.syslog")" 1 \
    "auth log: pam_keybound(sshd:auth): user=$bg decision=ignore reason=excluded"
grep -a "keybound-keys" "$KB_T/pam.syslog" | grep -q "user=$bg " &&
    not_ok "libpam: keybound-keys ran for the emergency account" ||
    ok "libpam: keybound-keys did not run for the emergency account"

# --- StrictModes: the key file must stay root's -------------------------------
# refused_when DESCRIPTION PATTERN: the emergency key is refused, and sshd
# logs why (PATTERN, an extended regex); then the file is put back.
refused_when() {
	local what=$1 pat=$2 mark
	mark=$(wc -l <"$SSHD_LOG")
	key_login "$bg" "$bgkey" &&
	    not_ok "StrictModes: accepted with $what" ||
	    ok "StrictModes: the emergency key refused with $what"
	tail -n +"$((mark + 1))" "$SSHD_LOG" | grep -Eq "$pat" &&
	    ok "StrictModes: sshd logged why ($what)" ||
	    not_ok "StrictModes: no '$pat' in sshd's log ($what)"
	chown root:root "$bgfile" "$bgdir" && chmod 0644 "$bgfile" &&
	    chmod 0755 "$bgdir" || fail "cannot restore $bgfile"
}
file_re="Authentication refused: bad ownership or modes for file $(kk_re "$bgfile")"
dir_re="Authentication refused: bad ownership or modes for directory $(kk_re "$bgdir")"
chown "$free" "$bgfile"
refused_when "the file owned by another user" "$file_re"
chmod 0664 "$bgfile"
refused_when "the file group-writable (0664)" "$file_re"
chmod 0646 "$bgfile"
refused_when "the file world-writable (0646)" "$file_re"
chmod 0757 "$bgdir"
refused_when "its directory world-writable (0757)" "$dir_re"
chown "$free" "$bgdir"
refused_when "its directory owned by another user" "$dir_re"
key_login "$bg" "$bgkey" &&
    ok "StrictModes: root:root 0644 again, the emergency key logs in" ||
    not_ok "StrictModes: the restored file is refused"
# sshd also accepts the account's own file; the examples ask for root so
# that the account cannot change its own keys.
chown "$bg" "$bgfile"
key_login "$bg" "$bgkey" &&
    ok "StrictModes: sshd also accepts a file owned by the account itself" ||
    not_ok "StrictModes: a file owned by the account is refused (docs wrong)"
chown root:root "$bgfile"

if [ "$kb_failures" -gt 0 ]; then
	echo "--- ssh.log"; cat "$KB_T/ssh.log"
	echo "--- sshd log"; tail -n 80 "$SSHD_LOG"
	echo "--- syslog"; grep -a 'pam_keybound\|keybound-keys' "$KB_SYSLOG" | tail -n 30
fi
kb_done
