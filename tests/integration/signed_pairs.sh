#!/bin/bash
# signed_pairs: a directory write alone grants nothing.  A real slapd, a
# real sshd (UsePAM yes under pam_wrapper, pam_keybound first in auth)
# whose keybound.conf names trusted_signers, the keybound CLI signing with
# a key made by `keybound signer create`, and real ssh logins.
#
#   A signed pair logs in.  Then, writing the directory as its root DN
#   without the signing key, each of these is refused at the next login
#   and logged: an attachment added, the public key replaced,
#   keyboundNotAfter removed, options changed, the instance added to a
#   group, a signature copied from another entry, the older signed
#   version restored after a detach (on the host that saw the detach, and
#   on one that never asked about that user after it), an entry signed
#   longer ago than signature_max_age.  A cache file forged by the command
#   user is refused.  Interop: ssh-keygen -Y verify accepts what keybound
#   wrote, keybound serves an entry signed with ssh-keygen -Y sign; an
#   ssh-agent holding the signing key signs an attach.  Logins during a
#   run of signed writes to the pair are all served (no moment between a
#   write and its signature).  A pair deleted and made again under its
#   name is served.  Without trusted_signers an unsigned directory works
#   as before.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
. "$KB_SRC/tests/lib/pam.sh"
kb_private_syslog "$@"
[ "$(id -u)" = 0 ] || skip "needs root (sshd, local users)"
ldconfig -p | grep -q libpam_wrapper.so || skip "libpam-wrapper missing"
command -v ssh-agent >/dev/null || skip "ssh-agent not installed"
KS=$KB_BUILD/tests/tools/kb-sign
[ -x "$KS" ] || fail "missing $KS (run make)"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
pam_build_module || fail "cannot build the test module"
pam_helper_real "$KB_KEYS_CMD"

# --- the signer: made by the CLI, trusted by the hosts --------------------
"$KB_BUILD/keybound" signer create -o "$KB_T/signer" >"$KB_T/signer.line" \
    2>"$KB_T/signer.err" || fail "signer create: $(cat "$KB_T/signer.err")"
check_eq "$(stat -c %a "$KB_T/signer")" 600 "signer create: private key 0600"
read -r stype sb64 _ <"$KB_T/signer.line"
check_eq "$stype" ssh-ed25519 "signer create: an Ed25519 key"
ssh-keygen -y -f "$KB_T/signer" | grep -qF "$sb64" &&
    ok "signer create: the printed line is the key's public half" ||
    not_ok "signer create printed another key"
signers=$KB_T/trusted_signers
echo "admins $stype $sb64" >"$signers"
chmod 0644 "$signers"
echo "admins $stype $sb64" >"$KB_T/allowed_signers"

conf=$KB_T/kb.conf		# the sshd host: test-host, member of web
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "trusted_signers $signers" || fail "cannot write keybound.conf"
cache60=$KB_T/cache60
install -d -o "$KB_CMD_USER" -g "$KB_CMD_USER" -m 0700 "$cache60"
conf60=$KB_T/kb60.conf		# the same host, answers cached 60 s
kb_write_config "$conf60" "cache_dir $cache60" "cache_ttl 60" \
    "trusted_signers $signers" || fail "cannot write keybound.conf"
cacheh2=$KB_T/cache-h2
install -d -o "$KB_CMD_USER" -g "$KB_CMD_USER" -m 0700 "$cacheh2"
confh2=$KB_T/h2.conf		# another host: web-02, member of web
kb_write_config "$confh2" "cache_dir $cacheh2" "cache_ttl 0" \
    "instance web-02" "trusted_signers $signers" ||
    fail "cannot write keybound.conf"
confplain=$KB_T/plain.conf	# a host that does not require signatures
kb_write_config "$confplain" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" ||
    fail "cannot write keybound.conf"

admin_conf=$KB_T/admin.conf
kb_write_config "$admin_conf" "signing_key $KB_T/signer" ||
    fail "cannot write the admin's keybound.conf"
