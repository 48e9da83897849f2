#!/bin/bash
# admin_basic: every keybound admin command against a throwaway slapd with
# our schema: happy paths and their --json output (parsed, fields
# asserted), fingerprints equal ssh-keygen's, created private keys load in
# ssh-keygen and reproduce the stored public key, FILE is 0600 and never
# overwritten or followed through a symlink, invalid names and keys create
# nothing, delete is refused while attached, usage errors exit 2, every
# write leaves an audit line with no secret in it.  (-W: admin_tty.sh.)
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
kb_private_syslog "$@"

command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
slapd_start || fail "slapd did not start"
conf=$KB_T/kb.conf
kb_write_config "$conf"
K=$KB_T/keys
mkdir -m 0700 "$K"

# kb ARGS...: the CLI bound as the directory's root DN.
kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
# kb_anon ARGS...: the CLI bound anonymously (may read, may not write).
kb_anon() { "$KB_BUILD/keybound" -c "$conf" "$@"; }

# js EXPR: evaluate a Python expression over the JSON document on stdin.
js() {
	python3 -c 'import json,sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if not isinstance(v, str) else v)' "$1"
}

# count_pairs [FILTER]: key pair entries in the directory.
count_pairs() {
	LDAPNOINIT=1 ldapsearch -LLL -x -H "$SLAPD_LDAPI_URI" -b "$SLAPD_BASE" \
	    -s one "${1:-(objectClass=keyboundKeyPair)}" dn 2>/dev/null |
	    grep -c '^dn:'
}

# attr NAME ATTR: the values of ATTR of key pair NAME, one per line.
attr() {
	LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_LDAPI_URI" \
	    -b "cn=$1,$SLAPD_BASE" -s base "$2" 2>/dev/null |
	    sed -n "s/^$2: //p"
}

# --- usage and exit status 2 ----------------------------------------------
"$KB_BUILD/keybound" >/dev/null 2>&1
check_eq "$?" 2 "no command: exit 2"
"$KB_BUILD/keybound" frobnicate >/dev/null 2>&1
check_eq "$?" 2 "unknown command: exit 2"
out=$("$KB_BUILD/keybound" -w secret list 2>&1)
check_eq "$?" 2 "-w (password on the command line) refused: exit 2"
case $out in *"never accepted on the command line"*) ok "-w explains" ;;
*) not_ok "-w message: $out" ;; esac
"$KB_BUILD/keybound" -y /dev/null -W list >/dev/null 2>&1
check_eq "$?" 2 "-y with -W: exit 2"
"$KB_BUILD/keybound" -D cn=x list >/dev/null 2>&1
check_eq "$?" 2 "-D without -y/-W: exit 2"
out=$("$KB_BUILD/keybound" --version)
check_eq "$?:$out" "0:keybound 0.1.0" "--version"
"$KB_BUILD/keybound" help | grep -q '^  attach NAME USER@TARGET\.\.\. \[--for DURATION'
check_eq "$?" 0 "help lists the commands"
"$KB_BUILD/keybound" help attach | grep -q 'attach NAME'
check_eq "$?" 0 "help COMMAND"
for args in "create" "create k1" "create k1 -o" "create k1 -o $K/x -t dsa" \
    "create k1 -o $K/x -t rsa -b 1024" "create k1 -o $K/x -t ecdsa -b 257" \
    "create k1 -o $K/x -b 12x" "import k1" "import k1 a b" "set k1" \
    "set k1 --expires" "list extra" "show" "attach k1" "detach k1" \
    "detach k1 u@h --all" "delete" "check" "check a@b c@d" \
    "attach k1 u@h --bogus"; do
	# shellcheck disable=SC2086
	kb $args >/dev/null 2>&1
	check_eq "$?" 2 "usage error: $args"
