#!/bin/bash
# keycmd_hostile_data: hostile directory values (added with ldapadd as
# base64 LDIF values) never put a key or option that is not ours into
# keybound-keys' output; every printed line passes ssh-keygen -l; time and
# output stay bounded; skipped keys are logged.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" "timeout 5" \
    "network_timeout 3"
v=victim

# Our keys: the only blobs that may ever be printed for $v.
kk_keygen good && good_pub=$KK_PUB && good_fp=$KK_FP
kk_add_keypair good "$KK_PUB" "$KK_FP" "$v@test-host" \
    -- "keyboundKeyOptions: restrict,command=\"echo hi\"" ||
    fail "add good"
kk_keygen good2 && good2_pub=$KK_PUB
kk_add_keypair good2 "$KK_PUB" "$KK_FP" "$v@test-host" \
    -- "keyboundNotAfter: 20991231235959Z" || fail "add good2"
kk_keygen other && other_pub=$KK_PUB	# never attached to $v
kk_keygen rsa1024 rsa 1024 && rsa1024_pub=$KK_PUB
kk_keygen dsa dsa && dsa_pub=$KK_PUB
kk_keygen rsa2048 rsa 2048 && rsa2048_pub=$KK_PUB
good_b64=${good_pub#* }
other_b64=${other_pub#* }

# hostile VALUE-of-keyboundPublicKey [EXTRA-LDIF-LINES]: one entry each,
# attached to $v, every value sent base64-encoded.
n=0
hostile() {
	local val=$1
	shift
	n=$((n + 1))
	{
		echo "dn: cn=h$n,$SLAPD_BASE"
		echo "objectClass: keyboundKeyPair"
		echo "cn: h$n"
		printf 'keyboundPublicKey:: %s\n' \
		    "$(printf '%b' "$val" | base64 -w0)"
		echo "keyboundFingerprint: SHA256:x$n"
		echo "keyboundAttachment: $v@test-host"
		for l in "$@"; do echo "$l"; done
	} >"$KB_T/h$n.ldif"
	if kk_ldap add "$KB_T/h$n.ldif"; then
		added=$((added + 1))
	else
		refused=$((refused + 1))
		echo "note: slapd refused hostile value h$n"
	fi
}
added=0 refused=0
b64() { printf '%b' "$1" | base64 -w0; }

hostile "ssh-ed25519 $good_b64\\ncommand=\"/bin/sh\" ssh-ed25519 $other_b64"
hostile "ssh-ed25519 $other_b64\\r"
hostile "ssh-ed25519 $other_b64\\r\\nssh-ed25519 $other_b64"
hostile "ssh-ed25519 $other_b64\\0 x"
hostile "command=\"/bin/sh\" ssh-ed25519 $other_b64"
hostile "restrict ssh-ed25519 $other_b64"
hostile "ssh-rsa $other_b64"				# inner type mismatch
hostile "ecdsa-sha2-nistp256 $other_b64"
hostile "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI!!notbase64"
hostile "ssh-ed25519 ${other_b64%?}"			# truncated
hostile "ssh-ed25519 ${other_b64}AAAA"			# trailing bytes
hostile "$rsa1024_pub"
hostile "$dsa_pub"
hostile "ssh-ed25519 $other_b64 comment\\ncommand=\"/bin/sh\""
hostile "ssh-ed25519 $other_b64 \\x1b[31mred"
hostile "ssh-ed25519 $other_b64 caf\\xc3\\xa9"
hostile " ssh-ed25519 $other_b64"
hostile "ssh-ed25519  $other_b64"
hostile "ssh-ed25519\\t$other_b64"
# Options: outside the allow-list, smuggled lines, bytes, syntax errors.
hostile "ssh-ed25519 $other_b64" \
    "keyboundKeyOptions:: $(b64 'restrict\ncommand="/bin/sh"')"
hostile "ssh-ed25519 $other_b64" \
    "keyboundKeyOptions:: $(b64 'command="/bin/sh')"
hostile "ssh-ed25519 $other_b64" \
    "keyboundKeyOptions:: $(b64 'from="10.0.0.1\0",restrict')"
rsa2048_n=$((n + 1))
hostile "$rsa2048_pub" \
    "keyboundKeyOptions:: $(b64 'environment="LD_PRELOAD=/tmp/x.so",pty,X11-forwarding,no-pty')"
# Unknown options that may restrict the key: dropping them would widen
# access, so the key is not served at all.
hostile "ssh-ed25519 $other_b64" \
    "keyboundKeyOptions:: $(b64 'permitopen="1.2.3.4:22",tunnel="1",cert-authority,no-pty')"
hostile "ssh-ed25519 $other_b64" \
    "keyboundNotAfter: 20200101000000Z"
# A name that is no key pair name, and a 1 MiB value, and a 60 KiB one.
{
	echo "dn: cn=bad name,$SLAPD_BASE"
	echo "objectClass: keyboundKeyPair"
	echo "cn: bad name"
	echo "keyboundPublicKey: ssh-ed25519 $other_b64"
	echo "keyboundFingerprint: SHA256:badname"
	echo "keyboundAttachment: $v@test-host"
} | kk_ldap add || fail "add bad name"
big() {
	local name=$1 size=$2
	{
		echo "dn: cn=$name,$SLAPD_BASE"
		echo "objectClass: keyboundKeyPair"
		echo "cn: $name"
		printf 'keyboundPublicKey:: '
		{ printf 'ssh-ed25519 %s' "$other_b64"
		  head -c "$size" /dev/zero | tr '\0' 'A'; } | base64 -w0
		echo
		echo "keyboundFingerprint: SHA256:$name"
		echo "keyboundAttachment: $v@test-host"
	} >"$KB_T/$name.ldif"
	kk_ldap add "$KB_T/$name.ldif"
}
big huge1m 1048576
check_eq "$?" 0 "slapd stored a 1 MiB value"
big big60k 61440 || fail "add 60 KiB value"
echo "hostile entries: $added stored, $refused refused by slapd"
[ "$added" -ge 20 ] || fail "too few hostile values stored"

# A key attached to $v only through a case-folded or padded value (slapd
# matches "victim@test-host  " for victim@test-host: spaces are folded).
kk_keygen folded && folded_pub=$KK_PUB
kk_add_keypair folded "$KK_PUB" "$KK_FP" "VICTIM@test-host" \
    "$v@TEST-HOST" || fail "add folded"
kk_keygen folded2 && folded2_pub=$KK_PUB
kk_add_keypair folded2 "$KK_PUB" "$KK_FP" "$v@test-host  " "$v@Test-Host" ||
    fail "add folded2"

t0=$(kb_ms)
kk_run "$conf" "$v"
elapsed=$(($(kb_ms) - t0))
check_eq "$KK_RC" 0 "hostile data: exit 0"
cat "$KK_OUT"
check_eq "$(grep -c . "$KK_OUT")" 3 "exactly our three keys are printed"
kk_lines_valid "$KK_OUT"
check_eq "$?" 0 "every printed line passes ssh-keygen -l -f -"
bad=0
while read -r line; do
	case "$line" in
	"restrict,command=\"echo hi\" $good_pub keybound:good") ;;
	"expiry-time=\"20991231235959Z\" $good2_pub keybound:good2") ;;
	# allowed options kept, everything outside the allow-list dropped
	"no-pty $rsa2048_pub keybound:h$rsa2048_n") ;;
	*) bad=$((bad + 1)); echo "unexpected line: $line" ;;
	esac
