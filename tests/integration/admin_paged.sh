#!/bin/bash
# admin_paged: the CLI reads many entries with RFC 2696 paged results.
# A slapd whose size limit is 50 for ordinary searches (paging allowed:
# size.pr=500, size.prtotal=unlimited) holds 2,000 key pairs; bound as a
# non-rootdn account, `list` returns all 2,000 (and ldapsearch without
# paging, the same identity, gets 50).  An identity whose limits do not
# let paging past 50 gets a failure that says why, not a silent partial
# list.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
[ "$(id -u)" = 0 ] || skip "needs root (cn=config over ldapi)"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
kb_tmpdir
slapd_start || fail "slapd did not start"
N=2000

ssh-keygen -q -t ed25519 -N '' -f "$KB_T/k" || fail "ssh-keygen"
pub=$(cut -d' ' -f1,2 "$KB_T/k.pub")
fp=$(ssh-keygen -l -f "$KB_T/k" | cut -d' ' -f2)
{
	for i in $(seq -w 1 $N); do
		printf 'dn: cn=kp%s,%s\nobjectClass: keyboundKeyPair\ncn: kp%s\n' \
		    "$i" "$SLAPD_BASE" "$i"
		printf 'keyboundPublicKey: %s\nkeyboundFingerprint: %s\n' "$pub" "$fp"
		[ $((10#$i % 100)) = 0 ] &&
		    printf 'keyboundAttachment: u%s@web-%s\n' "$i" "$i"
		echo
	done
	for u in lister capped; do
		printf 'dn: uid=%s,%s\nobjectClass: account\n' "$u" "$SLAPD_PEOPLE"
		printf 'objectClass: simpleSecurityObject\nuid: %s\n' "$u"
		printf 'userPassword: pw-%s\n\n' "$u"
	done
} >"$KB_T/bulk.ldif"
slapd_ldapadd "$KB_T/bulk.ldif" || fail "ldapadd $N key pairs"
LDAPNOINIT=1 ldapmodify -Q -Y EXTERNAL -H "$SLAPD_LDAPI_URI" <<EOF || fail "limits"
dn: olcDatabase={1}mdb,cn=config
changetype: modify
replace: olcSizeLimit
olcSizeLimit: size.soft=50 size.hard=50 size.pr=500 size.prtotal=unlimited
-
add: olcLimits
olcLimits: dn.exact="uid=capped,$SLAPD_PEOPLE" size=50 size.pr=50 size.prtotal=50
EOF
conf=$KB_T/kb.conf
kb_write_config "$conf"
for u in lister capped; do
	printf 'pw-%s\n' "$u" >"$KB_T/pw-$u"
	chmod 0600 "$KB_T/pw-$u"
done
kbas() {
	local u=$1
	shift
	"$KB_BUILD/keybound" -c "$conf" -D "uid=$u,$SLAPD_PEOPLE" \
	    -y "$KB_T/pw-$u" "$@"
}

# the limit holds for ordinary searches by this identity
n=$(LDAPNOINIT=1 ldapsearch -x -H "$SLAPD_URI" -D "uid=lister,$SLAPD_PEOPLE" \
    -w pw-lister -b "$SLAPD_BASE" -s one '(objectClass=keyboundKeyPair)' \
    dn 2>/dev/null | grep -c '^dn:')
check_eq "$n" 50 "an unpaged search stops at the size limit (50)"

t0=$(kb_ms)
json=$(kbas lister --json list)
rc=$?
t1=$(kb_ms)
check_eq "$rc" 0 "list past the size limit"
check_eq "$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), len({p["name"] for p in d}))')" \
    "$N $N" "list --json: all $N key pairs, each once"
echo "list of $N key pairs, paged: $((t1 - t0)) ms"
check_eq "$(kbas lister list | tail -n +2 | wc -l)" "$N" "list table: $N rows"
json=$(kbas lister --json list --attached-to u1000@web-1000)
check_eq "$(echo "$json" | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)])')" \
    "['kp1000']" "list --attached-to after paging"
pages=$(grep -c 'SRCH base="'"$SLAPD_BASE"'" scope=1' "$SLAPD_LOG")
[ "$pages" -ge $((N / 500)) ]
check_eq "$?" 0 "the server saw at least $((N / 500)) page requests ($pages)"

# an identity whose limits stop paging: a clear failure, no partial list
out=$(kbas capped list 2>"$KB_T/err")
rc=$?
check_eq "$rc" 1 "capped identity: exit 1"
check_eq "$out" "" "capped identity: no partial list"
grep -q "stopped at its size limit after [0-9]* key pairs and did not page" "$KB_T/err"
check_eq "$?" 0 "capped identity: says the server did not page"

kb_done
