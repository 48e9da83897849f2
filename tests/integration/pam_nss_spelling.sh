#!/bin/bash
# pam_nss_spelling: pam_keybound.so decides about the account, the name sshd
# hands keybound-keys as %u (pw_name), not about the spelling the client
# typed.  A private user database that folds case and accepts
# NAME@kb.test (tests/lib/nss.sh: a small NSS module behind a private
# nsswitch.conf in this test's mount namespace) stands in for SSSD with
# case_sensitive = false; its users exist nowhere else.
#
#   key pair attached to alice: ALICE, Alice, alice and ALICE@KB.TEST are
#   refused with the correct password through libpam (kb-pamtest) and
#   through a real sshd (UsePAM yes, password and keyboard-interactive);
#   key login as ALICE works (sshd asks keybound-keys about alice)
#   unattached bob: BOB, Bob, bob log in with the password, so the
#   refusal comes from keybound and not from the spelling
#   users= and exclude= match the account, not the typed spelling
#   the helper is asked about pw_name (a recording fake helper)
#   unknown user before pam_permit: PAM_USER_UNKNOWN, helper never run
#   lookup errors (EIO, EAGAIN, an entry beyond the module's buffer bound)
#   follow on_error; ENOENT is "no such user" whatever on_error says; a
#   large entry within the bound resolves; an account name that fails
#   keybound-keys' validation is refused without running the helper
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
. "$KB_SRC/tests/lib/pam.sh"
. "$KB_SRC/tests/lib/nss.sh"
kb_private_syslog "$@"

[ "$(id -u)" = 0 ] || skip "needs root (sshd, pam_unix, mount namespace)"
[ -e /usr/lib/x86_64-linux-gnu/libpam_wrapper.so ] ||
    ldconfig -p | grep -q libpam_wrapper.so || skip "libpam-wrapper missing"
command -v cc >/dev/null || skip "no C compiler for the test NSS module"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
pam_build_module || fail "cannot build the test module"
pam_helper_real "$KB_KEYS_CMD"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" ||
    fail "cannot write keybound.conf"

nss_fold_start || fail "cannot set up the case-folding user database"
al=kbal$$	# a key pair attached
bo=kbbo$$	# nothing attached
big=kbbig$$	# a 200 kB entry: within the module's 1 MiB bound
huge=kbhuge$$	# a 2 MB entry: beyond it
trail="kbtr$$ "	# an account name keybound-keys refuses (trailing space)
nk=kbnk$$	# no such user anywhere
pw_al="Al-$$-pw"
pw_bo="Bo-$$-pw"
nss_fold_user "$al" "$pw_al" || fail "cannot add $al"
nss_fold_user "$bo" "$pw_bo" || fail "cannot add $bo"
nss_fold_user "$big" x "$(head -c 200000 /dev/zero | tr '\0' g)" ||
    fail "cannot add $big"
nss_fold_user "$huge" x "$(head -c 2000000 /dev/zero | tr '\0' h)" ||
    fail "cannot add $huge"
nss_fold_user "$trail" x || fail "cannot add the trailing-space account"
AL=${al^^} Al=${al^} BO=${bo^^} Bo=${bo^}

# The database folds for libc, and only through the module.
check_eq "$(getent passwd "$AL" | cut -d: -f1)" "$al" \
    "set-up: getpwnam($AL) returns the account $al"
check_eq "$(getent passwd "$Al@KB.TEST" | cut -d: -f1)" "$al" \
    "set-up: getpwnam($Al@KB.TEST) returns the account $al"
check_eq "$(LD_LIBRARY_PATH='' getent passwd "$AL" | cut -d: -f1)" "" \
    "set-up: without the module $AL is unknown"
getent passwd "$nk" >/dev/null && fail "$nk exists"

kk_keygen fal && kk_add_keypair fal "$KK_PUB" "$KK_FP" "$al@test-host" ||
    fail "cannot add the key pair"
key=$KB_T/fal

d=$KB_T/pam.d
svc() { pam_write_service "$d" "$1" "config=$conf $2" "$3" ||
    fail "cannot write service $1"; }
svc unix "" "auth required pam_unix.so nodelay"
svc scoped "users=$al" "auth required pam_unix.so nodelay"
svc excluded "exclude=$al" "auth required pam_unix.so nodelay"
svc excluded-typed "exclude=$AL" "auth required pam_unix.so nodelay"
svc permit "" "auth required pam_permit.so"
svc permit-allow "on_error=allow" "auth required pam_permit.so"

# expect SERVICE USER PASSWORD RESULT MESSAGE
expect() {
	local out
	out=$(pam_auth "$d" "$1" "$2" "$3" | tail -n 1)
	check_eq "$out" "$4" "$5"
}

