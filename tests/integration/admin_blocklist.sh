#!/bin/bash
# admin_blocklist: the compromised-key blocklist from the admin CLI,
# against a throwaway slapd and a real sshd:
#   - block FINGERPRINT|NAME [--reason] writes the entry
#     keyboundFingerprint=SHA256:...,base and flags every key pair holding
#     the key; unblock removes both; blocked [--json] lists them;
#   - import and create refuse a blocked key (exit 4), also under another
#     name, also when blocked in advance; attach of a flagged pair exit 4;
#   - malformed fingerprints exit 2, unknown names 3, unblock of an
#     unblocked key 3;
#   - block racing import never leaves an unflagged pair holding a
#     blocked key;
#   - blocked --revoked-keys writes an OpenSSH KRL: ssh-keygen -Q reports
#     exactly the blocked keys revoked, and a real sshd with RevokedKeys
#     refuses a key from a local authorized_keys file once it is blocked
#     (accepted before).
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
kb_private_syslog "$@"

command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR"
K=$KB_T/keys
mkdir -m 0700 "$K"
ROUNDS=${KB_RACE_ROUNDS:-20}

kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
js() {
	python3 -c 'import json,sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if not isinstance(v, str) else v)' "$1"
}
vals() {
	LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_LDAPI_URI" \
	    -b "$1" -s base "$2" 2>/dev/null | sed -n "s/^$2: //p" | sort |
	    tr '\n' '|'
}
exists() {
	LDAPNOINIT=1 ldapsearch -LLL -x -H "$SLAPD_LDAPI_URI" -b "$1" -s base \
	    dn 2>/dev/null | grep -q '^dn:'
}
# blocked_dn FP: the DN of its blocklist entry ('+' escaped in the RDN).
blocked_dn() { echo "keyboundFingerprint=${1//+/\\+},$SLAPD_BASE"; }
newkey() { ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/$1" || fail "keygen $1"; }
fp() { ssh-keygen -l -f "$K/$1.pub" | cut -d' ' -f2; }
# revoked KRL KEY: ssh-keygen -Q says whether KEY.pub is revoked by KRL.
revoked() {
	local out
	out=$(ssh-keygen -Q -f "$1" "$K/$2.pub" 2>&1)
	case $out in *REVOKED*) echo revoked ;; *": ok"*) echo ok ;;
	*) echo "error: $out" ;; esac
}

newkey a; newkey b; newkey c; newkey local
# a fingerprint with a '+' or '/' exercises the RDN escaping
for i in $(seq 1 20); do
	case $(fp b) in *[+/]*) break ;; esac
	rm -f "$K/b" "$K/b.pub"; newkey b
done
fa=$(fp a); fb=$(fp b); fc=$(fp c); flocal=$(fp local)
kb import ka "$K/a.pub" >/dev/null && kb import ka2 "$K/a.pub" \
    --allow-duplicate >/dev/null && kb import kb "$K/b.pub" >/dev/null ||
    fail "import"
kb attach ka alice@test-host >/dev/null || fail "attach"

# --- usage and bad values --------------------------------------------------
for args in "block" "block a b" "block SHA256:abc" "block SHA256:" \
    "block ${fa}x" "block ${fa:0:49}=" "block SHA256:${fa:7:42}" \
    "block 1bad" "block ka --reason" "unblock" "unblock ka" \
    "unblock SHA256:abc" "blocked x" "blocked -o $KB_T/x" \
    "blocked --revoked-keys --json" "block ka --bogus"; do
	# shellcheck disable=SC2086
	kb $args >/dev/null 2>&1
	check_eq "$?" 2 "usage error: $args"
done
# 43 base64 characters whose last one has bits set past the 32 bytes
kb block "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB" >/dev/null 2>&1
check_eq "$?" 2 "a fingerprint that is not 32 bytes exactly: exit 2"
kb block ka --reason "$(printf 'bad\001reason')" >/dev/null 2>&1
check_eq "$?" 2 "--reason with a control byte: exit 2"
kb block nosuch >/dev/null 2>&1
check_eq "$?" 3 "block of an unknown key pair name: exit 3"
check_eq "$(LDAPNOINIT=1 ldapsearch -LLL -x \
    -H "$SLAPD_LDAPI_URI" -b "$SLAPD_BASE" '(objectClass=keyboundBlockedKey)' dn |
    grep -c '^dn:')" "0" "usage errors wrote no blocklist entry"
