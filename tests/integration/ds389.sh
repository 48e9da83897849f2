#!/bin/bash
# ds389: keybound against a real 389 Directory Server (Debian's
# 389-ds-base), built the way 389ds-and-ad.md tells an administrator:
# a throwaway instance from `dscreate from-file` (tests/lib/ds389.sh),
# config-examples/schema/60keybound.ldif copied into its schema directory
# and loaded with `dsconf schema reload`, the two equality indexes added
# with `dsconf backend index add --reindex`, and
# config-examples/389ds/keybound-389ds.ldif (container, ACIs, reader,
# administrators' group) loaded as documented.
#
#   CLI as a member of the administrators' group: create, attach, check,
#   detach, delete (delete refused while attached: 389-ds has no assertion
#   control, so keybound checks and deletes in two steps)
#   keybound-keys as the reader over plain ldap:// to 127.0.0.1, sshd's
#   AuthorizedKeysCommand: key login works while attached, refused after
#   detach; the searches are indexed (no notes=U in the access log)
#   pam_keybound.so in sshd's PAM stack (pam_wrapper): password refused
#   while attached, accepted after detach
#   StartTLS with the test CA: keybound-keys gets the key over a verified
#   TLS session; with another CA it gets nothing
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
. "$KB_SRC/tests/lib/pam.sh"
. "$KB_SRC/tests/lib/ds389.sh"

[ "$(id -u)" = 0 ] || skip "needs root (389-ds, sshd, local users)"
ds389_available ||
    skip "389-ds-base not installed (dscreate, dsconf, ns-slapd; tests/deps.sh)"
[ -e /usr/lib/x86_64-linux-gnu/libpam_wrapper.so ] ||
    ldconfig -p | grep -q libpam_wrapper.so || skip "libpam-wrapper missing"
command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
kb_private_syslog "$@"

t_all=$(kb_ms)
ds389_start || fail "389-ds did not start"
ok "389-ds instance created in ${DS389_CREATE_MS} ms, listening on 127.0.0.1:$DS389_PORT"
check_eq "$(ss -Hltn "sport = :$DS389_PORT" | awk '{print $4}' | sort -u)" \
    "127.0.0.1:$DS389_PORT" "ns-slapd listens on loopback only"

# --- schema and indexes, as 389ds-and-ad.md says ---------------------------
schema_dir=$DS389_PREFIX/etc/dirsrv/slapd-$DS389_NAME/schema
install -m 0644 "$KB_SRC/config-examples/schema/60keybound.ldif" \
    "$schema_dir/" || fail "cannot install 60keybound.ldif"
ds389_dsconf schema reload --wait >"$KB_T/dsconf.log" 2>&1 ||
    { cat "$KB_T/dsconf.log"; fail "dsconf schema reload"; }
