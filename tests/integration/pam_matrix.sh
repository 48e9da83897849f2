#!/bin/bash
# pam_matrix: pam_keybound.so through real libpam (pam_start_confdir with a
# private configuration directory; /etc/pam.d untouched), the real
# keybound-keys against a throwaway slapd, real local users checked by
# pam_unix.  Stacks: the auth line of config-examples/pam.d-sshd, then
# "auth required pam_unix.so" (or pam_permit.so).
#
#   attached user, correct password            -> failure
#   unattached user                            -> the password decides
#   detach / re-attach in the directory        -> takes effect at once
#   users= scoping, notify
#   directory down, cached "attached"          -> failure
#   directory down, no cache                   -> on_error=deny fails,
#                                                 on_error=allow: password
#   helper missing, exiting 2, hanging         -> on_error, within deadline
#   invalid, hostile and look-alike user names -> never success
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
. "$KB_SRC/tests/lib/pam.sh"
kb_private_syslog "$@"

[ "$(id -u)" = 0 ] || skip "needs root (local users, pam_unix)"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
pam_build_module || fail "cannot build the test module"
pam_helper_real "$KB_KEYS_CMD"

conf=$KB_T/kb.conf
# cache_ttl 0: every call asks the directory, answers still kept for
# offline use.
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" ||
    fail "cannot write keybound.conf"

att=kbpa$$	# a key pair attached
un=kbpu$$	# nothing attached
nc=kbpn$$	# never asked about while the directory was up: no cache
pw_att="Att-$$-pw"
pw_un="Un-$$-pw"
pw_nc="Nc-$$-pw"
kb_make_user "$att" "$pw_att" || fail "useradd $att"
kb_make_user "$un" "$pw_un" || fail "useradd $un"
kb_make_user "$nc" "$pw_nc" || fail "useradd $nc"

kk_keygen pa && kk_add_keypair pa "$KK_PUB" "$KK_FP" "$att@test-host" ||
    fail "cannot add the key pair"
# Attached elsewhere only: must not count for $un here.
kk_keygen pother && kk_add_keypair pother "$KK_PUB" "$KK_FP" \
    "$un@other-host" "${un^^}@test-host" || fail "cannot add pother"

d=$KB_T/pam.d
unix="auth required pam_unix.so nodelay"
permit="auth required pam_permit.so"
svc() { pam_write_service "$d" "$1" "config=$conf $2" "$3" ||
    fail "cannot write service $1"; }
svc u-deny "" "$unix"
svc u-allow "on_error=allow" "$unix"
svc u-root "users=root" "$unix"
svc u-scoped "users=root,$att" "$unix"
svc u-notify "notify" "$unix"
svc u-fast-deny "timeout=2" "$unix"
svc u-fast-allow "timeout=2 on_error=allow" "$unix"
svc p-deny "" "$permit"
svc p-allow "on_error=allow" "$permit"
pam_write_service "$d" u-badconf "config=$KB_T/missing.conf" "$unix" ||
    fail "cannot write service u-badconf"
grep -q "^auth *required *$KB_PAM_MODULE config=" "$d/u-deny" ||
    fail "service not built from config-examples/pam.d-sshd"

# expect SERVICE USER PASSWORD RESULT MESSAGE
expect() {
	local out
	out=$(pam_auth "$d" "$1" "$2" "$3" | tail -n 1)
	check_eq "$out" "$4" "$5"
}

# --- directory up ---------------------------------------------------------
expect u-deny "$att" "$pw_att" PAM_AUTH_ERR \
    "attached user, correct password: refused"
expect u-deny "$att" wrong PAM_AUTH_ERR \
    "attached user, wrong password: refused"
expect u-deny "$un" "$pw_un" PAM_SUCCESS \
    "unattached user, correct password: accepted (pam_unix decides)"
expect u-deny "$un" wrong PAM_AUTH_ERR \
    "unattached user, wrong password: refused (pam_unix decides)"
expect u-deny "$un" "$pw_att" PAM_AUTH_ERR \
    "unattached user, another user's password: refused"
expect p-deny "$att" "$pw_att" PAM_AUTH_ERR \
    "pam_permit stack: attached user refused"
expect p-deny "$un" "" PAM_SUCCESS \
    "pam_permit stack: unattached user passes to pam_permit"

expect u-root "$att" "$pw_att" PAM_SUCCESS \
    "users=root: an attached non-root user is out of scope (password decides)"
