#!/bin/bash
# samba_ad: keybound against a real Active Directory domain controller
# (Samba), provisioned by this test in its temporary directory.
#
#   config-examples/schema/keybound-ad.ldif loads through LDAPS as the
#   domain Administrator (schema updates allowed in smb.conf);
#   config-examples/ad/keybound.conf, pointed at the DC: keybound-keys
#   binds as a domain reader account over LDAPS (and StartTLS), the
#   keybound CLI as a delegated domain admin: create, attach, set
#   (GeneralizedTime in AD's form), check, delete refused while attached
#   (AD has no assertion control), detach, delete; a real sshd with
#   pam_keybound.so under pam_wrapper: key login once attached, password
#   refused while attached and accepted after detach; an account without
#   read access on the OU sees no key pairs;
#   config-examples/ad/keybound-custom.conf: the key kept in a user
#   attribute logs in through the same sshd.
#
# Samba's LDAP server listens on ports 389 and 636 and nothing else (no
# smb.conf option changes them), so the test re-runs itself in a private
# network namespace (unshare -n) where those ports and the DC's other
# services exist only on its own loopback.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/ca.sh"
. "$KB_SRC/tests/lib/pam.sh"

[ "$(id -u)" = 0 ] || skip "needs root (network namespace, sshd, users)"
for b in samba samba-tool ldapmodify ldapsearch sshpass python3; do
	command -v "$b" >/dev/null ||
	    skip "$b missing (tests/deps.sh installs samba, ldap-utils, sshpass)"
done
[ -d /usr/share/samba/setup ] ||
    skip "samba-ad-provision missing (tests/deps.sh)"
ldconfig -p | grep -q libpam_wrapper.so || skip "libpam-wrapper missing"
[ -x "$KB_BUILD/keybound" ] && [ -x "$KB_BUILD/keybound-keys" ] ||
    fail "keybound not built"

if [ -z "${KB_AD_NETNS:-}" ]; then
	unshare -n true 2>/dev/null ||
	    skip "cannot create a network namespace (unshare -n), and Samba's LDAP ports 389/636 are fixed"
	exec env KB_AD_NETNS=1 unshare -n bash "$0" "$@"
fi
ip link set lo up || fail "cannot bring up loopback in the namespace"

kb_tmpdir
t_start=$(kb_ms)
D=$KB_T/dc
REALM=KBTEST.LAN
DOMDN=DC=kbtest,DC=lan
UPN=kbtest.lan
SCHEMA=$KB_SRC/config-examples/schema/keybound-ad.ldif
EX_CONF=$KB_SRC/config-examples/ad/keybound.conf
EX_CUSTOM=$KB_SRC/config-examples/ad/keybound-custom.conf

# The DC's TLS certificate from the test CA (Samba would make a
# self-signed one for its own name otherwise).
kb_make_ca "$KB_T/ca" test-ca &&
    kb_make_cert "$KB_T/ca" test-ca dc1 \
    "DNS:dc1.$UPN,DNS:localhost,IP:127.0.0.1" || fail "cannot make the CA"
CA=$KB_T/ca/test-ca.crt

# Passwords meet AD's default complexity rules.
pw_admin="Adm-$$-${RANDOM}x"
pw_svc="Svc-$$-${RANDOM}x"
pw_kbadmin="Kba-$$-${RANDOM}x"
pw_other="Oth-$$-${RANDOM}x"
(umask 077
printf '%s\n' "$pw_svc" >"$KB_T/svc.pw"
printf '%s\n' "$pw_kbadmin" >"$KB_T/kbadmin.pw"
printf '%s\n' "$pw_other" >"$KB_T/other.pw"
printf '%s\n' wrong-password >"$KB_T/wrong.pw")

