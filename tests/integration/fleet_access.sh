#!/bin/bash
# fleet_access: host groups, time-boxed attachments and the blocked flag,
# on the host side, against a real slapd and a real sshd (UsePAM yes under
# pam_wrapper, the module first in auth), with the directory written as an
# administrator's tools would write it (ldapmodify as the root DN).
#
#   USER@+GROUP logs in on a member instance only; the group name and the
#   member value match byte for byte; adding this instance to a group
#   grants and removing it revokes within cache_ttl, nothing restarted;
#   the password is refused while a pair is attached through a group.
#   An attachment that ends is served with expiry-time, stops logging in
#   at its end (also from a fresh cached answer), --has-keys stops counting
#   it and the password works again.  A blocked pair is refused however it
#   is attached.  Hostile group entries are skipped and logged.
#   One lookup: one connection, one bind, two searches.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
. "$KB_SRC/tests/lib/pam.sh"
kb_private_syslog "$@"
[ "$(id -u)" = 0 ] || skip "needs root (sshd, local users)"
ldconfig -p | grep -q libpam_wrapper.so || skip "libpam-wrapper missing"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
pam_build_module || fail "cannot build the test module"
pam_helper_real "$KB_KEYS_CMD"

TTL=1
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl $TTL" ||
    fail "cannot write keybound.conf"
conf60=$KB_T/kb60.conf
kb_write_config "$conf60" "cache_dir $KB_CACHE_DIR" "cache_ttl 60" ||
    fail "cannot write keybound.conf"

u=kbfa$$
t=kbft$$
pw_u="Group-$$-pw"
pw_t="Timed-$$-pw"
kb_make_user "$u" "$pw_u" || fail "useradd $u"
kb_make_user "$t" "$pw_t" || fail "useradd $t"

group() {	# group NAME MEMBER...
	local n=$1 m
	shift
	{
		echo "dn: cn=$n,$SLAPD_BASE"
		echo "objectClass: keyboundHostGroup"
		echo "cn: $n"
		for m in "$@"; do echo "keyboundMember: $m"; done
	} | kk_ldap add
}
member() {	# member add|delete GROUP INSTANCE
	printf 'dn: cn=%s,%s\nchangetype: modify\n%s: keyboundMember\nkeyboundMember: %s\n' \
	    "$2" "$SLAPD_BASE" "$1" "$3" | kk_ldap modify
}
set_attr() {	# set_attr PAIR ATTR VALUE: replace
	printf 'dn: cn=%s,%s\nchangetype: modify\nreplace: %s\n%s: %s\n' \
	    "$1" "$SLAPD_BASE" "$2" "$2" "$3" | kk_ldap modify
}
gentime() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }
wait_ttl() { sleep "$TTL.2"; }

group web test-host other-01 || fail "add group web"
group db other-02 || fail "add group db"
kk_keygen kweb && kk_add_keypair kweb "$KK_PUB" "$KK_FP" "$u@+web" ||
    fail "add kweb"
kk_keygen kdb && kk_add_keypair kdb "$KK_PUB" "$KK_FP" "$u@+db" ||
    fail "add kdb"
kk_keygen kcase && kk_add_keypair kcase "$KK_PUB" "$KK_FP" "$u@+WEB" \
    "$u@+web " "${u^^}@+web" || fail "add kcase"

# --- the lookup: one connection, one bind, two searches ------------------
kb_write_config "$KB_T/kb0.conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" ||
    fail "cannot write keybound.conf"
conns=$(grep -c ' ACCEPT from' "$SLAPD_LOG")
binds=$(grep -c ' BIND ' "$SLAPD_LOG")
before=$(slapd_count_searches)
kk_as_cmd -c "$KB_T/kb0.conf" "$u" >"$KB_T/out" 2>/dev/null
check_eq "$?" 0 "keybound-keys as the command user exits 0"
check_eq "$(awk '{print $NF}' "$KB_T/out")" "keybound:kweb" \
    "only the pair attached through a group this instance is in"
check_eq "$(( $(grep -c ' ACCEPT from' "$SLAPD_LOG") - conns ))" 1 \
    "one connection"
[ "$(( $(grep -c ' BIND ' "$SLAPD_LOG") - binds ))" -le 1 ] &&
    ok "at most one bind" || not_ok "more than one bind for one lookup"
check_eq "$(( $(slapd_count_searches) - before ))" 2 \
    "two searches: host groups, then keys"
grep -q 'filter="(&(objectClass=keyboundHostGroup)(keyboundMember=test-host))"' \
    "$SLAPD_LOG" && ok "the group search asks for this instance's groups" ||
    not_ok "no group search in the slapd log"
grep -Eq "filter=\"\(&\(objectClass=keyboundKeyPair\)\(\|\(keyboundAttachment=$u@test-host\)\(keyboundAttachment=$u@\+web\)\)\)\"" \
    "$SLAPD_LOG" && ok "the key search names USER@INSTANCE and USER@+web" ||
    not_ok "key search filter not as expected"

