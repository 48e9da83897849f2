#!/bin/bash
# directory_bounds.sh - what one search may hand over is bounded: size
# limits (the caller's and the hard KB_DIR_MAX_ENTRIES), values over
# KB_DIR_VALUE_MAX dropped and counted, a total byte cap; values are
# delivered byte-exact (NUL, CR, LF included) and only the attributes
# asked for.
: "${KB_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

T=$KB_BUILD/tests/tools/kb-dirtool
[ -x "$T" ] || fail "kb-dirtool not built"
kb_tmpdir

# entry N [EXTRA-LINE...]: one key pair entry as LDIF.
entry() {
	local n=$1
	shift
	printf 'dn: cn=kp-%05d,%s\nobjectClass: keyboundKeyPair\ncn: kp-%05d\n' \
	    "$n" "$SLAPD_BASE" "$n"
	printf 'keyboundPublicKey: ssh-ed25519 AAAA%05d\n' "$n"
	printf 'keyboundFingerprint: SHA256:fp%05d\n' "$n"
	printf 'keyboundAttachment: user%d@test-host\n' $((n % 3))
	[ $# -gt 0 ] && printf '%s\n' "$@"
	echo
}

# A large directory, bulk-loaded before start: 10,050 small entries and
# 300 entries carrying a 60,000-byte description each (18 MB in all).
big=$(printf '%060000d' 0 | tr 0 x)
{
	for ((i = 0; i < 10050; i++)); do entry "$i"; done
	for ((i = 20000; i < 20300; i++)); do
		entry "$i" "description: $big"
	done
} >"$KB_T/bulk.ldif"
slapd_start --load "$KB_T/bulk.ldif" || fail "slapd did not start"
kb_write_config "$KB_T/kb.conf" "timeout 20" "network_timeout 10"

# s [OPTS...] FILTER ATTR...: search the base; sets rc, n (entries), dropped.
s() {
	local -a opts=()
	while [ "${1#-}" != "$1" ]; do opts+=("$1" "$2"); shift 2; done
	"$T" -c "$KB_T/kb.conf" search "${opts[@]}" "$SLAPD_BASE" "$@" \
	    >"$KB_T/out" 2>"$KB_T/err"
	rc=$?
	n=$(sed -n 's/^# entries \([0-9]*\) dropped [0-9]*$/\1/p' "$KB_T/out")
	dropped=$(sed -n 's/^# entries [0-9]* dropped \([0-9]*\)$/\1/p' \
	    "$KB_T/out")
}

s -z 10 '(cn=kp-0*)' cn
check_eq "$rc" 78 "caller's size limit: KB_ERR_DIR_SIZELIMIT"
[ "$n" -le 10 ] && ok "at most 10 entries handed over ($n)" ||
    not_ok "$n entries handed over with a limit of 10"

s -z 100 '(keyboundAttachment=user1@test-host)' cn
check_eq "$rc" 78 "size limit 100 on 3,350 matches: KB_ERR_DIR_SIZELIMIT"

s -z 5000 '(cn=kp-0000*)' cn
check_eq "$rc" 0 "a result under the limit"
check_eq "$n" 10 "10 entries for cn=kp-0000*"

s '(&(objectClass=keyboundKeyPair)(!(description=*)))' cn
check_eq "$rc" 78 "10,050 entries with no limit given: KB_DIR_MAX_ENTRIES holds"
[ "$n" -le 10000 ] && ok "no more than 10,000 entries handed over ($n)" ||
    not_ok "$n entries handed over"

s '(description=*)' cn description
check_eq "$rc" 78 "18 MB of values: the byte cap stops the search"
[ "$n" -lt 300 ] && ok "stopped before all 300 big entries ($n)" ||
    not_ok "all $n big entries handed over"

s '(cn=kp-20000)' cn description
check_eq "$rc" 0 "one big entry is fine"
check_eq "$(grep -Fxc "description: $big" "$KB_T/out")" 1 \
    "the 60,000-byte value arrives whole"

# Only the attributes asked for.
s '(cn=kp-00007)' cn
check_eq "$rc" 0 "search for one entry"
check_eq "$(grep -c '^cn: kp-00007$' "$KB_T/out")" 1 "cn returned"
check_eq "$(grep -c '^keybound' "$KB_T/out")" 0 "nothing not asked for"
s '(cn=kp-00007)'
check_eq "$(grep -c '^[a-zA-Z]*: ' "$KB_T/out")" 1 "no attributes: DN only"

# Values over KB_DIR_VALUE_MAX (65,536 bytes) are dropped and counted;
# one of exactly that size is kept.
v64=$(printf '%065536d' 0 | tr 0 y)
v64p=${v64}y
{
	entry 30000 "description: $v64"
	entry 30001 "description: $v64p"
	entry 30002 "description: short" "description: $v64p"
} | slapd_ldapadd || fail "cannot add the 64 KiB entries"
s '(cn=kp-30000)' description
check_eq "$rc" 0 "65,536-byte value: search ok"
check_eq "$dropped" 0 "65,536-byte value: kept"
check_eq "$(grep -Fxc "description: $v64" "$KB_T/out")" 1 \
    "65,536-byte value delivered whole"
s '(cn=kp-30001)' description cn
check_eq "$rc" 0 "65,537-byte value: search ok"
check_eq "$dropped" 1 "65,537-byte value: dropped and counted"
check_eq "$(grep -c '^description:' "$KB_T/out")" 0 "no trace of it"
check_eq "$(grep -c '^cn: kp-30001$' "$KB_T/out")" 1 "the rest of the entry"
s '(cn=kp-30002)' description
check_eq "$dropped" 1 "one of two values dropped"
check_eq "$(grep -c '^description: short$' "$KB_T/out")" 1 \
    "the other value kept"

# 5,000 attachments on one entry arrive as 5,000 values.
{
	entry 40000
	for ((i = 0; i < 5000; i++)); do echo "keyboundAttachment: u$i@h"; done
} | sed '/^$/d' | slapd_ldapadd || fail "cannot add the 5,000-value entry"
s '(cn=kp-40000)' keyboundAttachment
check_eq "$rc" 0 "5,000-value entry: search ok"
check_eq "$(grep -c '^keyboundAttachment: ' "$KB_T/out")" 5001 \
    "all 5,001 values handed over"

# Octet strings are delivered byte for byte: NUL, CR, LF and high bytes.
raw=$(printf 'ssh-ed25519 AAAA\000evil\r\ncommand="/bin/sh" \377' | base64 -w0)
slapd_ldapadd <<EOF || fail "cannot add the binary entry"
dn: uid=bin,$SLAPD_PEOPLE
objectClass: inetOrgPerson
objectClass: ldapPublicKey
uid: bin
cn: bin
sn: bin
sshPublicKey:: $raw
EOF
"$T" -c "$KB_T/kb.conf" search "$SLAPD_PEOPLE" '(uid=bin)' sshPublicKey \
    >"$KB_T/out" 2>&1
check_eq "$(sed -n 's/^sshPublicKey: //p' "$KB_T/out")" \
    'ssh-ed25519 AAAA\x00evil\x0d\x0acommand="/bin/sh" \xff' \
    "binary value delivered exactly, NUL included"

# A server that declares a 256 MiB reply and sends it: libldap would
# allocate and fill whatever length a message declares, so the client
# bounds each message itself and gives up at once.
hport=$(kb_free_port)
python3 - "$hport" >"$KB_T/huge.log" 2>&1 <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
chunk = b"\0" * (1 << 20)
while True:
    c, _ = s.accept()
    try:
        c.recv(65536)
        c.sendall(b"\x30\x84\x10\x00\x00\x00")
        for _ in range(256):
            c.sendall(chunk)
    except OSError:
        pass
    c.close()
PY
kb_kill_at_exit $!
kb_wait_port "$hport" 5 || fail "huge-reply server did not start"
kb_write_config "$KB_T/huge.conf" "uri ldap://127.0.0.1:$hport" \
    "timeout 10" "network_timeout 5"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -f '%M' -o "$KB_T/huge.rss" "$T" -c "$KB_T/huge.conf" \
	    search "$SLAPD_BASE" '(cn=x)' cn >"$KB_T/out" 2>"$KB_T/err"
	rc=$?
	rss=$(tail -n 1 "$KB_T/huge.rss")
	[ "$rss" -lt 65536 ] && ok "256 MiB reply: peak RSS ${rss} KiB" ||
	    not_ok "256 MiB reply: peak RSS ${rss} KiB (not bounded)"
else
	"$T" -c "$KB_T/huge.conf" search "$SLAPD_BASE" '(cn=x)' cn \
	    >"$KB_T/out" 2>"$KB_T/err"
	rc=$?
	echo "# /usr/bin/time missing: peak RSS not measured"
fi
[ "$rc" -ne 0 ] && ok "256 MiB reply: refused (exit $rc)" ||
    not_ok "256 MiB reply: accepted"

kb_done