done
kb set k1 --expires tomorrow >/dev/null 2>&1
check_eq "$?" 2 "set --expires with a bad TIME: exit 2"
[ ! -e "$K/x" ]
check_eq "$?" 0 "no file written by usage errors"
check_eq "$(count_pairs)" 0 "no entry written by usage errors"
printf 'uri %s\nbase %s\nbogus_keyword 1\n' "$SLAPD_URI" "$SLAPD_BASE" \
    >"$KB_T/bad.conf"
out=$("$KB_BUILD/keybound" -c "$KB_T/bad.conf" list 2>&1)
check_eq "$?" 2 "bad config: exit 2"
case $out in *"bad.conf:3: bogus_keyword"*) ok "config error names file:line" ;;
*) not_ok "config error message: $out" ;; esac

# --- create: each type, JSON, file mode, ssh-keygen agrees -------------------
# create_check NAME TYPEARGS... : create, compare with ssh-keygen.
create_check() {
	local name=$1 json pub fp md5 stored
	shift
	json=$(kb --json create "$name" -o "$K/$name" "$@") ||
	    { not_ok "create $name $*"; return; }
	ok "create $name $*"
	check_eq "$(stat -c %a "$K/$name")" 600 "$name: private key mode 0600"
	pub=$(ssh-keygen -y -f "$K/$name" | cut -d' ' -f1,2)
	stored=$(attr "$name" keyboundPublicKey)
	check_eq "$stored" "$pub" "$name: ssh-keygen -y reproduces the stored key"
	fp=$(ssh-keygen -l -f "$K/$name" | cut -d' ' -f2)
	md5=$(ssh-keygen -E md5 -l -f "$K/$name" | cut -d' ' -f2)
	check_eq "$(attr "$name" keyboundFingerprint)" "$fp" \
	    "$name: stored fingerprint equals ssh-keygen -l"
	check_eq "$(echo "$json" | js 'd["fingerprint_sha256"]')" "$fp" \
	    "$name: create --json fingerprint_sha256"
	check_eq "$(echo "$json" | js 'd["fingerprint_md5"]')" "$md5" \
	    "$name: create --json fingerprint_md5"
	json=$(kb show "$name" --json)
	check_eq "$(echo "$json" | js 'd["fingerprint_sha256"]')" "$fp" \
	    "$name: show fingerprint_sha256 equals ssh-keygen -l"
	check_eq "$(echo "$json" | js 'd["fingerprint_md5"]')" "$md5" \
	    "$name: show fingerprint_md5 equals ssh-keygen -E md5 -l"
	check_eq "$(echo "$json" | js 'd["public_key"]')" "$pub" \
	    "$name: show public_key"
	CREATED_TYPE=$(echo "$json" | js 'd["type"]')
	CREATED_BITS=$(echo "$json" | js 'd["bits"]')
}
create_check ked
check_eq "$CREATED_TYPE:$CREATED_BITS" "ssh-ed25519:256" "default type Ed25519"
head -n 1 "$K/ked" | grep -qx -- '-----BEGIN OPENSSH PRIVATE KEY-----'
check_eq "$?" 0 "Ed25519 in openssh-key-v1 format"
create_check krsa -t rsa
check_eq "$CREATED_TYPE:$CREATED_BITS" "ssh-rsa:3072" "RSA default 3072 bits"
head -n 1 "$K/krsa" | grep -qx -- '-----BEGIN PRIVATE KEY-----'
check_eq "$?" 0 "RSA as unencrypted PKCS#8 PEM"
create_check kec256 -t ecdsa
check_eq "$CREATED_TYPE:$CREATED_BITS" "ecdsa-sha2-nistp256:256" "ECDSA default 256"
create_check kec384 -t ecdsa -b 384
check_eq "$CREATED_TYPE:$CREATED_BITS" "ecdsa-sha2-nistp384:384" "ECDSA 384"
create_check kec521 -t ecdsa -b 521
check_eq "$CREATED_TYPE:$CREATED_BITS" "ecdsa-sha2-nistp521:521" "ECDSA 521"
head -n 1 "$K/kec521" | grep -qx -- '-----BEGIN PRIVATE KEY-----'
check_eq "$?" 0 "ECDSA as unencrypted PKCS#8 PEM"