out=$(kb blocked)
check_eq "$(echo "$out" | wc -l)" 1 "empty blocklist: header only"
kb blocked --revoked-keys -o "$KB_T/empty.krl"
check_eq "$?" 0 "KRL of an empty blocklist"
check_eq "$(revoked "$KB_T/empty.krl" a)" ok "empty KRL loads and revokes nothing"

# --- KRL: the key in a local authorized_keys works before blocking ---------
user=kbkrl$$
kb_make_user "$user" || fail "useradd"
akdir=$(mktemp -d /run/kbak.XXXXXX) || fail "mktemp"
kb_on_exit "rm -rf '$akdir'"
chmod 0755 "$akdir"
install -m 0644 "$K/local.pub" "$akdir/$user"
KRL=$akdir/revoked.krl
kb blocked --revoked-keys -o "$KRL" || fail "KRL"
sshd_start "$conf" "RevokedKeys $KRL" "AuthorizedKeysFile $akdir/%u" ||
    fail "sshd did not start"
kb_ssh_key_login "$user" "$K/local"
check_eq "$?" 0 "local authorized_keys key logs in before it is blocked"

# --- block by name: entry, flags on every pair holding the key -------------
json=$(kb --json block ka --reason "leaked on a laptop")
check_eq "$?" 0 "block ka"
check_eq "$(echo "$json" | js '[d["fingerprint"], d["reason"], d["already_blocked"], sorted(d["pairs"])]')" \
    "[\"$fa\", \"leaked on a laptop\", false, [\"ka\", \"ka2\"]]" \
    "block --json: fingerprint, reason, every pair holding the key"
bdn=$(blocked_dn "$fa")
check_eq "$(vals "$bdn" objectClass)" "keyboundBlockedKey|" "blocklist entry"
check_eq "$(vals "$bdn" description)" "leaked on a laptop|" "reason stored"
check_eq "$(vals "$bdn" keyboundPublicKey)" "$(cut -d' ' -f1,2 "$K/a.pub")|" \
    "public key stored when blocked by name"
check_eq "$(vals "cn=ka,$SLAPD_BASE" keyboundBlocked)$(vals "cn=ka2,$SLAPD_BASE" keyboundBlocked)" \
    "TRUE|TRUE|" "both pairs flagged"
check_eq "$(vals "cn=kb,$SLAPD_BASE" keyboundBlocked)" "" "other pairs not flagged"
check_eq "$(kb --json show ka | js 'd["blocked"]')" "true" "show --json: blocked"
kb show ka | grep -q '^blocked:'
check_eq "$?" 0 "show says blocked"
out=$(kb attach ka bob@test-host 2>&1)
check_eq "$?" 4 "attach of a blocked pair: exit 4"
case $out in *"blocked"*) ok "attach refusal says blocked" ;;
*) not_ok "attach message: $out" ;; esac
check_eq "$(vals "cn=ka,$SLAPD_BASE" keyboundAttachment)" "alice@test-host|" \
    "refused attach wrote nothing"
kb import ka3 "$K/a.pub" --allow-duplicate >/dev/null 2>&1
check_eq "$?" 4 "import of a blocked key under another name: exit 4"
exists "cn=ka3,$SLAPD_BASE"
check_eq "$?" 1 "refused import left no entry"
json=$(kb --json block "$fa")
check_eq "$?:$(echo "$json" | js 'd["already_blocked"]')" "0:true" \
    "block again: already blocked, exit 0"

# --- block in advance, by fingerprint --------------------------------------
json=$(kb --json block "$fc" --reason "found in a paste")
check_eq "$?:$(echo "$json" | js 'd["pairs"]')" "0:[]" \
    "a fingerprint no pair holds is blocked in advance"
exists "$(blocked_dn "$fc")"
check_eq "$?" 0 "entry for the fingerprint"
kb import kc "$K/c.pub" >/dev/null 2>&1
check_eq "$?" 4 "import of a key blocked in advance: exit 4"
kb block "$fb" >/dev/null || not_ok "block fb"
kb block "$flocal" >/dev/null || not_ok "block flocal"
json=$(kb --json blocked)
check_eq "$(echo "$json" | js 'sorted([x["fingerprint"], sorted(x["pairs"]), x["reason"]] for x in d)' )" \
    "$(python3 -c 'import json,sys; print(json.dumps(sorted([[sys.argv[1], ["ka","ka2"], "leaked on a laptop"], [sys.argv[2], ["kb"], None], [sys.argv[3], [], "found in a paste"], [sys.argv[4], [], None]])))' "$fa" "$fb" "$fc" "$flocal")" \
    "blocked --json: fingerprint, pairs, reason"