expect u-root "$att" wrong PAM_AUTH_ERR \
    "users=root: out of scope, wrong password still refused"
expect u-scoped "$att" "$pw_att" PAM_AUTH_ERR \
    "users=root,$att: the listed attached user is refused"
expect u-scoped "$un" "$pw_un" PAM_SUCCESS \
    "users=root,$att: an unlisted user is left to pam_unix"

out=$(pam_auth "$d" u-notify "$att" "$pw_att")
check_eq "$(tail -n 1 <<<"$out")" PAM_AUTH_ERR "notify: attached user refused"
grep -q '^info: Password login is disabled .*key pair is attached' \
    <<<"$out" && ok "notify: the user is told why" ||
    not_ok "notify: no PAM_TEXT_INFO message: $out"
out=$(pam_auth "$d" u-notify "$un" "$pw_un")
check_eq "$out" PAM_SUCCESS "notify: unattached user sees no message"
out=$(pam_auth "$d" u-deny "$att" "$pw_att")
grep -q '^info:' <<<"$out" && not_ok "message without notify" ||
    ok "without notify nothing tells the client a key is attached"

# Detach and re-attach: effective at the next attempt, nothing restarted.
kk_detach pa "$att@test-host" || fail "ldapmodify detach"
expect u-deny "$att" "$pw_att" PAM_SUCCESS \
    "after detach: password login works at once"
kk_attach pa "$att@test-host" || fail "ldapmodify attach"
expect u-deny "$att" "$pw_att" PAM_AUTH_ERR \
    "after re-attach: password login refused at once"

expect u-badconf "$un" "$pw_un" PAM_AUTHINFO_UNAVAIL \
    "helper exits 2 (config missing): on_error=deny refuses"

# Syslog: one decision line per attempt, with user= and the outcome.
grep -q "pam_keybound(u-deny:auth): user=$att decision=deny reason=key-pair-attached" \
    "$KB_SYSLOG" && ok "syslog: attached decision logged" ||
    not_ok "syslog: no 'decision=deny' line for $att"
grep -q "pam_keybound(u-deny:auth): user=$un decision=ignore reason=not-attached" \
    "$KB_SYSLOG" && ok "syslog: not-attached decision logged" ||
    not_ok "syslog: no 'decision=ignore' line for $un"
grep -q "pam_keybound(u-badconf:auth): user=$un decision=unavailable reason=helper-exit=2 on_error=deny" \
    "$KB_SYSLOG" && ok "syslog: helper failure logged" ||
    not_ok "syslog: no helper-exit=2 line"

# --- user names -------------------------------------------------------------
# Look-alikes of the attached user, with its correct password.
look=$KB_T/lookalike-users.txt
{
	echo "${att^^}"
	echo " $att"
	echo "$att "
	echo "$att*"
	echo "*$att"
	echo "$att\\x0a"
	echo "$att@test-host"
	echo "$att)(uid=*"
	echo "-$att"
	echo "${att}\\xc2\\xa0"
} >"$look"
fix=$KB_SRC/tests/fixtures/pam
total=0
for corpus in "$fix/invalid-users.txt" "$fix/hostile-users.txt" "$look"; do
	for s in u-deny u-allow p-deny; do
		[ "$s" = p-deny ] && [ "$corpus" != "$fix/invalid-users.txt" ] &&
		    continue
		out=$("$KB_PAMTEST" -d "$d" -s "$s" -p "$pw_att" -f "$corpus")
		n=$(sed -n 's/^total=\([0-9]*\) .*/\1/p' <<<"$out")
		total=$((total + ${n:-0}))
		check_eq "$(tail -n 1 <<<"$out" | sed 's/.* //')" success=0 \
		    "$s: $(basename "$corpus"): no name gets in ($n names)"
		if [ "$corpus" = "$fix/invalid-users.txt" ]; then
			check_eq "$(grep -v '^total=' <<<"$out" | cut -f1 |
			    sort -u)" PAM_USER_UNKNOWN \
			    "$s: invalid names get PAM_USER_UNKNOWN"
		fi
	done
done
[ "$total" -ge 200 ] && ok "$total hostile-name attempts, none succeeded" ||
    not_ok "only $total hostile-name attempts"
grep -q 'decision=deny reason=invalid-user-name' "$KB_SYSLOG" &&
    ok "syslog: invalid names logged" || not_ok "syslog: no invalid-name line"