# passphrase-protected keys: ssh-keygen decrypts them, wrong phrase fails
(umask 077 && printf 'correct horse battery\n' >"$KB_T/phrase")
for t in ed25519 ecdsa; do
	kb create "kenc-$t" -t $t -o "$K/kenc-$t" \
	    --passphrase-file "$KB_T/phrase" >/dev/null
	check_eq "$?" 0 "create $t with --passphrase-file"
	pub=$(ssh-keygen -y -P 'correct horse battery' -f "$K/kenc-$t" |
	    cut -d' ' -f1,2)
	check_eq "$pub" "$(attr "kenc-$t" keyboundPublicKey)" \
	    "$t: encrypted key decrypts to the stored public key"
	ssh-keygen -y -P 'wrong' -f "$K/kenc-$t" >/dev/null 2>&1
	check_eq "$?" 255 "$t: wrong passphrase refused"
	grep -q 'correct horse' "$K/kenc-$t"
	check_eq "$?" 1 "$t: passphrase not in the file"
done
head -n 1 "$K/kenc-ed25519" | grep -qx -- '-----BEGIN OPENSSH PRIVATE KEY-----'
check_eq "$?" 0 "encrypted Ed25519 stays openssh-key-v1"
head -n 1 "$K/kenc-ecdsa" | grep -qx -- '-----BEGIN ENCRYPTED PRIVATE KEY-----'
check_eq "$?" 0 "encrypted ECDSA is PKCS#8 PBES2"
chmod 0644 "$KB_T/phrase"
kb create kenc-open -o "$K/kenc-open" --passphrase-file "$KB_T/phrase" \
    >/dev/null 2>&1
check_eq "$?" 2 "world-readable passphrase file refused: exit 2"
[ ! -e "$K/kenc-open" ] && [ "$(count_pairs '(cn=kenc-open)')" = 0 ]
check_eq "$?" 0 "nothing created with a refused passphrase file"

# --- FILE is never overwritten or followed ---------------------------------
n0=$(count_pairs)
echo "precious" >"$K/existing"
kb create kexist -o "$K/existing" >/dev/null 2>&1
check_eq "$?" 4 "existing FILE refused: exit 4"
check_eq "$(cat "$K/existing")" precious "existing FILE untouched"
echo "target" >"$K/target"
ln -s "$K/target" "$K/link"
kb create klink -o "$K/link" >/dev/null 2>&1
check_eq "$?" 4 "symlink at FILE refused: exit 4"
check_eq "$(cat "$K/target")" target "symlink target untouched"
ln -s "$K/dangling-target" "$K/dangling"
kb create kdangle -o "$K/dangling" >/dev/null 2>&1
check_eq "$?" 4 "dangling symlink at FILE refused: exit 4"
[ ! -e "$K/dangling-target" ]
check_eq "$?" 0 "dangling symlink not followed"
kb create knodir -o "$K/no/such/dir/key" >/dev/null 2>&1
check_eq "$?" 1 "FILE in a missing directory refused"
kb create ked -o "$K/ked-again" >/dev/null 2>&1
check_eq "$?" 4 "taken name refused: exit 4"
[ ! -e "$K/ked-again" ]
check_eq "$?" 0 "taken name: no file written"
check_eq "$(count_pairs)" "$n0" "refused creates add no entry"

# storing fails (anonymous may not write): the file is removed, said so
out=$(kb_anon create kanon -o "$K/kanon" 2>&1)
check_eq "$?" 1 "create without write access fails"
[ ! -e "$K/kanon" ]
check_eq "$?" 0 "failed store removes the private key file"
case $out in *"$K/kanon removed"*) ok "failed store says the file was removed" ;;
*) not_ok "failed store message: $out" ;; esac