out=$(ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_URI" -b cn=schema \
    -s base attributeTypes objectClasses 2>/dev/null | grep -ci "keybound'")
check_eq "$out" 13 "the ten attributes and three classes are in 389-ds's schema"
# keyboundAttachment also gets a substring index: keybound check lists a
# user's key pairs with (keyboundAttachment=USER@*).  An attribute being
# reindexed counts as unindexed until its task ends: add the three, then
# one reindex task that the test waits for.
for a in keyboundAttachment keyboundFingerprint keyboundMember; do
	sub=()
	[ "$a" = keyboundAttachment ] && sub=(--index-type sub)
	ds389_dsconf backend index add --attr "$a" --index-type eq "${sub[@]}" \
	    userRoot >>"$KB_T/dsconf.log" 2>&1 &&
	    ok "equality index on $a" ||
	    { cat "$KB_T/dsconf.log"; not_ok "dsconf index add $a"; }
done
ds389_dsconf backend index reindex --attr keyboundAttachment \
    --attr keyboundFingerprint --attr keyboundMember --wait userRoot \
    >>"$KB_T/dsconf.log" 2>&1 ||
    { cat "$KB_T/dsconf.log"; not_ok "dsconf index reindex --wait"; }
# Every access log line now, not in buffered batches.
ds389_dsconf config replace nsslapd-accesslog-logbuffering=off \
    >>"$KB_T/dsconf.log" 2>&1 || fail "dsconf config replace"

# --- container, ACIs, reader, administrators ---------------------------------
admin_dn=uid=kbadmin,ou=people,$SLAPD_SUFFIX
reader_dn=cn=keybound-reader,ou=services,$SLAPD_SUFFIX
sed -e "s/dc=example,dc=com/$SLAPD_SUFFIX/g" \
    -e "s/^member: .*/member: $admin_dn/" \
    "$KB_SRC/config-examples/389ds/keybound-389ds.ldif" >"$KB_T/setup.ldif"
kk_ldap add "$KB_T/setup.ldif" ||
    fail "config-examples/389ds/keybound-389ds.ldif does not load"
ok "config-examples/389ds/keybound-389ds.ldif loads"
(umask 077
openssl rand -hex 16 | tr -d '\n' >"$KB_T/readerpw"
openssl rand -hex 16 >"$KB_T/adminpw")
_slapd_ldap_tool ldappasswd -x -H "$SLAPD_LDAPI_URI" -D "$SLAPD_ROOTDN" \
    -y "$SLAPD_ROOTPW_FILE" -T "$KB_T/readerpw" "$reader_dn" >/dev/null ||
    fail "ldappasswd for the reader"
kk_ldap add <<EOF || fail "cannot add the administrator"
dn: $admin_dn
objectClass: top
objectClass: nsPerson
objectClass: nsAccount
objectClass: nsOrgPerson
uid: kbadmin
cn: kbadmin
displayName: keybound administrator
userPassword: $(cat "$KB_T/adminpw")
EOF

kb_install_keys_cmd || fail "cannot install keybound-keys"
# As keybound.conf(5) asks: root's, readable by the command user's group.
chown "root:$KB_CMD_USER" "$KB_T/readerpw" && chmod 0640 "$KB_T/readerpw" ||
    fail "cannot hand the reader's password to the command user"
pam_build_module || fail "cannot build the test module"
pam_helper_real "$KB_KEYS_CMD"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "binddn $reader_dn" "bindpw_file $KB_T/readerpw" ||
    fail "cannot write keybound.conf"

kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$admin_dn" \
	    -y "$KB_T/adminpw" "$@"
}

user=kbds$$
pw="Ds-$$-pw"
kb_make_user "$user" "$pw" || fail "useradd $user"
K=$KB_T/keys
mkdir -m 0700 "$K"

pamdir=$KB_T/sshd-pam
pam_write_service "$pamdir" sshd "config=$conf" \
    "auth required pam_unix.so nodelay" \
    "account required pam_unix.so" \
    "password required pam_deny.so" \
    "session required pam_permit.so" || fail "cannot write the service"
pam_wrapper_cleanup_at_exit
export PAM_WRAPPER_DEBUGLEVEL=2
sshd_start "$conf" --pam "$pamdir" "PasswordAuthentication yes" ||
    fail "sshd did not start"
password_login() {
	kb_ssh_password_login "$user" "$pw" password >>"$KB_T/ssh.log" 2>&1
}
key_login() {
	kb_ssh_key_login "$user" "$K/dskey" id -un 2>>"$KB_T/ssh.log"
}
check_json() {	# check_json -> "NKEYS REFUSED"
	kb --json check "$user@test-host" | python3 -c 'import json,sys
d = json.load(sys.stdin)
print(len(d["keys"]), d["password_login_refused"])'
}

# --- create, attach: key login works, password refused ---------------------
kb create dskey -o "$K/dskey" >"$KB_T/create.out" 2>&1
check_eq "$?" 0 "keybound create on 389-ds"
password_login && ok "not attached yet: password login works" ||
    not_ok "not attached yet: password login refused"
kb_ssh_key_login "$user" "$K/dskey" 2>/dev/null
check_eq "$?" 255 "not attached yet: key login refused"

kb attach dskey "$user@test-host" >/dev/null
check_eq "$?" 0 "keybound attach on 389-ds"
kb attach dskey "$user@test-host" >"$KB_T/attach2.out" 2>&1
check_eq "$?:$(cat "$KB_T/attach2.out")" \
    "0:dskey already attached to $user@test-host" "attach again: no change, no error"
out=$(key_login)
check_eq "$?:$out" "0:$user" "attached: ssh -i logs in (keybound-keys as the reader)"
password_login && not_ok "attached: password login accepted" ||
    ok "attached: password login refused with the correct password"
grep -q "SYSLOG(5): user=$user decision=deny reason=key-pair-attached" \
    "$SSHD_LOG" && ok "attached: PAM refusal logged" ||
    not_ok "attached: no decision=deny line from sshd's PAM"
check_eq "$(check_json)" "1 True" "keybound check: one key, password refused"