# --- sshd: key and password through a group ------------------------------
pamdir=$KB_T/sshd-pam
pam_write_service "$pamdir" sshd "config=$conf" \
    "auth required pam_unix.so nodelay" \
    "account required pam_unix.so" \
    "password required pam_deny.so" \
    "session required pam_permit.so" || fail "cannot write the service"
pam_wrapper_cleanup_at_exit
sshd_start "$conf" --pam "$pamdir" "PasswordAuthentication yes" ||
    fail "sshd did not start"
sshd_pid=$SSHD_PID
slapd_pid=$SLAPD_PID
pwlogin() { kb_ssh_password_login "$1" "$2" password >>"$KB_T/ssh.log" 2>&1; }
keylogin() { kb_ssh_key_login "$1" "$KB_T/$2" >>"$KB_T/ssh.log" 2>&1; }

keylogin "$u" kweb && ok "USER@+web logs in on a member instance" ||
    not_ok "USER@+web key refused on a member instance"
keylogin "$u" kdb && not_ok "USER@+db logged in on a non-member" ||
    ok "USER@+db refused on an instance outside db"
keylogin "$u" kcase && not_ok "a group name spelt otherwise logged in" ||
    ok "USER@+WEB, a trailing space, another user's case: all refused"
pwlogin "$u" "$pw_u" && not_ok "password accepted while attached via web" ||
    ok "password refused while a pair is attached through a group"

# --- membership: add grants, remove revokes, within cache_ttl ------------
member add db test-host || fail "add test-host to db"
wait_ttl
keylogin "$u" kdb && ok "added to db: USER@+db logs in within cache_ttl" ||
    not_ok "added to db: still refused after cache_ttl"
member delete web test-host || fail "remove test-host from web"
member delete db test-host || fail "remove test-host from db"
wait_ttl
keylogin "$u" kweb && not_ok "removed from web: key still logs in" ||
    ok "removed from web: refused within cache_ttl, nothing restarted"
keylogin "$u" kdb && not_ok "removed from db: key still logs in" ||
    ok "removed from db: refused within cache_ttl"
pwlogin "$u" "$pw_u" && ok "in no group any more: the password works again" ||
    not_ok "password still refused after leaving every group"
member add web test-host || fail "add test-host to web again"

# --- hostile group entries: skipped, logged, nothing granted -------------
big=$(head -c 65536 /dev/zero | tr '\0' a)
{
	echo "dn: cn=x\\29\\28cn=*,$SLAPD_BASE"
	echo "objectClass: keyboundHostGroup"
	echo "cn: x)(cn=*"
	echo "keyboundMember: test-host"
	echo
	echo "dn: cn=big,$SLAPD_BASE"
	echo "objectClass: keyboundHostGroup"
	echo "cn: big"
	echo "keyboundMember: $big"
	echo
	echo "dn: cn=upper,$SLAPD_BASE"
	echo "objectClass: keyboundHostGroup"
	echo "cn: upper"
	echo "keyboundMember: TEST-HOST"
	echo
	echo "dn: cn=spaced,$SLAPD_BASE"
	echo "objectClass: keyboundHostGroup"
	echo "cn: spaced"
	echo "keyboundMember:: $(printf ' test-host' | base64)"
} | kk_ldap add || fail "add hostile groups"
kk_keygen khost && kk_add_keypair khost "$KK_PUB" "$KK_FP" "$u@+x)(cn=*" \
    "$u@+big" "$u@+upper" "$u@+spaced" || fail "add khost"
wait_ttl
keylogin "$u" khost && not_ok "a hostile group granted a login" ||
    ok "hostile group name, 64 KiB member, other case, leading space: refused"
keylogin "$u" kweb && ok "the valid group still grants beside them" ||
    not_ok "valid group stopped working beside hostile ones"
kb_syslog_wait "keybound-keys\[[0-9]+\]: user=$u .*event=entry-skipped .*detail=\"?malformed host group" &&
    ok "the malformed group is logged" || not_ok "no log line for the bad group"

# A big group: the matched-values control keeps its other members on the
# server (a 70,000-byte value would otherwise be dropped and logged).
huge=$(head -c 70000 /dev/zero | tr '\0' b)
printf 'dn: cn=wide,%s\nobjectClass: keyboundHostGroup\ncn: wide\nkeyboundMember: test-host\nkeyboundMember: %s\n' \
    "$SLAPD_BASE" "$huge" | kk_ldap add || fail "add group wide"
kk_keygen kwide && kk_add_keypair kwide "$KK_PUB" "$KK_FP" "$u@+wide" ||
    fail "add kwide"
wait_ttl
keylogin "$u" kwide && ok "a group with a huge member value still grants" ||
    not_ok "kwide refused"
grep -a "user=$u .*event=values-dropped" "$KB_SYSLOG" >/dev/null &&
    not_ok "the group's other members came back (values dropped)" ||
    ok "only this instance's member value came back (matched values)"

# --- time-boxed: served with expiry-time, refused after the end ----------
end=$(( $(date +%s) + 8 ))
kk_keygen kbox && kk_add_keypair kbox "$KK_PUB" "$KK_FP" "$t@test-host" -- \
    "keyboundAttachmentEnd: $t@test-host $(gentime "$end")" ||
    fail "add kbox"