# --- invalid names create nothing -------------------------------------------
n0=$(count_pairs)
bad_names=('a' '1abc' '-abc' '_abc' ':abc' 'ab,c' 'ab+c' 'ab=c' 'ab"c'
    'ab\c' 'ab<c' 'ab>c' 'ab;c' 'ab#c' '#abc' 'ab c' ' abc' 'abc '
    'ab/c' 'ab*c' 'ab(c' 'ab)c' 'ab.c' 'ab@c' "ab$(printf '\t')c"
    "$(printf 'ab\nc')" "$(printf 'k\303\251y')" "$(printf '\316\261\316\262')"
    "$(printf 'a%.0s' $(seq 1 65))" "cn=x,ou=keypairs" "x)(cn=*" '')
for n in "${bad_names[@]}"; do
	kb create -o "$K/badname" -- "$n" >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] && [ ! -e "$K/badname" ] ||
	    not_ok "create with name [$n]: rc=$rc"
	ssh-keygen -y -f "$K/ked" | kb import -- "$n" - >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] || not_ok "import with name [$n]: rc=$rc"
done
ok "${#bad_names[@]} invalid names refused by create and import"
check_eq "$(count_pairs)" "$n0" "invalid names create no entry"
good="k$(printf 'a%.0s' $(seq 1 63))"
kb create "$good" -o "$K/longname" >/dev/null
check_eq "$?" 0 "a 64-character name is accepted"
kb create "a:b_c-D9" -o "$K/punct" >/dev/null
check_eq "$?" 0 "letters, digits, ':', '_', '-' accepted"

# --- import -----------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C 'my comment' -f "$K/imp1"
json=$(kb --json import kimp1 "$K/imp1.pub")
check_eq "$?" 0 "import from a file"
check_eq "$(echo "$json" | js 'd["fingerprint_sha256"]')" \
    "$(ssh-keygen -l -f "$K/imp1.pub" | cut -d' ' -f2)" "import --json fingerprint"
check_eq "$(attr kimp1 keyboundPublicKey)" "$(cut -d' ' -f1,2 "$K/imp1.pub")" \
    "import stores TYPE BASE64 (comment dropped)"
out=$(kb import kimp1dup "$K/imp1.pub" 2>&1)
check_eq "$?" 4 "duplicate key refused: exit 4"
case $out in *"already stored as key pair kimp1"*) ok "duplicate names the existing key pair" ;;
*) not_ok "duplicate message: $out" ;; esac
kb import kimp1dup --allow-duplicate - <"$K/imp1.pub" >/dev/null
check_eq "$?" 0 "--allow-duplicate from stdin"
ssh-keygen -q -t rsa -b 2048 -N '' -f "$K/imprsa"
kb import kimprsa "$K/imprsa.pub" >/dev/null
check_eq "$?" 0 "import RSA 2048"

n0=$(count_pairs)
edpub=$(cut -d' ' -f2 "$K/imp1.pub")
rsapub=$(cut -d' ' -f2 "$K/imprsa.pub")
ssh-keygen -q -t rsa -b 1024 -N '' -f "$K/rsa1024" 2>/dev/null
ssh-keygen -q -t dsa -N '' -f "$K/dsa" 2>/dev/null
bad_keys=("restrict ssh-ed25519 $edpub"
    "command=\"/bin/sh\" ssh-ed25519 $edpub"
    "ssh-ed25519 ${edpub}x"
    "ssh-ed25519 ${edpub%?}"
    "ssh-rsa $edpub"
    "ecdsa-sha2-nistp256 $rsapub"
    "ssh-ed25519"
    "ssh-ed25519 !!!!"
    "$(cat "$K/rsa1024.pub" 2>/dev/null)"
    "$(cat "$K/dsa.pub" 2>/dev/null)"
    "not a key at all"
    "$(printf 'ssh-ed25519 %s\nssh-rsa %s' "$edpub" "$rsapub")"
    "$(printf 'ssh-ed25519 %s c\rx' "$edpub")"
    "")