check_eq "$(echo "$json" | js 'all(x["blocked_at"] and x["blocked_at"].endswith("Z") for x in d)')" \
    "true" "blocked --json: blocked_at from createTimestamp"
out=$(kb blocked)
case $out in *"$fa"*"ka, ka2 / leaked on a laptop"*) ok "blocked table" ;;
*) not_ok "blocked table: $out" ;; esac

# --- KRL: ssh-keygen -Q and a real sshd -------------------------------------
kb blocked --revoked-keys >"$KB_T/stdout.krl"
check_eq "$?" 0 "KRL to stdout"
check_eq "$(head -c 7 "$KB_T/stdout.krl")" "SSHKRL" "KRL magic"
for k in a b c local; do
	check_eq "$(revoked "$KB_T/stdout.krl" "$k")" revoked "KRL revokes $k"
done
newkey d
check_eq "$(revoked "$KB_T/stdout.krl" d)" ok "KRL leaves other keys alone"
kb_ssh_key_login "$user" "$K/local"
check_eq "$?" 0 "sshd still uses the old KRL file"
kb blocked --revoked-keys -o "$KRL"
check_eq "$?" 0 "KRL written over the old file"
check_eq "$(stat -c %a "$KRL")" 644 "KRL readable by sshd (0644)"
kb_ssh_key_login "$user" "$K/local"
check_eq "$?" 255 "sshd with RevokedKeys refuses the blocked local key"
grep -q "revoked" "$SSHD_LOG"
check_eq "$?" 0 "sshd logs the key as revoked"

# --- unblock ---------------------------------------------------------------
json=$(kb --json unblock "$fa")
check_eq "$?" 0 "unblock"
check_eq "$(echo "$json" | js 'sorted(d["pairs"])')" '["ka", "ka2"]' \
    "unblock --json: the pairs cleared"
exists "$bdn"
check_eq "$?" 1 "blocklist entry gone"
check_eq "$(vals "cn=ka,$SLAPD_BASE" keyboundBlocked)$(vals "cn=ka2,$SLAPD_BASE" keyboundBlocked)" \
    "" "flags cleared"
kb attach ka bob@test-host >/dev/null
check_eq "$?" 0 "attach works again after unblock"
kb unblock "$fa" >/dev/null 2>&1
check_eq "$?" 3 "unblock of a key not blocked: exit 3"
kb unblock "$flocal" >/dev/null && kb blocked --revoked-keys -o "$KRL"
kb_ssh_key_login "$user" "$K/local"
check_eq "$?" 0 "unblocked local key logs in again with the new KRL"

# --- race: block against import -------------------------------------------
bad=0
for ((i = 0; i < ROUNDS; i++)); do
	newkey "r$i"
	f=$(fp "r$i")
	kb import "kr$i" "$K/r$i.pub" >/dev/null 2>"$KB_T/e1" &
	p1=$!
	kb block "$f" >/dev/null 2>"$KB_T/e2" &
	p2=$!
	wait $p1; r1=$?
	wait $p2; r2=$?
	# the pair is either gone or flagged; the import never "succeeds"
	# leaving an unflagged pair
	if exists "cn=kr$i,$SLAPD_BASE"; then
		flag=$(vals "cn=kr$i,$SLAPD_BASE" keyboundBlocked)
		[ "$flag" = "TRUE|" ] || {
			bad=$((bad + 1))
			echo "round $i: import=$r1 block=$r2 unflagged pair" >&2
			cat "$KB_T/e1" "$KB_T/e2" >&2
		}
	elif [ $r1 = 0 ]; then
		bad=$((bad + 1))
		echo "round $i: import said ok, pair missing" >&2
	fi
	[ $r2 = 0 ] || { bad=$((bad + 1)); echo "round $i: block failed" >&2; }
done
check_eq "$bad" 0 "$ROUNDS rounds of block racing import: never an unflagged blocked pair"

kb_done