kb() {
	"$KB_BUILD/keybound" -c "$admin_conf" -H "$SLAPD_URI" \
	    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" "$@"
}

u=kbsg$$
v=kbsv$$
pw_u="Signed-$$-pw"
kb_make_user "$u" "$pw_u" || fail "useradd $u"
kb_make_user "$v" || fail "useradd $v"

# modify PAIR-OR-GROUP: LDIF modify body on stdin, as the root DN
modify() {
	{ printf 'dn: cn=%s,%s\nchangetype: modify\n' "$1" "$SLAPD_BASE"; cat; } |
	    kk_ldap modify
}
# attr NAME ATTR: the entry's values of ATTR, one per line
attr() {
	LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_LDAPI_URI" \
	    -b "cn=$1,$SLAPD_BASE" -s base "$2" 2>/dev/null |
	    sed -n "s/^$2: //p"
}
# save NAME FILE / restore NAME FILE: every signed attribute, as the root
# DN would copy an entry aside and write it back
SIGNED_ATTRS="keyboundPublicKey keyboundFingerprint keyboundAttachment
keyboundAttachmentEnd keyboundNotAfter keyboundKeyOptions keyboundBlocked
keyboundSignature keyboundTombstone"
save() {
	local a
	: >"$2"
	for a in $SIGNED_ATTRS; do
		attr "$1" "$a" | sed "s/^/$a: /" >>"$2"
	done
}
restore() {
	local a first=1
	{
		for a in $SIGNED_ATTRS; do
			[ $first = 1 ] || echo -
			first=0
			echo "replace: $a"
			grep "^$a: " "$2"
		done
	} | modify "$1"
}

pamdir=$KB_T/sshd-pam
pam_write_service "$pamdir" sshd "config=$conf" \
    "auth required pam_unix.so nodelay" \
    "account required pam_unix.so" \
    "password required pam_deny.so" \
    "session required pam_permit.so" || fail "cannot write the service"
pam_wrapper_cleanup_at_exit
sshd_start "$conf" --pam "$pamdir" "PasswordAuthentication yes" ||
    fail "sshd did not start"
keylogin() { kb_ssh_key_login "$1" "$KB_T/$2" >>"$KB_T/ssh.log" 2>&1; }
pwlogin() { kb_ssh_password_login "$1" "$2" password >>"$KB_T/ssh.log" 2>&1; }
# refused_logged PAIR TEXT: the last lookups logged PAIR skipped for TEXT
refused_logged() {
	kb_syslog_wait "keybound-keys\[[0-9]+\]: .*keypair=$1 .*$2" 5
}

# --- signed pairs log in ---------------------------------------------------
kk_keygen ka && kb import ka "$KB_T/ka.pub" >/dev/null &&
    kb attach ka "$u@test-host" >/dev/null || fail "import and attach ka"
kk_keygen kb2 && kb import kb2 "$KB_T/kb2.pub" >/dev/null &&
    kb attach kb2 "$v@test-host" >/dev/null || fail "import and attach kb2"
kb group create web >/dev/null && kb group add web test-host web-02 \
    >/dev/null || fail "group web"
kb group create db >/dev/null && kb group add db other-01 >/dev/null ||
    fail "group db"
kk_keygen kw && kb import kw "$KB_T/kw.pub" >/dev/null &&
    kb attach kw "$u@+web" >/dev/null || fail "import and attach kw"
kk_keygen kd && kb import kd "$KB_T/kd.pub" >/dev/null &&
    kb attach kd "$u@+db" >/dev/null || fail "import and attach kd"
kk_keygen kn && kb import kn "$KB_T/kn.pub" >/dev/null &&
    kb attach kn "$u@test-host" >/dev/null &&
    kb set kn --expires 2020-01-01T00:00:00Z --force >/dev/null ||
    fail "import, attach and expire kn"