for line in "${bad_keys[@]}"; do
	printf '%s\n' "$line" | kb import kbadkey - >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] || not_ok "import of [$line]: rc=$rc"
done
head -c 70000 /dev/zero | tr '\0' 'A' | kb import kbadkey - >/dev/null 2>&1
check_eq "$?" 2 "oversized input refused: exit 2"
ok "${#bad_keys[@]} invalid keys refused"
check_eq "$(count_pairs)" "$n0" "invalid keys create no entry"
kb import kmissing "$K/does-not-exist" >/dev/null 2>&1
check_eq "$?" 2 "missing key file: exit 2"

# --- attach / detach / list / show -------------------------------------------
json=$(kb attach ked alice@test-host bob@web-1.example --json)
check_eq "$?" 0 "attach two targets"
check_eq "$(echo "$json" | js 'd["attached"]')" '["alice@test-host", "bob@web-1.example"]' \
    "attach --json attached"
check_eq "$(echo "$json" | js 'd["already_attached"]')" '[]' "attach --json already_attached"
json=$(kb --json attach ked alice@test-host carol@x@test-host)
check_eq "$(echo "$json" | js 'd["already_attached"]')" '["alice@test-host"]' \
    "already attached reported"
check_eq "$(echo "$json" | js 'd["attached"]')" '["carol@x@test-host"]' \
    "USER@INSTANCE split at the last @"
out=$(kb attach ked alice@test-host)
check_eq "$?:$out" "0:ked already attached to alice@test-host" "already attached: exit 0"
check_eq "$(attr ked keyboundAttachment | sort | tr '\n' ' ')" \
    "alice@test-host bob@web-1.example carol@x@test-host " "attachment values stored exactly"
for t in 'alice' '@host' 'alice@' 'alice@-host' 'alice@.host' 'alice@ho st' \
    '-alice@host' ' alice@host' 'alice @host' "$(printf 'al\tice@host')" \
    'alice@host*' 'alice@host)' "$(printf 'j\303\266rg@host')"; do
	kb attach -- ked "$t" >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] || not_ok "attach to invalid target [$t]: rc=$rc"
done
ok "invalid targets refused"
check_eq "$(attr ked keyboundAttachment | wc -l)" 3 "invalid targets stored nothing"
kb attach nosuch alice@test-host >/dev/null 2>&1
check_eq "$?" 3 "attach of a missing key pair: exit 3"
check_eq "$(count_pairs '(cn=nosuch)')" 0 "attach does not create an entry"

json=$(kb --json list)
check_eq "$?" 0 "list --json"
check_eq "$(echo "$json" | js '[p["name"] for p in d] == sorted(p["name"] for p in d)')" \
    true "list sorted by name"
check_eq "$(echo "$json" | js 'sorted(d[0].keys())')" \
    '["attachment_details", "attachments", "bits", "blocked", "created_at", "description", "detached", "fingerprint_md5", "fingerprint_sha256", "name", "not_after", "options", "public_key", "status", "type"]' \
    "list --json keys"
check_eq "$(echo "$json" | js '[p for p in d if p["name"] == "ked"][0]["attachments"]')" \
    '["alice@test-host", "bob@web-1.example", "carol@x@test-host"]' "list --json attachments"
check_eq "$(echo "$json" | js 'all(p["created_at"][:2] == "20" and p["created_at"].endswith("Z") and len(p["created_at"]) == 20 for p in d)')" \
    true "created_at is RFC 3339 UTC"