kk_run "$conf60" "$t"
check_eq "$KK_RC" 0 "time-boxed: keybound-keys exits 0"
grep -q "^expiry-time=\"$(gentime "$end")\" ssh-ed25519 " \
    "$KK_OUT" && ok "time-boxed key served with expiry-time = the end" ||
    not_ok "no expiry-time on the time-boxed key: $(cat "$KK_OUT")"
keylogin "$t" kbox && ok "time-boxed key logs in before its end" ||
    not_ok "time-boxed key refused before its end"
pwlogin "$t" "$pw_t" && not_ok "password accepted during the attachment" ||
    ok "password refused while the time-boxed attachment lasts"
while [ "$(date +%s)" -le "$end" ]; do sleep 0.2; done
kk_run "$conf60" "$t"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "0:0" \
    "after the end: the fresh cached answer serves nothing"
keylogin "$t" kbox && not_ok "time-boxed key logged in after its end" ||
    ok "time-boxed key refused after its end"
kk_run "$conf" --has-keys "$t"
check_eq "$KK_RC" 3 "after the end: --has-keys counts nothing (3)"
pwlogin "$t" "$pw_t" && ok "after the end: the password works again" ||
    not_ok "password still refused after the attachment ended"
kb_syslog_wait "keybound-keys\[[0-9]+\]: user=$t .*event=key-skipped keypair=kbox .*detail=\"?attachment ended" &&
    ok "the ended attachment is logged" || not_ok "no log line for the end"

# --- blocked: refused directly and through a group -----------------------
kk_keygen kblk && kk_add_keypair kblk "$KK_PUB" "$KK_FP" "$t@test-host" \
    "$u@+web" || fail "add kblk"
wait_ttl
keylogin "$t" kblk && keylogin "$u" kblk &&
    ok "before blocking: the pair logs in directly and through web" ||
    not_ok "kblk did not log in before blocking"
set_attr kblk keyboundBlocked TRUE || fail "flag kblk"
wait_ttl
keylogin "$t" kblk && not_ok "blocked pair logged in (direct)" ||
    ok "blocked pair refused when attached directly"
keylogin "$u" kblk && not_ok "blocked pair logged in (group)" ||
    ok "blocked pair refused when attached through a group"
kk_run "$conf" --has-keys "$t"
check_eq "$KK_RC" 3 "a blocked pair is not counted by --has-keys"
kb_syslog_wait "keybound-keys\[[0-9]+\]: user=$t .*event=key-skipped keypair=kblk reason=\"key is blocked\"" &&
    ok "the blocked pair is logged" || not_ok "no log line for the block"

# --- keybound check explains every grant and every refusal ---------------
kk_keygen kelse && kk_add_keypair kelse "$KK_PUB" "$KK_FP" "$t@other-01" \
    "$t@+db" || fail "add kelse"
gend=$(( $(date +%s) + 7200 ))
kk_keygen kgrp && kk_add_keypair kgrp "$KK_PUB" "$KK_FP" "$t@+web" -- \
    "keyboundAttachmentEnd: $t@+web $(gentime "$gend")" \
    "keyboundKeyOptions: restrict" || fail "add kgrp"
kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
js() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
json=$(kb --json check "$t@test-host" 2>/dev/null)
check_eq "$?" 0 "check exits 0"
check_eq "$(echo "$json" | js '[(k["name"], k["via"], k["until"], k["options"]) for k in d["keys"]]')" \
    "[('kgrp', '$t@+web', '$(date -u -d "@$gend" +%Y-%m-%dT%H:%M:%SZ)', 'restrict')]" \
    "check --json: the key, the group that granted it, its end, its options"
check_eq "$(echo "$json" | js 'sorted((r["name"], r["reason"]) for r in d["refused"])')" \
    "[('kblk', 'blocked'), ('kbox', 'attachment ended'), ('kelse', 'attached elsewhere: $t@other-01, $t@+db (this instance is not a member)')]" \
    "check --json: each pair naming the user that is not served, with the reason"
check_eq "$(echo "$json" | js 'd["password_login_refused"]')" True \
    "check --json: password refused"
out=$(kb check "$t@test-host" 2>/dev/null)
echo "$out" | grep -Eq "^#   kgrp via $t@\+web, until [0-9TZ:-]+ \((1h5[0-9]m|2h0m) left\), options restrict\$" &&
    ok "check: the grant explained in words" ||
    not_ok "check text: $(echo "$out" | grep kgrp)"
echo "$out" | grep -q "^# not served: kblk: blocked\$" &&
    ok "check: the blocked pair named with its reason" ||
    not_ok "check text lacks the blocked pair"

check_eq "$SSHD_PID:$SLAPD_PID" "$sshd_pid:$slapd_pid" "nothing restarted"
if [ "$kb_failures" -gt 0 ]; then
	echo "--- ssh.log"; tail -n 30 "$KB_T/ssh.log"
	echo "--- syslog"; grep -a 'keybound' "$KB_SYSLOG" | tail -n 30
fi
kb_done