grep 'pam_keybound' "$KB_SYSLOG" | LC_ALL=C grep -q '[^ -~]' &&
    not_ok "syslog: a raw control or non-ASCII byte reached the log" ||
    ok "syslog: every logged name is escaped"

# --- directory down -------------------------------------------------------
slapd_stop
t0=$(kb_ms)
expect u-deny "$att" "$pw_att" PAM_AUTH_ERR \
    "directory down, cached 'attached': refused"
expect u-allow "$att" "$pw_att" PAM_AUTH_ERR \
    "directory down, cached 'attached', on_error=allow: still refused"
expect u-deny "$un" "$pw_un" PAM_SUCCESS \
    "directory down, cached 'nothing attached': the password decides"
expect u-deny "$nc" "$pw_nc" PAM_AUTHINFO_UNAVAIL \
    "directory down, no cache, on_error=deny: refused"
expect p-deny "$nc" "" PAM_AUTHINFO_UNAVAIL \
    "directory down, no cache, on_error=deny, pam_permit stack: refused"
expect u-allow "$nc" "$pw_nc" PAM_SUCCESS \
    "directory down, no cache, on_error=allow: correct password accepted"
expect u-allow "$nc" wrong PAM_AUTH_ERR \
    "directory down, no cache, on_error=allow: wrong password refused"
ms=$(($(kb_ms) - t0))
grep "keybound-keys" "$KB_SYSLOG" | grep "user=$att" | grep -q "source=cache" &&
    ok "the 'attached' answer came from keybound-keys' cache" ||
    not_ok "no cache answer logged by keybound-keys for $att"
[ "$ms" -lt 15000 ] && ok "seven attempts with the directory down: ${ms} ms" ||
    not_ok "directory-down attempts took ${ms} ms"

# --- helper missing or hanging ---------------------------------------------
pam_helper_missing
expect u-deny "$un" "$pw_un" PAM_AUTHINFO_UNAVAIL \
    "helper missing, on_error=deny: refused"
expect p-deny "$un" "" PAM_AUTHINFO_UNAVAIL \
    "helper missing, on_error=deny, pam_permit stack: refused"
expect u-allow "$un" "$pw_un" PAM_SUCCESS \
    "helper missing, on_error=allow: the password decides (correct)"
expect u-allow "$un" wrong PAM_AUTH_ERR \
    "helper missing, on_error=allow: the password decides (wrong)"
grep -q "decision=unavailable reason=helper-exec-failed (No such file" \
    "$KB_SYSLOG" && ok "syslog: missing helper named as such" ||
    not_ok "syslog: no helper-exec-failed line"

pam_helper_fake "sleep 60"
for s in u-fast-deny u-fast-allow; do
	t0=$(kb_ms)
	out=$(pam_auth "$d" "$s" "$un" "$pw_un" | tail -n 1)
	ms=$(($(kb_ms) - t0))
	if [ "$s" = u-fast-deny ]; then
		check_eq "$out" PAM_AUTHINFO_UNAVAIL \
		    "hanging helper, on_error=deny: refused"
	else
		check_eq "$out" PAM_SUCCESS \
		    "hanging helper, on_error=allow: the password decides"
	fi
	[ "$ms" -ge 1900 ] && [ "$ms" -lt 5000 ] &&
	    ok "$s: answered at the 2 s deadline (${ms} ms)" ||
	    not_ok "$s: took ${ms} ms, deadline 2 s"
done
sleep 0.2
pgrep -f "$KB_PAM_BIN/keybound-keys" >/dev/null &&
    not_ok "a killed helper is still running" ||
    ok "hanging helpers were killed"
grep -q "decision=unavailable reason=helper-timeout on_error=deny" \
    "$KB_SYSLOG" && ok "syslog: timeout logged" ||
    not_ok "syslog: no helper-timeout line"

pam_helper_fake signal
expect u-deny "$un" "$pw_un" PAM_AUTHINFO_UNAVAIL \
    "helper killed by a signal, on_error=deny: refused"
pam_helper_fake "exit 1"
expect u-deny "$un" "$pw_un" PAM_AUTHINFO_UNAVAIL \
    "helper exit 1, on_error=deny: refused"
expect u-allow "$un" "$pw_un" PAM_SUCCESS \
    "helper exit 1, on_error=allow: the password decides"

kb_done