json=$(kb --json list --attached-to alice@test-host)
check_eq "$(echo "$json" | js '[p["name"] for p in d]')" '["ked"]' "list --attached-to"
json=$(kb --json list --attached-to nobody@test-host)
check_eq "$json" "[]" "list --attached-to with no match"
out=$(kb list)
echo "$out" | head -n 1 | grep -q '^NAME  *TYPE  *BITS  *FINGERPRINT  *STATUS  *ATTACHED$'
check_eq "$?" 0 "list table header"
echo "$out" | grep -q "^ked  *ED25519  *256  *$(attr ked keyboundFingerprint)  *active  *3$"
check_eq "$?" 0 "list table row: status and attachment count"
out=$(kb list --wide)
echo "$out" | head -n 1 | grep -q '^NAME  *TYPE  *BITS  *FINGERPRINT  *STATUS  *ATTACHED  *TARGETS$'
check_eq "$?" 0 "list --wide table header"
echo "$out" | grep -q "^ked  *ED25519  *256  *$(attr ked keyboundFingerprint)  *active  *3  *alice@test-host, bob@web-1.example, carol@x@test-host$"
check_eq "$?" 0 "list --wide prints the targets"
out=$(kb show ked)
echo "$out" | grep -q "^attachments:  alice@test-host, bob@web-1.example, carol@x@test-host$"
check_eq "$?" 0 "show table attachments"
echo "$out" | grep -q "^md5: *MD5:"
check_eq "$?" 0 "show table MD5"
kb show nosuch >/dev/null 2>&1
check_eq "$?" 3 "show of a missing key pair: exit 3"

json=$(kb --json detach ked bob@web-1.example nobody@test-host)
check_eq "$?" 0 "detach"
check_eq "$(echo "$json" | js 'd["detached"]')" '["bob@web-1.example"]' "detach --json detached"
check_eq "$(echo "$json" | js 'd["not_attached"]')" '["nobody@test-host"]' "detach --json not_attached"
check_eq "$(attr ked keyboundAttachment | sort | tr '\n' ' ')" \
    "alice@test-host carol@x@test-host " "detach removed exactly one value"

# --- set ---------------------------------------------------------------------
json=$(kb --json set ked --expires 2031-02-03T04:05:06Z \
    --options 'no-pty,from="10.0.0.0/8",restrict' --description 'web servers, team α')
check_eq "$?" 0 "set"
check_eq "$(attr ked keyboundNotAfter)" 20310203040506Z "expires stored as GeneralizedTime"
check_eq "$(attr ked keyboundKeyOptions)" "$(echo "$json" | js 'd["options"]')" \
    "options stored as rendered"
json=$(kb --json show ked)
check_eq "$(echo "$json" | js 'd["not_after"]')" 2031-02-03T04:05:06Z "show not_after RFC 3339"
check_eq "$(echo "$json" | js 'd["description"]')" 'web servers, team α' "show description"
check_eq "$(echo "$json" | js 'd["options"] is not None and "restrict" in d["options"] and "no-pty" in d["options"]')" \
    true "show options"
kb set ked --expires 20320101000000Z >/dev/null
check_eq "$(attr ked keyboundNotAfter)" 20320101000000Z "expires in compact form"
for o in 'environment="A=b"' 'permitopen="x:1"' 'tunnel="1"' 'cert-authority' \
    'restrict,bogus' 'from="' 'expiry-time="20300101000000Z"' ''; do
	kb set ked --options "$o" >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] || not_ok "set --options [$o]: rc=$rc"
done
ok "options outside the allow-list refused"
check_eq "$(attr ked keyboundKeyOptions | grep -c restrict)" 1 "refused options leave the old value"
kb set ked --description "$(printf 'bad\001byte')" >/dev/null 2>&1
check_eq "$?" 2 "description with a control byte refused: exit 2"
json=$(kb --json set ked --expires never --options none --description '')
check_eq "$?:$(echo "$json" | js '[d["not_after"], d["options"], d["description"]]')" \
    "0:[null, null, null]" "never/none/empty remove the settings"
check_eq "$(attr ked keyboundNotAfter)$(attr ked keyboundKeyOptions)$(attr ked description)" \
    "" "attributes removed"
kb set nosuch --description x >/dev/null 2>&1
check_eq "$?" 3 "set of a missing key pair: exit 3"