done <"$KK_OUT"
check_eq "$bad" 0 "every line is exactly one of ours, canonical"
for k in "$other_b64" "${rsa1024_pub#* }" "${dsa_pub#* }" \
    "${folded_pub#* }" "${folded2_pub#* }"; do
	grep -qF -- "$k" "$KK_OUT" && not_ok "a foreign key was printed"
done
ok "no foreign key printed"
grep -qE '/bin/sh|environment=|permitopen|tunnel|cert-authority' "$KK_OUT"
check_eq "$?" 1 "no foreign option printed"
LC_ALL=C grep -q '[^ -~]' "$KK_OUT"
check_eq "$?" 1 "output is printable ASCII only"
[ "$elapsed" -lt 5000 ]
check_eq "$?" 0 "hostile data answered within timeout (${elapsed} ms)"
kb_syslog_wait "user=$v instance=test-host event=key-skipped" ||
    not_ok "skipped keys not logged"
kb_syslog_wait "user=$v instance=test-host event=values-dropped" ||
    not_ok "huge value not logged"
kb_syslog_wait "user=$v instance=test-host event=notes-suppressed count=[0-9]+" ||
    not_ok "note flood not bounded"
notes=$(grep "keybound-keys\[[0-9]*\]: user=$v instance=test-host event=" "$KB_SYSLOG" |
    grep -vc ' event=served ')