# Unindexed searches carry notes=U (or notes=A) in 389-ds's access log.
srch=$(grep -c 'SRCH base="ou=keypairs,.*keyboundAttachment=' "$DS389_ACCESS")
[ "$srch" -gt 0 ] && ok "the access log shows $srch keybound searches" ||
    not_ok "no keybound searches in the access log"
grep -E 'notes=[A-Z,]*[UA]' "$DS389_ACCESS" >"$KB_T/unindexed"
check_eq "$(grep -c . "$KB_T/unindexed")" 0 "every search was indexed"
grep -q "BIND dn=\"$reader_dn\" method=128" "$DS389_ACCESS" &&
    ok "keybound-keys bound as the reader" || not_ok "no bind as the reader"

# --- set: a modify that carries the assertion control on OpenLDAP ---------
kb set dskey --description "on 389-ds" >/dev/null
check_eq "$?" 0 "keybound set on 389-ds"
out=$(_slapd_ldap_tool ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_URI" \
    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" -b "cn=dskey,$SLAPD_BASE" \
    -s base description | grep '^description:')
check_eq "$out" "description: on 389-ds" "set: the description is stored"
kb set nosuchpair --description x >"$KB_T/set2.out" 2>&1
check_eq "$?:$(cat "$KB_T/set2.out")" "3:keybound: no key pair nosuchpair" \
    "set on a missing key pair: no such key pair"

# --- delete while attached: refused -----------------------------------------
kb delete dskey >"$KB_T/delete1.out" 2>&1
check_eq "$?" 4 "delete while attached: refused (conflict)"
grep -q "cannot delete key pair dskey: attached to $user@test-host; detach it first" \
    "$KB_T/delete1.out" && ok "delete while attached: says where it is attached" ||
    not_ok "delete while attached: $(cat "$KB_T/delete1.out")"
out=$(key_login)
check_eq "$?:$out" "0:$user" "after the refused delete: key login still works"

# --- detach: key refused, password accepted, nothing restarted ------------
kb detach dskey "$user@test-host" >/dev/null
check_eq "$?" 0 "keybound detach on 389-ds"
kb_ssh_key_login "$user" "$K/dskey" 2>/dev/null
check_eq "$?" 255 "detached: key login refused"
password_login && ok "detached: password login works again" ||
    not_ok "detached: password login still refused"
check_eq "$(check_json)" "0 False" "keybound check: nothing attached"
kb detach dskey "$user@test-host" >"$KB_T/detach2.out" 2>&1
check_eq "$?:$(cat "$KB_T/detach2.out")" \
    "0:dskey not attached to $user@test-host" "detach again: no change, no error"

# --- signed writes: no assertion control, the signature is replaced plainly
"$KB_BUILD/keybound" signer create -o "$K/signer" >/dev/null
check_eq "$?" 0 "signer create"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/dssig"
serial() {
	kb --json verify dssig |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["serial"])'
}
kb -S "$K/signer" import dssig "$K/dssig.pub" >/dev/null &&
    s1=$(serial) &&
    kb -S "$K/signer" attach dssig "$user@test-host" >/dev/null &&
    kb -S "$K/signer" detach dssig "$user@test-host" >/dev/null
check_eq "$?" 0 "signed import, attach, detach on 389-ds"
kb --json verify dssig >/dev/null
check_eq "$?" 0 "verify: the entry signed on 389-ds verifies"
s3=$(serial)
[ "$s3" -ge $((s1 + 2)) ] &&
    ok "three writes: the serial grew with each ($s1 -> $s3)" ||
    not_ok "three writes: serial $s1 -> $s3"
out=$(_slapd_ldap_tool ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_URI" \
    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" -b "cn=dssig,$SLAPD_BASE" \
    -s base keyboundTombstone | grep '^keyboundTombstone:')
check_eq "$out" "keyboundTombstone: test-host" "the signed detach left a tombstone"

# --- delete ------------------------------------------------------------------
kb delete dskey >/dev/null
check_eq "$?" 0 "keybound delete on 389-ds"
n=$(_slapd_ldap_tool ldapsearch -LLL -x -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
    -y "$SLAPD_ROOTPW_FILE" -b "$SLAPD_BASE" '(cn=dskey)' dn | grep -c '^dn:')
check_eq "$n" 0 "the key pair is gone from 389-ds"
kb delete dskey >"$KB_T/delete3.out" 2>&1
check_eq "$?:$(cat "$KB_T/delete3.out")" "3:keybound: no key pair dskey" \
    "delete again: no such key pair"