# --- provision and start the DC ----------------------------------------------
# -s: an empty base config, so nothing of the host's /etc/samba/smb.conf
# is copied into the DC's.  Only the LDAP service runs.
: >"$KB_T/base.conf"
t0=$(kb_ms)
timeout 600 samba-tool domain provision -s "$KB_T/base.conf" \
    --targetdir="$D" --realm="$REALM" --domain=KBTEST --server-role=dc \
    --dns-backend=NONE --host-name=dc1 --host-ip=127.0.0.1 \
    --adminpass="$pw_admin" \
    --option="interfaces = lo" --option="bind interfaces only = yes" \
    --option="server services = ldap" \
    --option="dsdb:schema update allowed = true" \
    --option="log file = $D/log.samba" \
    --option="pid directory = $D/run" \
    --option="tls enabled = yes" \
    --option="tls keyfile = $KB_T/ca/dc1.key" \
    --option="tls certfile = $KB_T/ca/dc1.crt" \
    --option="tls cafile = $CA" \
    >"$KB_T/provision.log" 2>&1 || {
	tail -n 30 "$KB_T/provision.log" >&2
	fail "samba-tool domain provision failed"
}
ms_provision=$(($(kb_ms) - t0))
ok "provisioned a throwaway AD domain ($REALM) in ${ms_provision} ms"
mkdir -p "$D/run"

t0=$(kb_ms)
# -F --no-process-group: in the foreground, stopped by its PID;
# --maximum-runtime bounds it should this script be killed.
samba -s "$D/etc/smb.conf" -F --no-process-group -M single \
    --debug-stdout -d 1 --maximum-runtime=1500 \
    >"$KB_T/samba.log" 2>&1 </dev/null &
SAMBA_PID=$!
kb_kill_at_exit "$SAMBA_PID"
kb_wait_port 636 120 || { tail -n 30 "$KB_T/samba.log" >&2
	fail "samba did not listen on 636"; }
kb_wait_port 389 10 || fail "samba did not listen on 389"
ms_start=$(($(kb_ms) - t0))
ok "samba AD DC answers on 127.0.0.1:389/636 after ${ms_start} ms"

# ldap-utils: our CA, no ldaprc or ldap.conf of the host.
printf 'TLS_CACERT %s\nTLS_REQCERT demand\n' "$CA" >"$KB_T/ldap.conf"
export LDAPCONF=$KB_T/ldap.conf LDAPRC=kb-no-ldaprc-$$
as_admin() {	# as_admin TOOL [ARGS...]: as the domain Administrator
	local tool=$1
	shift
	"$tool" -x -H ldaps://127.0.0.1 -D "Administrator@$UPN" \
	    -w "$pw_admin" "$@"
}

# --- the schema ---------------------------------------------------------------
t0=$(kb_ms)
sed "s/DC=X\$/$DOMDN/" "$SCHEMA" | as_admin ldapmodify \
    >"$KB_T/schema.log" 2>&1
check_eq "$?" 0 "config-examples/schema/keybound-ad.ldif loads over LDAPS as Administrator"
ms_schema=$(($(kb_ms) - t0))
as_admin ldapsearch -LLL -o ldif-wrap=no \
    -b "CN=Schema,CN=Configuration,$DOMDN" \
    '(|(lDAPDisplayName=keybound*))' lDAPDisplayName attributeID \
    governsID searchFlags isSingleValued >"$KB_T/schema.out" 2>&1
for n in keyboundPublicKey keyboundFingerprint keyboundAttachment \
    keyboundNotAfter keyboundKeyOptions keyboundKeyPair keyboundMember \
    keyboundAttachmentEnd keyboundBlocked keyboundHostGroup \
    keyboundBlockedKey keyboundSignature keyboundTombstone; do
	grep -qx "lDAPDisplayName: $n" "$KB_T/schema.out" &&
	    ok "the DC's schema has $n" || not_ok "the DC's schema lacks $n"
done
check_eq "$(grep -c '^searchFlags: 1$' "$KB_T/schema.out")" 4 \
    "four attributes indexed (searchFlags 1)"