[ "$notes" -le 23 ]
check_eq "$?" 0 "log lines per run bounded ($notes)"

# Grant-only options outside the allow-list: dropped, key served, logged.
kk_keygen optkey && kk_add_keypair optkey "$KK_PUB" "$KK_FP" \
    "optuser@test-host" -- "keyboundKeyOptions: no-pty,environment=\"A=b\",pty,restrict" ||
    fail "add optkey"
kk_run "$conf" optuser
check_eq "$(cat "$KK_OUT")" "restrict,no-pty $KK_PUB keybound:optkey" \
    "unknown grant-only options dropped, allowed ones kept"
kb_syslog_wait "user=optuser instance=test-host event=options-dropped keypair=optkey dropped=\"?environment,pty" ||
    not_ok "dropped options not logged"
# A restricting option outside the allow-list: the key is skipped, logged.
kk_keygen optkey2 && kk_add_keypair optkey2 "$KK_PUB" "$KK_FP" \
    "optuser2@test-host" -- "keyboundKeyOptions: no-pty,permitopen=\"h:1\",restrict" ||
    fail "add optkey2"
kk_run "$conf" optuser2
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "0:0" \
    "a key with an unknown restricting option is not served"
kb_syslog_wait "user=optuser2 instance=test-host event=key-skipped keypair=optkey2" ||
    not_ok "skipped restricted key not logged"

# The %f query for a hostile entry's claimed key finds nothing.
kk_run "$conf" "$v" "$(ssh-keygen -l -f "$KB_T/other.pub" | awk '{print $2}')"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "0:0" "%f of a smuggled key prints nothing"
kk_run "$conf" "$v" "$good_fp"
check_eq "$(grep -c " $good_pub keybound:good\$" "$KK_OUT")" 1 "%f of our key prints it"

# --- 5,000 entries for one user: max_keys, bounded time and output -------
python3 - "$SLAPD_BASE" >"$KB_T/many.ldif" <<'PY'
import base64, os, struct, sys
base = sys.argv[1]
def s(b): return struct.pack(">I", len(b)) + b
for i in range(5000):
    blob = s(b"ssh-ed25519") + s(os.urandom(32))
    print("dn: cn=m%04d,%s" % (i, base))
    print("objectClass: keyboundKeyPair")
    print("cn: m%04d" % i)
    print("keyboundPublicKey: ssh-ed25519 " + base64.b64encode(blob).decode())
    print("keyboundFingerprint: SHA256:m%04d" % i)
    print("keyboundAttachment: many@test-host")
    print()
PY
kk_ldap add "$KB_T/many.ldif" || fail "add 5000 entries"
# One entry with 5,000 attachment values, one of them ours.
python3 - "$SLAPD_BASE" "$good2_pub" >"$KB_T/wide.ldif" <<'PY'
import sys
base, pub = sys.argv[1], sys.argv[2]
print("dn: cn=wide,%s" % base)
print("objectClass: keyboundKeyPair")
print("cn: wide")
print("keyboundPublicKey: " + pub)
print("keyboundFingerprint: SHA256:wide")
for i in range(5000):
    print("keyboundAttachment: u%04d@test-host" % i)
print("keyboundAttachment: wideuser@test-host")
PY
kk_ldap add "$KB_T/wide.ldif" || fail "add wide entry"

kk_run "$conf" many
check_eq "$KK_RC" 0 "5,000 entries: exit 0"
check_eq "$(grep -c . "$KK_OUT")" 100 "5,000 entries: max_keys (100) lines"
check_eq "$(awk '{print $NF}' "$KK_OUT" | head -1):$(awk '{print $NF}' "$KK_OUT" | tail -1)" \
    "keybound:m0000:keybound:m0099" "the first max_keys by key pair name"
kk_lines_valid "$KK_OUT"
check_eq "$?" 0 "5,000 entries: every line passes ssh-keygen -l"
[ "$KK_MS" -lt 5000 ] && [ "$(wc -c <"$KK_OUT")" -lt 20000 ]
check_eq "$?" 0 "5,000 entries: bounded time (${KK_MS} ms) and output"
kb_syslog_wait "user=many instance=test-host event=max-keys .*count=4900" ||
    not_ok "max_keys overflow not logged as an error"
kk_run "$conf" wideuser
check_eq "$KK_RC:$(awk '{print $NF}' "$KK_OUT")" "0:keybound:wide" \
    "entry with 5,001 attachments serves its user"

kb_done