kk_keygen ko && kb import ko "$KB_T/ko.pub" >/dev/null &&
    kb attach ko "$u@test-host" >/dev/null &&
    kb set ko --options 'from="192.0.2.1"' >/dev/null ||
    fail "import, attach ko and limit it to 192.0.2.1"

keylogin "$u" ka && ok "a signed pair logs in" ||
    not_ok "a signed pair attached to USER@INSTANCE was refused"
keylogin "$u" kw && ok "a signed pair logs in through a signed group" ||
    not_ok "a signed pair attached through a signed group was refused"
pwlogin "$u" "$pw_u" && not_ok "password accepted while signed pairs attached" ||
    ok "the password is refused while signed pairs are attached"
keylogin "$u" kd && not_ok "a pair for a group this host is not in logged in" ||
    ok "the group this host is not in grants nothing"
keylogin "$u" kn && not_ok "an expired pair logged in" ||
    ok "the expired pair is refused"
keylogin "$u" ko && not_ok "a pair limited to 192.0.2.1 logged in" ||
    ok "the pair limited to from=192.0.2.1 is refused from 127.0.0.1"

# --- interop: ssh-keygen -Y verify accepts what keybound wrote ------------
ka_sig=$(attr ka keyboundSignature)
read -r ka_serial ka_when ka_b64 <<<"$ka_sig"
[ -n "$ka_b64" ] || fail "ka has no keyboundSignature"
ka_t=$(date -u -d "$(sed -E 's/^(....)(..)(..)(..)(..)(..)Z$/\1-\2-\3 \4:\5:\6Z/' <<<"$ka_when")" +%s)
"$KS" pair ka "$(attr ka keyboundPublicKey)" -a "$u@test-host" \
    -s "$ka_serial" -t "$ka_t" >"$KB_T/ka.rec" || fail "kb-sign pair ka"
{ echo '-----BEGIN SSH SIGNATURE-----'; fold -w 70 <<<"$ka_b64"
  echo '-----END SSH SIGNATURE-----'; } >"$KB_T/ka.sig"
ssh-keygen -Y verify -n keybound -f "$KB_T/allowed_signers" -I admins \
    -s "$KB_T/ka.sig" <"$KB_T/ka.rec" >/dev/null 2>&1 &&
    ok "ssh-keygen -Y verify -n keybound accepts the signature keybound wrote" ||
    not_ok "ssh-keygen refuses keybound's signature over the canonical record"

# --- writes without the signing key are refused at the next login --------
# 1. an attachment added to another user's signed pair
printf 'add: keyboundAttachment\nkeyboundAttachment: %s@test-host\n' "$u" |
    modify kb2 || fail "add an attachment to kb2"
keylogin "$u" kb2 && not_ok "an attachment added without signing logged in" ||
    ok "an attachment added by the root DN alone is refused"
refused_logged kb2 'signature' && ok "... and logged with the reason" ||
    not_ok "no log line for kb2's bad signature"
printf 'delete: keyboundAttachment\nkeyboundAttachment: %s@test-host\n' "$u" |
    modify kb2 || fail "restore kb2"

# 2. the public key replaced
save ka "$KB_T/ka.saved"
kk_keygen kx || fail "keygen kx"
printf 'replace: keyboundPublicKey\nkeyboundPublicKey: %s\n-\nreplace: keyboundFingerprint\nkeyboundFingerprint: %s\n' \
    "$KK_PUB" "$KK_FP" | modify ka || fail "replace ka's key"
keylogin "$u" kx && not_ok "a replaced public key logged in" ||
    ok "a public key replaced by the root DN alone is refused"
refused_logged ka 'signature' && ok "... and logged with the reason" ||
    not_ok "no log line for ka's replaced key"
restore ka "$KB_T/ka.saved" || fail "restore ka"
keylogin "$u" ka && ok "the entry written back as signed logs in again" ||
    not_ok "ka refused after its signed attributes were written back"