# --- accounts, OUs, permissions -------------------------------------------------
# One LDAPS add as Administrator; samba-tool (a second or more per call)
# only for the permissions.
H=(-H "ldb://$D/private/sam.ldb" -s "$D/etc/smb.conf")
st() { samba-tool "$@" "${H[@]}" >>"$KB_T/samba-tool.log" 2>&1 ||
    fail "samba-tool $1 $2 $3 failed"; }
# unicodePwd: the quoted password in UTF-16LE (set over TLS only)
upw() { printf '"%s"' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 -w0; }
aduser() {	# aduser NAME PASSWORD CONTAINER: an enabled domain user
	printf 'dn: CN=%s,%s\nobjectClass: user\nsAMAccountName: %s\n' \
	    "$1" "$3" "$1"
	printf 'userAccountControl: 512\nunicodePwd:: %s\n\n' "$(upw "$2")"
}
sid() {		# sid DN: its objectSid as S-1-5-...
	as_admin ldapsearch -LLL -o ldif-wrap=no -b "$1" -s base \
	    '(objectClass=*)' objectSid | sed -n 's/^objectSid:: //p' |
	    python3 -c 'import base64, struct, sys
b = base64.b64decode(sys.stdin.read())
subs = struct.unpack("<%dI" % b[1], b[8:8 + 4 * b[1]])
print("S-%d-%d" % (b[0], int.from_bytes(b[2:8], "big")) +
    "".join("-%d" % x for x in subs))'
}
t0=$(kb_ms)
{
	for ou in keypairs Staff Groups; do
		printf 'dn: OU=%s,%s\nobjectClass: organizationalUnit\n\n' \
		    "$ou" "$DOMDN"
	done
	aduser svc-keybound "$pw_svc" "CN=Users,$DOMDN"
	aduser kb-admin "$pw_kbadmin" "CN=Users,$DOMDN"
	aduser kb-other "$pw_other" "CN=Users,$DOMDN"
	printf 'dn: CN=keybound-admins,CN=Users,%s\nobjectClass: group\n' \
	    "$DOMDN"
	printf 'member: CN=kb-admin,CN=Users,%s\n\n' "$DOMDN"
	printf 'dn: CN=ssh-key-users,OU=Groups,%s\nobjectClass: group\n\n' \
	    "$DOMDN"
} | as_admin ldapadd >>"$KB_T/accounts.log" 2>&1 ||
    { cat "$KB_T/accounts.log" >&2; fail "cannot add the accounts"; }
sid_svc=$(sid "CN=svc-keybound,CN=Users,$DOMDN")
sid_adm=$(sid "CN=keybound-admins,CN=Users,$DOMDN")
[ -n "$sid_svc" ] && [ -n "$sid_adm" ] || fail "cannot read the SIDs"
# The reader reads and lists; keybound-admins create, delete and write.
st dsacl set --objectdn="OU=keypairs,$DOMDN" \
    --sddl="(A;CI;RPLCLORC;;;$sid_svc)(A;CI;CCDCLCSWRPWPLORCSDDT;;;$sid_adm)"
ms_accounts=$(($(kb_ms) - t0))
ok "accounts, OUs and the OU's permissions in ${ms_accounts} ms"

# --- keybound.conf from the example ------------------------------------------
kb_install_keys_cmd || fail "cannot install keybound-keys"
install -o root -g "$KB_CMD_USER" -m 0640 "$KB_T/svc.pw" "$KB_T/bindpw"
# ad_conf EXAMPLE OUT [LINE...]: the example pointed at this DC.  The
# time limits leave room for a DC on a loaded 2-core machine (a real one
# answers in milliseconds; the example's limits stay as shipped).
ad_conf() {
	local ex=$1 out=$2 line
	shift 2
	{
		sed -e "s/DC=example,DC=com/$DOMDN/g" \
		    -e "s/^timeout .*/timeout 15/" \
		    -e "s/^network_timeout .*/network_timeout 5/" \
		    -e "s|^uri .*|uri ldaps://127.0.0.1|" \
		    -e "s|^tls_cacert .*|tls_cacert $CA|" \
		    -e "s|^bindpw_file .*|bindpw_file $KB_T/bindpw|" "$ex"
		echo "cache_dir $KB_CACHE_DIR"
		echo "cache_ttl 0"
		echo "instance test-host"
		for line in "$@"; do
			echo "$line"
		done
	} >"$out"
	chmod 0644 "$out"
}
conf=$KB_T/kb.conf
ad_conf "$EX_CONF" "$conf"