kb attach dskey "$user@test-host" >"$KB_T/attach3.out" 2>&1
check_eq "$?:$(cat "$KB_T/attach3.out")" "3:keybound: no key pair dskey" \
    "attach a deleted key pair: no such key pair"

# --- size limits: 389-ds's server-wide limit, the per-identity override ---
for i in 1 2 3; do
	kk_keygen "lim$i" && kk_add_keypair "lim$i" "$KK_PUB" "$KK_FP" ||
	    fail "cannot add key pair lim$i"
done
printf 'dn: cn=config\nchangetype: modify\nreplace: nsslapd-sizelimit\nnsslapd-sizelimit: 2\n' |
    kk_ldap modify || fail "cannot lower nsslapd-sizelimit"
kb list >"$KB_T/list1.out" 2>"$KB_T/list1.err"
rc=$?
check_eq "$rc:$(grep -c . "$KB_T/list1.out")" "1:0" \
    "list over nsslapd-sizelimit: fails, no partial list"
grep -q "size limit exceeded" "$KB_T/list1.err" &&
    ok "list over nsslapd-sizelimit: says size limit exceeded" ||
    not_ok "list over nsslapd-sizelimit: $(cat "$KB_T/list1.err")"
printf 'dn: %s\nchangetype: modify\nadd: nsSizeLimit\nnsSizeLimit: -1\n' \
    "$admin_dn" | kk_ldap modify || fail "cannot set nsSizeLimit"
out=$(kb list | grep -c 'lim[123]')
check_eq "$out" 3 "list with nsSizeLimit -1 on the administrator: all three"
printf 'dn: cn=config\nchangetype: modify\nreplace: nsslapd-sizelimit\nnsslapd-sizelimit: 2000\n' |
    kk_ldap modify || fail "cannot restore nsslapd-sizelimit"

kill -0 "$SSHD_PID" && kill -0 "$DS389_PID"
check_eq "$?" 0 "sshd and ns-slapd never restarted during the flows"
t_flows=$(kb_ms)

# --- StartTLS with the test CA -----------------------------------------------
kk_keygen tlskey && kk_add_keypair tlskey "$KK_PUB" "$KK_FP" "$user@test-host" ||
    fail "cannot add the TLS key pair"
ds389_tls || fail "389-ds with TLS did not start"
kb_write_config "$KB_T/tls.conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "binddn $reader_dn" "bindpw_file $KB_T/readerpw" "starttls yes"
kk_run "$KB_T/tls.conf" "$user"
check_eq "$KK_RC:$(cut -d' ' -f1,2 "$KK_OUT")" "0:$KK_PUB" \
    "StartTLS to 389-ds, verified with the test CA: the key"
grep -q 'EXT oid="1.3.6.1.4.1.1466.20037"' "$DS389_ACCESS" &&
    ok "389-ds saw the StartTLS request" || not_ok "no StartTLS in the access log"
kb_write_config "$KB_T/othertls.conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "binddn $reader_dn" "bindpw_file $KB_T/readerpw" "starttls yes" \
    "tls_cacert $KB_OTHER_CA_CERT" "offline_max_age 0"
kk_run "$KB_T/othertls.conf" "$user"
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "1:0" \
    "StartTLS with another CA: no keys, exit 1 (certificate not trusted)"
kb_write_config "$KB_T/ldaps.conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "binddn $reader_dn" "bindpw_file $KB_T/readerpw" \
    "uri ldaps://127.0.0.1:$DS389_SECURE_PORT"
kk_run "$KB_T/ldaps.conf" "$user"
check_eq "$KK_RC:$(cut -d' ' -f1,2 "$KK_OUT")" "0:$KK_PUB" \
    "LDAPS to 389-ds: the key"
t_tls=$(kb_ms)

if [ "$kb_failures" -gt 0 ]; then
	echo "--- ssh.log"; cat "$KB_T/ssh.log"
	echo "--- sshd log"; tail -n 40 "$SSHD_LOG"
	echo "--- syslog"; grep -a 'pam_keybound\|keybound-keys' "$KB_SYSLOG" | tail -n 20
	echo "--- unindexed"; cat "$KB_T/unindexed"
fi
echo "# timings: instance creation ${DS389_CREATE_MS} ms (dscreate)," \
    "up to the end of the flows $((t_flows - t_all)) ms, TLS part" \
    "$((t_tls - t_flows)) ms, whole test $(( $(kb_ms) - t_all )) ms"
kb_done