# 3. keyboundNotAfter removed from an expired pair
printf 'delete: keyboundNotAfter\n' | modify kn || fail "remove kn's not-after"
keylogin "$u" kn && not_ok "removing keyboundNotAfter revived an expired pair" ||
    ok "keyboundNotAfter removed by the root DN alone: still refused"
refused_logged kn 'signature' && ok "... and logged with the reason" ||
    not_ok "no log line for kn"

# 4. options changed (the from= limit dropped)
printf 'delete: keyboundKeyOptions\n' | modify ko || fail "remove ko's options"
keylogin "$u" ko && not_ok "dropping from= by the root DN alone logged in" ||
    ok "options changed by the root DN alone: refused"
refused_logged ko 'signature' && ok "... and logged with the reason" ||
    not_ok "no log line for ko"

# 5. this instance added to a group
printf 'add: keyboundMember\nkeyboundMember: test-host\n' | modify db ||
    fail "add test-host to db"
keylogin "$u" kd && not_ok "membership added by the root DN alone logged in" ||
    ok "an instance added to a group by the root DN alone grants nothing"
kb_syslog_wait "keybound-keys\[[0-9]+\]: .*(group|keypair)=db .*signature" 5 &&
    ok "... and the group is logged with the reason" ||
    not_ok "no log line for group db"
printf 'delete: keyboundMember\nkeyboundMember: test-host\n' | modify db ||
    fail "restore db"

# 6. a signature copied from another entry
printf 'replace: keyboundSignature\nkeyboundSignature: %s\n' \
    "$(attr ka keyboundSignature)" | modify kd || fail "copy ka's signature"
printf 'replace: keyboundAttachment\nkeyboundAttachment: %s@test-host\n' "$u" |
    modify kd || fail "attach kd here"
keylogin "$u" kd && not_ok "a copied signature logged in" ||
    ok "a signature copied from another entry is refused"
refused_logged kd 'signature' && ok "... and logged with the reason" ||
    not_ok "no log line for kd's copied signature"

# --- replay of the older signed version after a detach ---------------------
# web-02 (host 2) serves kw to u before the detach ...
kk_as_cmd -c "$confh2" "$u" >"$KB_T/h2.out" 2>/dev/null
grep -q 'keybound:kw$' "$KB_T/h2.out" && ok "host 2 serves kw to $u before the detach" ||
    not_ok "host 2 did not serve kw: $(cat "$KB_T/h2.out")"
save kw "$KB_T/kw.saved"
kb detach kw "$u@+web" >/dev/null || fail "detach kw"
check_eq "$(attr kw keyboundTombstone)" "+web" \
    "detach leaves a tombstone naming the target"
keylogin "$u" kw && not_ok "a detached pair logged in" ||
    ok "detached: refused on this host (which now saw the newer serial)"
# ... and never asks about u again; another user's login there brings the
# tombstoned entry back with the newer serial
kk_as_cmd -c "$confh2" "$v" >/dev/null 2>&1
restore kw "$KB_T/kw.saved" || fail "restore kw's older signed version"
keylogin "$u" kw && not_ok "the restored older version logged in here" ||
    ok "restored older signed version: refused on the host that saw the detach"
refused_logged kw 'serial' && ok "... and logged as an older serial" ||
    not_ok "no log line for kw's older serial"
kk_as_cmd -c "$confh2" "$u" >"$KB_T/h2.out" 2>/dev/null
grep -q 'keybound:kw$' "$KB_T/h2.out" &&
    not_ok "host 2 served the restored older version" ||
    ok "restored older signed version: refused on a host that never asked about $u after the detach"
# a host that requires no signatures serves it: the directory says so
kk_as_cmd -c "$confplain" "$u" | grep -q 'keybound:kw$' &&
    ok "(a host without trusted_signers follows the directory)" ||
    not_ok "the restored version is not served without trusted_signers"