kb() {
	"$KB_BUILD/keybound" -c "$conf" -H ldaps://127.0.0.1 \
	    -D "CN=kb-admin,CN=Users,$DOMDN" -y "$KB_T/kbadmin.pw" "$@"
}
keys() {	# keys CONF USER: keybound-keys as sshd runs it; KEYS_RC
	"$KB_BUILD/tests/tools/kb-sshdexec" "$KB_KEYS_CMD" -c "$1" "$2" \
	    >"$KB_T/keys.out" 2>"$KB_T/keys.err"
	KEYS_RC=$?
}

# --- sshd with pam_keybound.so, a local user -------------------------------------
user=kbad$$
pw_user="Usr-$$-pw"
kb_make_user "$user" "$pw_user" || fail "useradd $user"
pam_build_module || fail "cannot build the test module"
pam_helper_real "$KB_KEYS_CMD"
pamdir=$KB_T/sshd-pam
pam_write_service "$pamdir" sshd "config=$conf timeout=30" \
    "auth required pam_unix.so nodelay" \
    "account required pam_unix.so" \
    "password required pam_deny.so" \
    "session required pam_permit.so" || fail "cannot write the service"
pam_wrapper_cleanup_at_exit
export PAM_WRAPPER_DEBUGLEVEL=2
sshd_start "$conf" --pam "$pamdir" "PasswordAuthentication yes" ||
    fail "sshd did not start"
login() {	# login PASSWORD -> 0 if logged in with the password
	kb_ssh_password_login "$user" "$1" password >>"$KB_T/ssh.log" 2>&1
}
keylogin() {	# keylogin KEYFILE -> 0 if logged in with the key
	kb_ssh_key_login "$user" "$1" >>"$KB_T/ssh.log" 2>&1
}
K=$KB_T/keys
mkdir -m 0700 "$K"

# --- the login flow ----------------------------------------------------------------
t0=$(kb_ms)
kb create adk1 -o "$K/adk1" >"$KB_T/cli.out" 2>&1
check_eq "$?" 0 "create: a key pair in AD as the delegated admin"
kb create adk1 -o "$K/adk1-again" >>"$KB_T/cli.out" 2>&1
check_eq "$?" 4 "create: the same name again is refused (exists)"
keylogin "$K/adk1"
check_eq "$?" 255 "not attached: key login refused"
login "$pw_user"
check_eq "$?" 0 "not attached: password login works"

kb attach adk1 "$user@test-host" >>"$KB_T/cli.out" 2>&1
check_eq "$?" 0 "attach"
keys "$conf" "$user"
check_eq "$KEYS_RC:$(grep -c ' keybound:adk1$' "$KB_T/keys.out")" 0:1 \
    "keybound-keys binds as the reader over LDAPS and serves the key"
out=$(kb_ssh_key_login "$user" "$K/adk1" id -un 2>>"$KB_T/ssh.log")
check_eq "$?:$out" "0:$user" "attached: key login works"
login "$pw_user" && not_ok "attached: password login accepted" ||
    ok "attached: password login refused"
grep -q "user=$user decision=deny reason=key-pair-attached" "$SSHD_LOG" &&
    ok "PAM logged the refusal" || not_ok "no decision=deny line from PAM"

json=$(kb --json check "$user@test-host" 2>>"$KB_T/cli.out")
check_eq "$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["keys"]), d["password_login_refused"])')" \
    "1 True" "check: one key, password refused"