# --- check -------------------------------------------------------------------
json=$(kb --json check alice@test-host)
check_eq "$?" 0 "check"
check_eq "$(echo "$json" | js '[d["user"], d["instance"], d["password_login_refused"]]')" \
    '["alice", "test-host", true]' "check --json user/instance/refused"
check_eq "$(echo "$json" | js '[k["name"] for k in d["keys"]]')" '["ked"]' "check --json keys"
check_eq "$(echo "$json" | js 'd["keys"][0]["fingerprint_sha256"]')" "$(attr ked keyboundFingerprint)" \
    "check --json fingerprint"
line=$(echo "$json" | js 'd["keys"][0]["line"]')
check_eq "$line" "$(attr ked keyboundPublicKey) keybound:ked" "check --json line"
printf '%s\n' "$line" | ssh-keygen -l -f - >/dev/null
check_eq "$?" 0 "check's line is a valid authorized_keys line"
out=$(kb check alice@test-host)
check_eq "$(echo "$out" | head -n 1)" "$line" "check prints the keybound-keys line"
echo "$out" | grep -q '^# password login for alice@test-host: refused'
check_eq "$?" 0 "check table says password login refused"
json=$(kb --json check dave@test-host)
check_eq "$(echo "$json" | js '[d["keys"], d["password_login_refused"]]')" '[[], false]' \
    "check of an unattached user"
if [ -x "$KB_BUILD/keybound-keys" ]; then
	check_eq "$("$KB_BUILD/keybound-keys" -c "$conf" alice 2>/dev/null)" \
	    "$(kb check alice@test-host | grep -v '^#')" \
	    "check agrees with keybound-keys"
fi
kb check 'alice@bad host' >/dev/null 2>&1
check_eq "$?" 2 "check of an invalid target: exit 2"

# --- delete ------------------------------------------------------------------
out=$(kb delete ked 2>&1)
check_eq "$?" 4 "delete refused while attached: exit 4"
case $out in *"attached to alice@test-host, carol@x@test-host"*) ok "refusal names the attachments" ;;
*) not_ok "delete refusal message: $out" ;; esac
check_eq "$(count_pairs '(cn=ked)')" 1 "refused delete keeps the entry"
json=$(kb --json detach ked --all)
check_eq "$(echo "$json" | js 'sorted(d["detached"])')" '["alice@test-host", "carol@x@test-host"]' \
    "detach --all"
json=$(kb --json delete ked)
check_eq "$?:$(echo "$json" | js 'd["deleted"]')" '0:["ked"]' "delete after detach"
check_eq "$(count_pairs '(cn=ked)')" 0 "entry gone"
kb delete ked >/dev/null 2>&1
check_eq "$?" 3 "delete of a missing key pair: exit 3"
kb detach ked --all >/dev/null 2>&1
check_eq "$?" 3 "detach of a missing key pair: exit 3"

# --- hostile directory data is listed, never trusted -------------------------
cat >"$KB_T/hostile.ldif" <<EOF
dn: cn=khostile,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: khostile
keyboundPublicKey: ssh-ed25519 AAAAnotbase64!!
keyboundFingerprint: SHA256:bogus
keyboundAttachment: mallory@test-host
keyboundNotAfter: 20300101000000Z
description:: $(printf 'evil\033[2J\nline\001"\\' | base64 -w0)

dn: cn=kmismatch,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: kmismatch
keyboundPublicKey: $(cut -d' ' -f1,2 "$K/imp1.pub")
keyboundFingerprint: SHA256:notthefingerprint
EOF
slapd_ldapadd "$KB_T/hostile.ldif" || fail "ldapadd hostile entries"
json=$(kb --json list 2>"$KB_T/warn")
check_eq "$?" 0 "list with hostile entries"
check_eq "$(echo "$json" | js '[p for p in d if p["name"] == "khostile"][0]["type"]')" \
    null "unparsable key listed with type null"
check_eq "$(echo "$json" | js '[p for p in d if p["name"] == "khostile"][0]["description"]')" \
    "$(printf 'evil\033[2J\nline\001"\\')" "control bytes survive JSON escaping"