# --- an entry signed longer ago than signature_max_age -------------------
# built by hand: kb-sign's record, signed with ssh-keygen -Y sign
kk_keygen kold || fail "keygen kold"
kk_add_keypair kold "$KK_PUB" "$KK_FP" "$u@test-host" || fail "add kold"
sign_entry() {	# sign_entry NAME SERIAL TIME: the record of NAME as stored
	"$KS" pair "$1" "$(attr "$1" keyboundPublicKey)" -a "$u@test-host" \
	    -s "$2" -t "$3" >"$KB_T/$1.rec" || return 1
	ssh-keygen -Y sign -n keybound -f "$KB_T/signer" - <"$KB_T/$1.rec" \
	    >"$KB_T/$1.ssig" 2>/dev/null || return 1
	printf 'replace: keyboundSignature\nkeyboundSignature: %s %s %s\n' "$2" \
	    "$(date -u -d "@$3" +%Y%m%d%H%M%SZ)" \
	    "$(grep -v -- '-----' "$KB_T/$1.ssig" | tr -d '\n')" | modify "$1"
}
now=$(date +%s)
sign_entry kold 1 $((now - 31 * 86400)) || fail "sign kold 31 days ago"
keylogin "$u" kold && not_ok "an entry signed 31 days ago logged in" ||
    ok "an entry signed longer ago than signature_max_age (30d) is refused"
refused_logged kold 'older than signature_max_age' &&
    ok "... and logged with the reason" || not_ok "no log line for kold"
# interop the other way: the same record signed now by ssh-keygen
sign_entry kold 2 "$now" || fail "sign kold now"
keylogin "$u" kold && ok "keybound serves an entry signed with ssh-keygen -Y sign" ||
    not_ok "keybound refused ssh-keygen's signature over its canonical record"