# set: keyboundNotAfter written in the form AD accepts
kb set adk1 --expires 2099-12-31T23:59:59Z --options restrict \
    --description 'AD test' >>"$KB_T/cli.out" 2>&1
check_eq "$?" 0 "set --expires --options --description"
as_admin ldapsearch -LLL -b "OU=keypairs,$DOMDN" '(cn=adk1)' \
    keyboundNotAfter keyboundKeyOptions >"$KB_T/set.out" 2>&1
grep -q '^keyboundNotAfter: 20991231235959' "$KB_T/set.out" &&
    grep -q '^keyboundKeyOptions: restrict$' "$KB_T/set.out" &&
    ok "the DC holds the expiry and the options" ||
    not_ok "set did not reach the DC: $(cat "$KB_T/set.out")"
json=$(kb --json show adk1 2>>"$KB_T/cli.out")
check_eq "$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["not_after"])' 2>&1)" \
    "2099-12-31T23:59:59Z" "show reads the expiry back"
keys "$conf" "$user"
grep -q '^restrict,expiry-time="20991231235959Z" ssh-ed25519 ' \
    "$KB_T/keys.out" && ok "keybound-keys renders AD's expiry and options" ||
    not_ok "keybound-keys output: $(cat "$KB_T/keys.out")"
kb set nosuch --description x >>"$KB_T/cli.out" 2>&1
check_eq "$?" 3 "set on a missing key pair fails (not found)"

# delete: refused while attached (no assertion control in AD)
"$KB_BUILD/tests/tools/kb-dirtool" -c "$conf" -H ldaps://127.0.0.1 \
    -D "CN=kb-admin,CN=Users,$DOMDN" -y "$KB_T/kbadmin.pw" \
    delete -a '(!(keyboundAttachment=*))' "CN=adk1,OU=keypairs,$DOMDN" \
    >/dev/null 2>&1
check_eq "$?" 83 "the DC refuses the assertion control: KB_ERR_DIR_NO_CONTROL"
kb delete adk1 >"$KB_T/delete.out" 2>&1
check_eq "$?" 4 "delete refused while attached (conflict)"
grep -q "cannot delete key pair adk1: attached to $user@test-host" \
    "$KB_T/delete.out" && ok "delete names the attachment" ||
    not_ok "delete said: $(cat "$KB_T/delete.out")"
keylogin "$K/adk1"
check_eq "$?" 0 "the refused delete left the key pair working"

# StartTLS on 389 gives the same answer
ad_conf "$EX_CONF" "$KB_T/starttls.conf" "starttls yes"
sed -i "s|^uri .*|uri ldap://127.0.0.1|" "$KB_T/starttls.conf"
keys "$KB_T/starttls.conf" "$user"
check_eq "$KEYS_RC:$(grep -c ' keybound:adk1$' "$KB_T/keys.out")" 0:1 \
    "keybound-keys over StartTLS serves the key"

# an account without read access on the OU sees nothing; a wrong
# password is an error, not "nothing attached"
ad_conf "$EX_CONF" "$KB_T/other.conf"
sed -i "s/^binddn .*/binddn CN=kb-other,CN=Users,$DOMDN/" "$KB_T/other.conf"
install -o root -g "$KB_CMD_USER" -m 0640 "$KB_T/other.pw" "$KB_T/bindpw"
keys "$KB_T/other.conf" "$user"
check_eq "$KEYS_RC:$(grep -c . "$KB_T/keys.out")" 0:0 \
    "an account without read access on the OU gets no keys"
# (offline_max_age 0: no cached answer stands in for the refused bind)
ad_conf "$EX_CONF" "$KB_T/nocache.conf" "offline_max_age 0"
install -o root -g "$KB_CMD_USER" -m 0640 "$KB_T/wrong.pw" "$KB_T/bindpw"
keys "$KB_T/nocache.conf" "$user"
check_eq "$KEYS_RC" 1 "a wrong reader password: exit 1 (no answer)"
install -o root -g "$KB_CMD_USER" -m 0640 "$KB_T/svc.pw" "$KB_T/bindpw"

