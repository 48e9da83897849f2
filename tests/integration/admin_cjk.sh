#!/bin/bash
# admin_cjk: key pair names as the clouds' users write them.  A pair named
# 运维-密钥:1 is created, attached, logs in through a real sshd (served by
# keybound-keys as keybound:运维-密钥:1, then again from its cache), is
# listed (the table aligned by display width), shown, detached and
# deleted; 64 CJK characters are a valid name and 65 are not; overlong
# UTF-8, a lone combining mark, a right-to-left mark and fullwidth digits
# are refused before anything is written.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
[ "$(id -u)" = 0 ] || skip "needs root (test users, sshd)"
kb_private_syslog "$@"

[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
[ -x "$KB_BUILD/keybound-keys" ] || fail "keybound-keys not built"
command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
kb_tmpdir
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 60"
K=$KB_T/keys
mkdir -m 0700 "$K"
user=kbc$$
kb_make_user "$user" || fail "useradd"
sshd_start "$conf" || fail "sshd did not start"

kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
js() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
name='运维-密钥:1'

json=$(kb --json create "$name" -o "$K/ops")
check_eq "$?" 0 "create $name"
check_eq "$(echo "$json" | js 'd["name"]')" "$name" "create --json: the name in UTF-8 as it is"
echo "$json" | grep -q '"name":"运维-密钥:1"'
check_eq "$?" 0 "JSON carries the UTF-8 bytes, not \\u escapes"
kb attach "$name" "$user@test-host" >/dev/null
check_eq "$?" 0 "attach $name"

out=$(kb_ssh_key_login "$user" "$K/ops" id -un)
check_eq "$?:$out" "0:$user" "ssh -i logs in with $name"
line=$(kb check "$user@test-host" | head -n 1)
case $line in *" keybound:$name") ok "served as keybound:$name" ;;
*) not_ok "check line: $line" ;; esac
# keybound-keys names each key it serves (the sink shows non-ASCII as \xHH)
fp=$(ssh-keygen -l -f "$K/ops" | cut -d' ' -f2)
fpre=$(printf '%s' "$fp" | sed 's/[+.]/\\&/g')	# base64 may hold '+'
kb_syslog_wait "keybound-keys\[[0-9]+\]: user=$user instance=test-host .*event=served keypair=\"[^\"]*:1\" fp=$fpre$" 5
check_eq "$?" 0 "keybound-keys logs event=served keypair=NAME fp=SHA256:..."
grep -rqF "$name" "$KB_CACHE_DIR"
check_eq "$?" 0 "the cache keeps the name"
n0=$(slapd_count_searches)
out=$(kb_ssh_key_login "$user" "$K/ops" id -un)
check_eq "$?:$out" "0:$user" "second login (from the cache)"
check_eq "$(slapd_count_searches)" "$n0" "second login asked the directory nothing"

# the usage report joins those lines with sshd's Accepted publickey line
report=$({ python3 -c 'import sys
sys.stdout.write(open(sys.argv[1], "rb").read().decode("unicode_escape").encode("latin-1").decode("utf-8"))' "$KB_SYSLOG"
    sed -n 's/^.*\(Accepted publickey for \)/2026-12-02T06:00:00+0000 sshd[1]: \1/p' "$SSHD_LOG"
    } | sh "$KB_SRC/config-examples/usage-report.sh")
check_eq "$report" "$name 2026-12-02T06:00:00+0000 $user $fp" \
    "config-examples/usage-report.sh: last use of $name"

kb create ascii-k -o "$K/ascii" >/dev/null || fail "create ascii-k"
out=$(kb list)
check_eq "$?" 0 "list"
# NAME column: 运维-密钥:1 is 11 columns wide (4 ideographs x 2 + 3)
python3 - "$out" <<'EOF'
import sys, unicodedata
rows = sys.argv[1].split("\n")
def cols(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
starts = set()
for r in rows:
    i = r.index("  ")
    while r[i] == " ":
        i += 1
    starts.add(cols(r[:i]))
sys.exit(0 if len(starts) == 1 else 1)
EOF
check_eq "$?" 0 "list columns aligned by display width"
json=$(kb --json show "$name")
check_eq "$(echo "$json" | js 'd["attachments"]')" "['$user@test-host']" "show $name"
out=$(kb show "$name")
echo "$out" | grep -q "^name: *$name\$"
check_eq "$?" 0 "show table prints the name as it is"
kb detach "$name" "$user@test-host" >/dev/null
check_eq "$?" 0 "detach $name"
check_eq "$(kb --json check "$user@test-host" | js 'len(d["keys"])')" 0 "detached"
kb delete "$name" >/dev/null
check_eq "$?" 0 "delete $name"
kb show "$name" >/dev/null 2>&1
check_eq "$?" 3 "deleted"

# 64 characters are a name, 65 are not
n64=$(printf '密%.0s' $(seq 1 64))
ssh-keygen -y -f "$K/ascii" | kb import "$n64" - --allow-duplicate >/dev/null
check_eq "$(kb --json show "$n64" | js 'len(d["name"])')" 64 "64 CJK characters accepted"
for bad in "${n64}密" "$(printf '\xc0\xaf')ab" "$(printf '\xcc\x81')ab" \
    "$(printf 'ab\xe2\x80\x8f')" "$(printf 'ab\xef\xbc\x91')" \
    "$(printf '\xe2\x80\x8f')运维"; do
	kb create "$bad" -o "$K/bad" >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] && [ ! -e "$K/bad" ] || not_ok "name [$bad]: rc=$rc"
done
ok "65 characters, overlong UTF-8, combining mark, RLM, fullwidth digit refused"
check_eq "$(LDAPNOINIT=1 ldapsearch -LLL -x -H "$SLAPD_LDAPI_URI" -b "$SLAPD_BASE" \
    -s one dn 2>/dev/null | grep -c '^dn')" 2 "refused names wrote nothing"

kb_done