# --- (a) through libpam, the real keybound-keys -----------------------------
for u in "$AL" "$Al" "$al" "$AL@KB.TEST"; do
	expect unix "$u" "$pw_al" PAM_AUTH_ERR \
	    "libpam: $u (account $al, key pair attached), correct password: refused"
done
for u in "$BO" "$Bo" "$bo" "$Bo@kb.test"; do
	expect unix "$u" "$pw_bo" PAM_SUCCESS \
	    "libpam: $u (account $bo, nothing attached), correct password: accepted"
done
expect unix "$BO" wrong PAM_AUTH_ERR \
    "libpam: $BO with a wrong password: refused (pam_unix still decides)"
expect scoped "$AL" "$pw_al" PAM_AUTH_ERR \
    "users=$al: the spelling $AL is in scope and refused"
expect scoped "$BO" "$pw_bo" PAM_SUCCESS \
    "users=$al: $BO is out of scope, the password decides"
expect excluded "$AL" "$pw_al" PAM_SUCCESS \
    "exclude=$al: the spelling $AL is the excluded account, the password decides"
expect excluded-typed "$AL" "$pw_al" PAM_AUTH_ERR \
    "exclude=$AL: a typed spelling excludes nothing, $al is refused"
expect excluded-typed "$al" "$pw_al" PAM_AUTH_ERR \
    "exclude=$AL: $al typed as is is refused too"
kb_syslog_wait "pam_keybound\\(excluded:auth\\): user=$al pam_user=$AL decision=ignore reason=excluded" &&
    ok "syslog: the excluded account logged with the typed spelling" ||
    not_ok "syslog: no reason=excluded line naming $al and $AL"

kb_syslog_wait "pam_keybound\\(unix:auth\\): user=$al pam_user=$AL decision=deny reason=key-pair-attached" &&
    ok "syslog: the decision names the account and the typed spelling" ||
    not_ok "syslog: no line naming both $al and $AL"
grep -q "pam_keybound(unix:auth): user=$al decision=deny reason=key-pair-attached" \
    "$KB_SYSLOG" && ok "syslog: same spelling, one name only" ||
    not_ok "syslog: no plain user=$al line"
grep -q "pam_keybound(unix:auth): user=$bo pam_user=$Bo@kb.test decision=ignore reason=not-attached" \
    "$KB_SYSLOG" && ok "syslog: a qualified spelling logged as pam_user=" ||
    not_ok "syslog: no pam_user=$Bo@kb.test line"
asked=$(sed -n 's/.*keybound-keys\[[0-9]*\]: user=\([^ ]*\) .*/\1/p' \
    "$KB_SYSLOG" | grep -i "$al" | sort -u)
check_eq "$asked" "$al" \
    "keybound-keys was asked about $al only, never about another spelling"
grep -Eq "keybound-keys\[[0-9]+\]: user=$al " "$KB_SYSLOG" &&
    ok "keybound-keys was asked about $al" ||
    not_ok "no keybound-keys line for $al"

# Unknown user before pam_permit: refused, the real helper not run.
expect permit "$nk" "" PAM_USER_UNKNOWN \
    "unknown user, pam_permit stack: PAM_USER_UNKNOWN"
expect permit-allow "$nk" "" PAM_USER_UNKNOWN \
    "unknown user, on_error=allow, pam_permit stack: PAM_USER_UNKNOWN"
kb_syslog_wait "pam_keybound\\(permit-allow:auth\\): user=$nk decision=deny reason=unknown-user" &&
    ok "syslog: the unknown user logged as such" ||
    not_ok "syslog: no reason=unknown-user line for $nk"
# keybound-keys logs before it exits, so before the module's line above.
grep -q "keybound-keys.*$nk" "$KB_SYSLOG" &&
    not_ok "keybound-keys ran for the unknown user $nk" ||
    ok "keybound-keys never ran for the unknown user (no line of its own)"

# --- the helper sees pw_name; errors; bounds (recording fake helper) --------
calls=$KB_PAM_BIN/fake-calls
: >"$calls"
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
pam_helper_fake "exit 3"
expect permit "$AL" "" PAM_SUCCESS "fake helper: $AL passes to pam_permit"
expect permit "$Al@kb.test" "" PAM_SUCCESS \
    "fake helper: $Al@kb.test passes to pam_permit"
check_eq "$(cat "$calls")" "$(hex "$al")
$(hex "$al")" "the helper was asked about $al both times"