# detach: key refused, password back; then delete
kb detach adk1 "$user@test-host" >>"$KB_T/cli.out" 2>&1
check_eq "$?" 0 "detach"
keylogin "$K/adk1"
check_eq "$?" 255 "detached: key login refused"
login "$pw_user"
check_eq "$?" 0 "detached: password login works again"
kb delete adk1 >>"$KB_T/cli.out" 2>&1
check_eq "$?" 0 "delete once detached"
kb show adk1 >>"$KB_T/cli.out" 2>&1
check_eq "$?" 3 "show: the key pair is gone (not found)"
kb delete adk1 >>"$KB_T/cli.out" 2>&1
check_eq "$?" 3 "delete of a missing key pair fails (not found)"
ms_flow=$(($(kb_ms) - t0))

# --- the custom profile: the key in a user attribute ------------------------------
t0=$(kb_ms)
ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/custom" || fail "ssh-keygen"
{
	aduser "$user" "$pw_user-AD1" "OU=Staff,$DOMDN"
	printf 'dn: CN=ssh-key-users,OU=Groups,%s\nchangetype: modify\n' \
	    "$DOMDN"
	printf 'add: member\nmember: CN=%s,OU=Staff,%s\n-\n\n' "$user" "$DOMDN"
} | as_admin ldapmodify -a >>"$KB_T/custom.log" 2>&1 ||
    fail "cannot add the domain user $user"
as_admin ldapmodify >>"$KB_T/custom.log" 2>&1 <<EOF
dn: CN=$user,OU=Staff,$DOMDN
changetype: modify
replace: msDS-cloudExtensionAttribute1
msDS-cloudExtensionAttribute1: $(cut -d' ' -f1,2 "$K/custom.pub")
EOF
check_eq "$?" 0 "the key set in msDS-cloudExtensionAttribute1"
ad_conf "$EX_CUSTOM" "$KB_T/custom.conf"
keys "$KB_T/custom.conf" "$user"
check_eq "$KEYS_RC:$(grep -c '^ssh-ed25519 ' "$KB_T/keys.out")" 0:1 \
    "config-examples/ad/keybound-custom.conf: keybound-keys serves the user's key"
cp "$KB_T/custom.conf" "$conf"
keylogin "$K/custom"
check_eq "$?" 0 "custom profile: key login through sshd"
login "$pw_user" &&
    not_ok "custom profile: password accepted while the user has a key" ||
    ok "custom profile: password refused while the user has a key"
printf 'dn: CN=%s,OU=Staff,%s\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n' \
    "$user" "$DOMDN" | as_admin ldapmodify >>"$KB_T/custom.log" 2>&1 ||
    fail "cannot disable $user"
keylogin "$K/custom"
check_eq "$?" 255 "custom profile: a disabled AD account's key is refused"
ms_custom=$(($(kb_ms) - t0))

kill -0 "$SAMBA_PID" 2>/dev/null && ok "samba ran throughout" ||
    not_ok "samba died"
echo "timings: provision ${ms_provision} ms, samba start ${ms_start} ms," \
    "schema ${ms_schema} ms, accounts ${ms_accounts} ms," \
    "login flow ${ms_flow} ms, custom ${ms_custom} ms," \
    "total $(($(kb_ms) - t_start)) ms"
if [ "$kb_failures" -gt 0 ]; then
	echo "--- cli"; cat "$KB_T/cli.out" "$KB_T/delete.out" 2>/dev/null
	echo "--- keys.err"; cat "$KB_T/keys.err"
	echo "--- ssh.log"; tail -n 20 "$KB_T/ssh.log"
	echo "--- sshd log"; tail -n 40 "$SSHD_LOG"
	echo "--- samba log"; tail -n 40 "$KB_T/samba.log"
fi
kb_done