echo "$json" | grep -q "$(printf '\033')"
check_eq "$?" 1 "no raw escape byte in JSON"
grep -q "khostile: stored public key unusable" "$KB_T/warn"
check_eq "$?" 0 "warning for the unusable key"
grep -q "kmismatch: stored fingerprint does not match" "$KB_T/warn"
check_eq "$?" 0 "warning for a mismatched stored fingerprint"
out=$(kb show khostile 2>/dev/null)
echo "$out" | grep -q "$(printf '\033')"
check_eq "$?" 1 "no raw escape byte in the table"
echo "$out" | grep -q '^description:  evil\\x1b\[2J\\x0aline\\x01"\\$'
check_eq "$?" 0 "control bytes shown escaped in the table"
json=$(kb --json check mallory@test-host 2>/dev/null)
check_eq "$(echo "$json" | js '[d["keys"], d["password_login_refused"]]')" '[[], false]' \
    "check skips the unusable key like keybound-keys"

# --- -H and plain text ------------------------------------------------------
kb_anon -H "ldap://192.0.2.1:389" list >/dev/null 2>&1
check_eq "$?" 2 "-H to a non-loopback plain ldap:// refused (starttls no)"
kb_anon -H "http://127.0.0.1/" list >/dev/null 2>&1
check_eq "$?" 2 "-H with a non-LDAP scheme refused"
kb_anon -H "$SLAPD_LDAPI_URI" list >/dev/null
check_eq "$?" 0 "-H ldapi:// accepted"

# --- audit lines -------------------------------------------------------------
kb_syslog_wait 'keybound\[[0-9]+\]: command=delete keypair=ked bind=' 5
check_eq "$?" 0 "audit line for delete"
grep -E 'keybound\[[0-9]+\]: command=attach keypair=ked targets=alice@test-host,bob@web-1.example bind="?cn=admin,dc=example,dc=test"? uri=[^ ]+ result=ok' \
    "$KB_SYSLOG" >/dev/null
check_eq "$?" 0 "audit line for attach: targets, bind identity, result"
grep -E 'command="detach --all" keypair=ked targets=alice@test-host,carol@x@test-host ' \
    "$KB_SYSLOG" >/dev/null
check_eq "$?" 0 "audit line for detach --all names the removed values"
grep -E 'command=create keypair=kanon bind=anonymous .*result=' "$KB_SYSLOG" |
    grep -vq 'result=ok'
check_eq "$?" 0 "audit line for a failed create"
grep -qF "$(cat "$SLAPD_ROOTPW_FILE")" "$KB_SYSLOG"
check_eq "$?" 1 "no password in syslog"
grep -q 'correct horse' "$KB_SYSLOG"
check_eq "$?" 1 "no passphrase in syslog"
n=$(grep -c 'keybound\[[0-9]*\]: command=' "$KB_SYSLOG")
[ "$n" -ge 20 ]
check_eq "$?" 0 "audit lines for every write ($n)"

# Key pairs live only in the keybound profile: other profiles are refused
# before anything is read or written.
lpkconf=$KB_T/lpk.conf
kb_write_config "$lpkconf" "schema openssh-lpk"
for c in "list" "show kimp1" "attach kimp1 bob@web-9" "delete kimp1"; do
	# shellcheck disable=SC2086
	err=$("$KB_BUILD/keybound" -c "$lpkconf" -H "$SLAPD_URI" \
	    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" $c 2>&1 >/dev/null)
	check_eq "$?" 2 "$c refused with the openssh-lpk profile: exit 2"
	case $err in
	*"managed only with the keybound profile"*) ok "$c: says why" ;;
	*) not_ok "$c: unexpected message: $err" ;;
	esac
done
check_eq "$(attr kimp1 keyboundAttachment | grep -c 'bob@web-9')" 0 \
    "nothing attached through the refused profile"

kb_done