# --- a cache file forged by the command user -----------------------------
kk_as_cmd -c "$conf60" "$u" >"$KB_T/c60.out" 2>/dev/null
grep -q 'keybound:ka$' "$KB_T/c60.out" || fail "ka not served with cache_ttl 60"
kx_b64=$(cut -d' ' -f2 "$KB_T/kx.pub")
ka_b64=$(cut -d' ' -f2 "$KB_T/ka.pub")
n=0
for f in "$cache60"/*; do
	[ -f "$f" ] && grep -qF "$ka_b64" "$f" || continue
	setpriv --reuid="$KB_CMD_USER" --regid="$KB_CMD_USER" --clear-groups \
	    sed -i "s|$ka_b64|$kx_b64|g" "$f" && n=$((n + 1))
done
[ "$n" -ge 1 ] || fail "no cache file holds ka's key"
kk_as_cmd -c "$conf60" "$u" >"$KB_T/c60.out" 2>/dev/null
grep -qF "$kx_b64" "$KB_T/c60.out" &&
    not_ok "a key forged into the cache by the command user was served" ||
    ok "a cache file forged by the command user is refused"

# --- an ssh-agent holds the signing key; attach works through it --------
agent_sock=$KB_T/agent.sock
ssh-agent -a "$agent_sock" -D >/dev/null 2>&1 &
agent_pid=$!
kb_kill_at_exit "$agent_pid"
for i in $(seq 1 100); do [ -S "$agent_sock" ] && break; sleep 0.05; done
SSH_AUTH_SOCK=$agent_sock ssh-add -q "$KB_T/signer" 2>/dev/null ||
    fail "ssh-add the signer"
sfp=$(ssh-keygen -l -f "$KB_T/signer.line" | awk '{print $2}')
mv "$KB_T/signer" "$KB_T/signer.away"
kagent() {
	SSH_AUTH_SOCK=$agent_sock "$KB_BUILD/keybound" -c "$admin_conf" \
	    -S "agent:$sfp" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
kk_keygen kag && kagent import kag "$KB_T/kag.pub" >/dev/null ||
    fail "import through ssh-agent"
kagent attach kag "$u@test-host" >/dev/null 2>"$KB_T/agent.err" && ok "attach signs through ssh-agent (no key file)" ||
    not_ok "attach through ssh-agent failed: $(cat "$KB_T/agent.err")"
keylogin "$u" kag && ok "the pair the agent signed logs in" ||
    not_ok "the pair signed through ssh-agent was refused"
mv "$KB_T/signer.away" "$KB_T/signer"

# --- a signed write leaves no moment in which the pair does not verify ----
# The change and its signature go in one modify: logins during a run of
# signed writes to the same pair are all served.
touch "$KB_T/writing"
lookups() {
	while [ -e "$KB_T/writing" ]; do
		out=$(kk_as_cmd -c "$conf" "$u" 2>&1)
		rc=$?
		case $out in *keybound:kag*) echo served ;;
		*) echo "refused exit $rc: $(echo "$out" | awk '{print $NF}' | tr '\n' ' ')" ;;
		esac
	done >>"$KB_T/during.out.$1"
}
lookups 1 & lpid=$!
lookups 2 & lpid2=$!
lookups 3 & lpid3=$!
for i in $(seq 1 40); do
	kb attach kag "$v@other-$i" >/dev/null 2>>"$KB_T/during.err" ||
	    echo "attach $i failed" >>"$KB_T/during.err"
done
rm -f "$KB_T/writing"
wait "$lpid" "$lpid2" "$lpid3"
cat "$KB_T"/during.out.? >"$KB_T/during.out"
check_eq "$(cat "$KB_T/during.err" 2>/dev/null)" "" "40 signed attaches to kag"
n_served=$(grep -c '^served$' "$KB_T/during.out")
n_refused=$(grep -c '^refused' "$KB_T/during.out")
[ "$n_served" -ge 5 ] && ok "$n_served lookups ran during the writes" ||
    not_ok "only $n_served lookups ran during the writes"
check_eq "$n_refused" 0 "no lookup during the signed writes was refused"
[ "$n_refused" = 0 ] || { grep '^refused' "$KB_T/during.out"
	grep -a 'keybound-keys.*keypair=kag' "$KB_SYSLOG" | grep -v 'event=served'; }

# --- a pair deleted and made again under its name is served -------------
# This host's floor still holds the old pair's serial; the new pair's
# serial (at least the time of its signing, in ms) is newer.
kk_keygen kre && kb import kre "$KB_T/kre.pub" >/dev/null &&
    kb attach kre "$u@test-host" >/dev/null &&
    kb attach kre "$v@web-03" >/dev/null &&
    kb attach kre "$v@web-04" >/dev/null || fail "kre"
kk_as_cmd -c "$conf" "$u" | grep -q 'keybound:kre$' ||
    fail "kre not served before its delete"
echo "cn=kre,$SLAPD_BASE" | kk_ldap delete || fail "delete kre"
kk_keygen kre && kb import kre "$KB_T/kre.pub" >/dev/null &&
    kb attach kre "$u@test-host" >/dev/null || fail "kre again"
kk_as_cmd -c "$conf" "$u" | grep -q 'keybound:kre$' &&
    ok "a pair deleted and made again under its name is served" ||
    not_ok "the pair made again under its name was refused"

# --- without trusted_signers, an unsigned directory works as before -----
kk_keygen kplain && kk_add_keypair kplain "$KK_PUB" "$KK_FP" "$v@test-host" ||
    fail "add kplain"
kk_as_cmd -c "$confplain" "$v" | grep -q 'keybound:kplain$' &&
    ok "no trusted_signers: an unsigned pair is served as before" ||
    not_ok "no trusted_signers: the unsigned pair is not served"
kk_as_cmd -c "$conf" "$v" | grep -q 'keybound:kplain$' &&
    not_ok "trusted_signers: an unsigned pair was served" ||
    ok "trusted_signers: the unsigned pair is not served"

if [ "$kb_failures" -gt 0 ]; then
	echo "--- syslog"; grep -a 'keybound' "$KB_SYSLOG" | tail -n 40
	echo "--- sshd"; tail -n 30 "$SSHD_LOG"
fi
kb_done