: >"$calls"
expect permit "$nk" "" PAM_USER_UNKNOWN "fake helper: unknown user refused"
for s in permit permit-allow; do
	expect "$s" kberr-eio "" \
	    "$([ $s = permit ] && echo PAM_AUTHINFO_UNAVAIL || echo PAM_SUCCESS)" \
	    "$s: lookup error EIO follows on_error"
	expect "$s" kberr-again "" \
	    "$([ $s = permit ] && echo PAM_AUTHINFO_UNAVAIL || echo PAM_SUCCESS)" \
	    "$s: lookup error EAGAIN follows on_error"
	expect "$s" "$huge" "" \
	    "$([ $s = permit ] && echo PAM_AUTHINFO_UNAVAIL || echo PAM_SUCCESS)" \
	    "$s: a 2 MB entry (beyond the bound) follows on_error"
	expect "$s" kberr-enoent "" PAM_USER_UNKNOWN \
	    "$s: ENOENT from the database means no such user"
	expect "$s" "${trail^^}@kb.test" "" PAM_USER_UNKNOWN \
	    "$s: an account name keybound-keys refuses: PAM_USER_UNKNOWN"
done
check_eq "$(grep -c . "$calls")" 0 \
    "no helper run for unknown users, lookup errors or refused names"
grep -q "user=kberr-eio decision=unavailable reason=user-lookup-failed (Input/output error) on_error=deny" \
    "$KB_SYSLOG" && ok "syslog: lookup error named, on_error=deny" ||
    not_ok "syslog: no user-lookup-failed line for EIO"
grep -q "user=$huge decision=ignore reason=user-lookup-failed (Numerical result out of range) on_error=allow" \
    "$KB_SYSLOG" && ok "syslog: oversized entry named, on_error=allow" ||
    not_ok "syslog: no ERANGE line for $huge"
grep -q "user=kberr-enoent decision=deny reason=unknown-user (No such file or directory)" \
    "$KB_SYSLOG" && ok "syslog: ENOENT logged as an unknown user" ||
    not_ok "syslog: no unknown-user line for ENOENT"
# (the sink doubles the backslash of the module's \x20)
grep -qF "user=kbtr$$\\\\x20 pam_user=KBTR$$\\\\x20@kb.test decision=deny reason=invalid-account-name" \
    "$KB_SYSLOG" && ok "syslog: invalid account name logged, escaped" ||
    not_ok "syslog: no invalid-account-name line"

expect permit "${big^^}" "" PAM_SUCCESS \
    "a 200 kB entry resolves (the buffer grows)"
check_eq "$(cat "$calls")" "$(hex "$big")" "the helper was asked about $big"

# --- (b) through a real sshd -------------------------------------------------
pam_helper_real "$KB_KEYS_CMD"
pamdir=$KB_T/sshd-pam
pam_write_service "$pamdir" sshd "config=$conf" \
    "auth required pam_unix.so nodelay" \
    "account required pam_unix.so" \
    "password required pam_deny.so" \
    "session required pam_permit.so" || fail "cannot write the service"
# pam_wrapper leaves per-process copies in /tmp/pam.?: see pam_sshd.sh.
pam_wrapper_cleanup_at_exit
export PAM_WRAPPER_DEBUGLEVEL=2
sshd_start "$conf" --pam "$pamdir" "PasswordAuthentication yes" ||
    fail "sshd did not start"
grep -q '^UsePAM yes' "$SSHD_CONFIG" || fail "sshd runs without PAM"

login() {	# login USER PASSWORD METHOD -> 0 if logged in
	kb_ssh_password_login "$1" "$2" "$3" >>"$KB_T/ssh.log" 2>&1
}
for m in password keyboard-interactive; do
	for u in "$BO" "$Bo"; do
		login "$u" "$pw_bo" "$m" &&
		    ok "sshd: $u (nothing attached): $m login works" ||
		    not_ok "sshd: $u (nothing attached): $m login failed"
	done
	for u in "$AL" "$Al"; do
		login "$u" "$pw_al" "$m" &&
		    not_ok "sshd: $u: $m login accepted with the correct password" ||
		    ok "sshd: $u (account $al, attached): $m login refused"
	done
done
login "$AL@KB.TEST" "$pw_al" password &&
    not_ok "sshd: $AL@KB.TEST: password login accepted" ||
    ok "sshd: $AL@KB.TEST: password login refused"
login "$bo" wrong password && not_ok "sshd: wrong password accepted" ||
    ok "sshd: $bo with a wrong password refused"
kb_ssh_key_login "$AL" "$key" >>"$KB_T/ssh.log" 2>&1 &&
    ok "sshd: key login as $AL works (sshd asks about $al)" ||
    not_ok "sshd: key login as $AL failed"
grep -q "SYSLOG(5): user=$al pam_user=$Al decision=deny reason=key-pair-attached" \
    "$SSHD_LOG" && ok "sshd's PAM refusal names $al and $Al" ||
    not_ok "sshd log: no decision=deny line for $al typed as $Al"

if [ "$kb_failures" -gt 0 ]; then
	echo "--- ssh.log"; tail -n 30 "$KB_T/ssh.log"
	echo "--- sshd log"; tail -n 60 "$SSHD_LOG"
	echo "--- syslog"; grep -a 'pam_keybound\|keybound-keys' "$KB_SYSLOG" |
	    cut -c1-300 | tail -n 40
fi
kb_done
