#!/bin/bash
# schema.sh - the keybound schema: the three shipped files agree, slapd
# loads the cn=config one, and entries that break it are refused.
: "${KB_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

S=$KB_SRC/config-examples/schema
kb_tmpdir

# defs FILE: one line per definition, "KIND ( OID NAME ... )", with
# continuation lines joined, whitespace collapsed and X-ORIGIN removed.
defs() {
	case "$1" in
	*.schema)
		awk '
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { if (cur != "") print cur; cur = ""; next }
		/^[ \t]/ { cur = cur " " $0; next }
		{ if (cur != "") print cur; cur = $0 }
		END { if (cur != "") print cur }' "$1" |
		sed -n 's/^attributetype[ \t]*/at /p; s/^objectclass[ \t]*/oc /p'
		;;
	*.ldif)
		# LDIF: a line starting with one space continues the last one.
		awk '
		/^#/ { next }
		/^ / { cur = cur substr($0, 2); next }
		{ if (cur != "") print cur; cur = $0 }
		END { if (cur != "") print cur }' "$1" |
		sed -n 's/^olcAttributeTypes:[ \t]*/at /p
			s/^attributeTypes:[ \t]*/at /p
			s/^olcObjectClasses:[ \t]*/oc /p
			s/^objectClasses:[ \t]*/oc /p'
		;;
	esac | sed "s/X-ORIGIN '[^']*'//" | tr -s ' \t' '  ' |
	    sed 's/ )$/ )/; s/  */ /g; s/ *$//' | sort
}

# pairs: "KIND OID NAME" from defs output.
pairs() {
	sed -n "s/^\(at\|oc\) ( \([0-9.]*\) NAME '\([A-Za-z0-9-]*\)'.*/\1 \2 \3/p"
}

defs "$S/keybound.schema" >"$KB_T/schema.defs"
defs "$S/keybound.ldif" >"$KB_T/ldif.defs"
defs "$S/60keybound.ldif" >"$KB_T/389.defs"
pairs <"$KB_T/schema.defs" >"$KB_T/schema.pairs"
pairs <"$KB_T/ldif.defs" >"$KB_T/ldif.pairs"
pairs <"$KB_T/389.defs" >"$KB_T/389.pairs"

check_eq "$(wc -l <"$KB_T/schema.pairs")" 13 \
    "keybound.schema defines 10 attribute types and 3 object classes"
check_eq "$(cat "$KB_T/ldif.pairs")" "$(cat "$KB_T/schema.pairs")" \
    "keybound.ldif: same names and OIDs as keybound.schema"
check_eq "$(cat "$KB_T/389.pairs")" "$(cat "$KB_T/schema.pairs")" \
    "60keybound.ldif: same names and OIDs as keybound.schema"
check_eq "$(cat "$KB_T/ldif.defs")" "$(cat "$KB_T/schema.defs")" \
    "keybound.ldif: definitions identical to keybound.schema"
check_eq "$(cat "$KB_T/389.defs")" "$(cat "$KB_T/schema.defs")" \
    "60keybound.ldif: definitions identical to keybound.schema"
for n in keyboundPublicKey keyboundFingerprint keyboundAttachment \
    keyboundNotAfter keyboundKeyOptions keyboundKeyPair keyboundMember \
    keyboundAttachmentEnd keyboundBlocked keyboundHostGroup \
    keyboundBlockedKey keyboundSignature keyboundTombstone; do
	grep -q " $n\$" "$KB_T/schema.pairs" && ok "defines $n" ||
	    not_ok "$n missing from keybound.schema"
done

# Every OID sits under the one arc that OIDS.md records.
arc=$(sed -n 's/^ *arc *\(2\.25\.[0-9]*\)$/\1/p' "$S/OIDS.md")
[ -n "$arc" ] && ok "OIDS.md records the arc" || not_ok "no arc in OIDS.md"
uuid=$(sed -n 's/^ *UUID *\([0-9a-f-]*\)$/\1/p' "$S/OIDS.md")
hex=$(printf '%s' "$uuid" | tr -d '-' | tr a-f A-F)
check_eq "2.25.$(echo "ibase=16; $hex" | BC_LINE_LENGTH=0 bc)" "$arc" \
    "the arc is the UUID in OIDS.md as one decimal integer"
while read -r kind oid name; do
	case "$oid" in
	"$arc".*) ok "$name under the arc" ;;
	*) not_ok "$name: OID $oid not under $arc" ;;
	esac
	grep -q "$oid\`.*$name\|<arc>${oid#"$arc"}\`.*$name" "$S/OIDS.md" &&
	    ok "$name registered in OIDS.md" ||
	    not_ok "$name ($oid) not in OIDS.md"
done <"$KB_T/schema.pairs"
check_eq "$(cut -d' ' -f2 "$KB_T/schema.pairs" | sort | uniq -d)" "" \
    "no OID used twice"

# Syntaxes and matching rules the lookups depend on.
d=$KB_T/schema.defs
grep "NAME 'keyboundAttachment'" "$d" | grep -q "EQUALITY caseExactIA5Match SUBSTR caseExactIA5SubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )" &&
    ok "keyboundAttachment: IA5String, caseExactIA5Match, multi-valued" ||
    not_ok "keyboundAttachment definition"
for n in keyboundPublicKey keyboundFingerprint keyboundKeyOptions \
    keyboundSignature; do
	grep "NAME '$n'" "$d" | grep -q "SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE" &&
	    ok "$n: IA5String, single-valued" || not_ok "$n definition"
done
grep "NAME 'keyboundFingerprint'" "$d" | grep -q "EQUALITY caseExactIA5Match" &&
    ok "keyboundFingerprint: caseExactIA5Match" ||
    not_ok "keyboundFingerprint matching rule"
grep "NAME 'keyboundNotAfter'" "$d" | grep -q "EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE" &&
    ok "keyboundNotAfter: GeneralizedTime, single" ||
    not_ok "keyboundNotAfter definition"
grep "NAME 'keyboundKeyPair'" "$d" | grep -q "STRUCTURAL MUST ( cn \$ keyboundPublicKey \$ keyboundFingerprint ) MAY ( keyboundAttachment \$ keyboundAttachmentEnd \$ keyboundNotAfter \$ keyboundKeyOptions \$ keyboundBlocked \$ keyboundSignature \$ keyboundTombstone \$ description )" &&
    ok "keyboundKeyPair: structural, MUST and MAY as specified" ||
    not_ok "keyboundKeyPair definition"
for n in keyboundMember keyboundAttachmentEnd keyboundTombstone; do
	grep "NAME '$n'" "$d" | grep -q "EQUALITY caseExactIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )" &&
	    ok "$n: IA5String, caseExactIA5Match, multi-valued" ||
	    not_ok "$n definition"
done
grep "NAME 'keyboundBlocked'" "$d" | grep -q "EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE" &&
    ok "keyboundBlocked: Boolean, single" || not_ok "keyboundBlocked definition"
grep "NAME 'keyboundHostGroup'" "$d" | grep -q "STRUCTURAL MUST cn MAY ( keyboundMember \$ keyboundSignature \$ keyboundTombstone \$ description )" &&
    ok "keyboundHostGroup: structural, MUST cn, MAY members and description" ||
    not_ok "keyboundHostGroup definition"
grep "NAME 'keyboundBlockedKey'" "$d" | grep -q "STRUCTURAL MUST keyboundFingerprint MAY ( keyboundPublicKey \$ description )" &&
    ok "keyboundBlockedKey: structural, MUST the fingerprint" ||
    not_ok "keyboundBlockedKey definition"
grep -q "keyboundAttachment eq" "$S/OIDS.md" &&
    grep -q "keyboundFingerprint eq" "$S/OIDS.md" &&
    grep -q "keyboundMember eq" "$S/OIDS.md" &&
    ok "OIDS.md recommends the equality indexes" ||
    not_ok "index recommendations missing from OIDS.md"

# keybound-ad.ldif (Active Directory): the same names, the AD arc of
# OIDS.md with the same suffixes, AD's syntaxes, single-valuedness and
# indexes as keybound.schema says.  tests/integration/samba_ad.sh loads it
# into a real DC; this check runs where Samba cannot.
AD=$S/keybound-ad.ldif
# adval NAME ATTR: the values of ATTR in the record whose cn is NAME.
adval() {
	awk -v n="$1" -v a="$2" 'BEGIN { RS = ""; FS = "\n" }
	{
		hit = 0
		for (i = 1; i <= NF; i++) if ($i == "cn: " n) hit = 1
		if (hit) for (i = 1; i <= NF; i++)
			if (index($i, a ": ") == 1) print substr($i, length(a) + 3)
	}' "$AD" | sort | tr '\n' ' ' | sed 's/ $//'
}
u=$(printf '%s' "$uuid" | tr -d '-' | tr a-f A-F)
adarc="1.2.840.113556.1.8000.2554"
for range in 1:4 5:8 9:12 13:16 17:20 21:26 27:32; do
	adarc="$adarc.$(echo "ibase=16; $(printf '%s' "$u" |
	    cut -c"${range%:*}-${range#*:}")" | bc)"
done
grep -q "^ *AD arc *$adarc\$" "$S/OIDS.md" &&
    ok "OIDS.md records the AD arc: the UUID split as Microsoft's generator does" ||
    not_ok "OIDS.md lacks the AD arc $adarc"
LC_ALL=C grep -nv '^#\|^$\|^[A-Za-z]*:\( .*\)\{0,1\}$\|^-$' "$AD" >"$KB_T/ad.bad"
check_eq "$(cat "$KB_T/ad.bad")" "" \
    "keybound-ad.ldif: comments, attr: value lines and separators only"
while read -r kind oid name; do
	adoid=$adarc${oid#"$arc"}
	check_eq "$(adval "$name" dn)" "CN=$name,CN=Schema,CN=Configuration,DC=X" \
	    "AD: $name in the schema container"
	check_eq "$(adval "$name" lDAPDisplayName)" "$name" \
	    "AD: $name as lDAPDisplayName"
	if [ "$kind" = at ]; then
		check_eq "$(adval "$name" attributeID)" "$adoid" \
		    "AD: $name attributeID under the AD arc"
		def=$(grep "NAME '$name'" "$KB_T/schema.defs")
		case "$def" in
		*" SYNTAX 1.3.6.1.4.1.1466.115.121.1.24"*) want="2.5.5.11 24" ;;
		*" SYNTAX 1.3.6.1.4.1.1466.115.121.1.26"*) want="2.5.5.5 22" ;;
		*" SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 "*) want="2.5.5.8 1" ;;
		*) want="?" ;;
		esac
		check_eq "$(adval "$name" attributeSyntax) $(adval "$name" oMSyntax)" \
		    "$want" "AD: $name syntax matches keybound.schema"
		case "$def" in
		*SINGLE-VALUE*) want=TRUE ;;
		*) want=FALSE ;;
		esac
		check_eq "$(adval "$name" isSingleValued)" "$want" \
		    "AD: $name isSingleValued $want"
		case "$name" in
		keyboundAttachment|keyboundFingerprint|keyboundMember|\
		keyboundTombstone) want=1 ;;
		*) want=0 ;;
		esac
		check_eq "$(adval "$name" searchFlags)" "$want" \
		    "AD: $name searchFlags $want"
		check_eq "$(adval "$name" objectClass)" "attributeSchema top" \
		    "AD: $name is an attributeSchema"
	else
		check_eq "$(adval "$name" governsID)" "$adoid" \
		    "AD: $name governsID under the AD arc"
		check_eq "$(adval "$name" objectClass)" "classSchema top" \
		    "AD: $name is a classSchema"
		check_eq "$(adval "$name" objectClassCategory)/$(adval "$name" subClassOf)/$(adval "$name" rDNAttID)" \
		    "1/top/cn" "AD: $name structural, under top, named by cn"
		# MUST and MAY as keybound.schema's (AD adds cn, its rDNAttID)
		def=$(grep "NAME '$name'" "$KB_T/schema.defs")
		must=$( { echo cn; echo "$def" | sed -n 's/.* MUST \(( [^)]* )\|[A-Za-z]*\).*/\1/p' |
		    tr -d '()$' | tr ' ' '\n'; } | grep . | sort -u | tr '\n' ' ' | sed 's/ $//')
		may=$(echo "$def" | sed -n 's/.* MAY \(( [^)]* )\|[A-Za-z]*\).*/\1/p' |
		    tr -d '()$' | tr ' ' '\n' | grep . | sort | tr '\n' ' ' | sed 's/ $//')
		check_eq "$(adval "$name" mustContain)" "$must" \
		    "AD: $name mustContain as keybound.schema's MUST"
		check_eq "$(adval "$name" mayContain)" "$may" \
		    "AD: $name mayContain as keybound.schema's MAY"
	fi
done <"$KB_T/schema.pairs"
# the attributes are in the schema cache before the class names them
awk '/^changetype: add/ { n++ } /^add: schemaUpdateNow/ { print n }' \
    "$AD" >"$KB_T/ad.updates"
check_eq "$(tr '\n' ' ' <"$KB_T/ad.updates")" "10 13 " \
    "AD: schemaUpdateNow after the attributes and after the classes"

# slapd loads the cn=config LDIF; its subschema shows our definitions.
slapd_start || fail "slapd did not start with keybound.ldif"
ok "slapd started from keybound.ldif"
LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_LDAPI_URI" \
    -b cn=Subschema -s base '(objectClass=*)' attributeTypes objectClasses \
    >"$KB_T/subschema" || fail "cannot read the subschema"
while read -r kind oid name; do
	grep -q "^[a-zA-Z]*: ( $oid NAME '$name'" "$KB_T/subschema" &&
	    ok "slapd knows $name as $oid" ||
	    not_ok "slapd subschema lacks $name ($oid)"
done <"$KB_T/schema.pairs"

# try_add: ldapadd as the root DN; prints the LDAP result code.
try_add() {
	LDAPNOINIT=1 ldapadd -x -H "$SLAPD_LDAPI_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" >/dev/null 2>"$KB_T/add.err"
	echo $?
}

K1='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'
K2='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILM+rvN+ot98qgEN796jTiQfszSFxo6uTfrg6PR5JHdS'
F1='SHA256:y1VDvNqeSzWzfKLUTrSVPVBOmDmPAE3wOQaSGuhVhzo'

rc=$(try_add <<EOF
dn: cn=good,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: good
keyboundPublicKey: $K1
keyboundFingerprint: $F1
keyboundAttachment: alice@test-host
keyboundAttachment: bob@test-host
keyboundNotAfter: 20991231235959Z
keyboundKeyOptions: restrict
description: a valid key pair
EOF
)
check_eq "$rc" 0 "a valid key pair is accepted"

rc=$(try_add <<EOF
dn: cn=twokeys,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: twokeys
keyboundPublicKey: $K1
keyboundPublicKey: $K2
keyboundFingerprint: $F1
EOF
)
check_eq "$rc" 19 "two keyboundPublicKey values: constraint violation"

rc=$(try_add <<EOF
dn: cn=twofps,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: twofps
keyboundPublicKey: $K1
keyboundFingerprint: $F1
keyboundFingerprint: SHA256:other
EOF
)
check_eq "$rc" 19 "two keyboundFingerprint values: constraint violation"

rc=$(try_add <<EOF
dn: cn=nofp,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: nofp
keyboundPublicKey: $K1
EOF
)
check_eq "$rc" 65 "missing keyboundFingerprint: object class violation"

rc=$(try_add <<EOF
dn: cn=nokey,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: nokey
keyboundFingerprint: $F1
EOF
)
check_eq "$rc" 65 "missing keyboundPublicKey: object class violation"

rc=$(try_add <<EOF
dn: cn=stranger,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: stranger
keyboundPublicKey: $K1
keyboundFingerprint: $F1
uid: alice
EOF
)
check_eq "$rc" 65 "an attribute outside MUST/MAY: object class violation"

rc=$(try_add <<EOF
dn: cn=badtime,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: badtime
keyboundPublicKey: $K1
keyboundFingerprint: $F1
keyboundNotAfter: tomorrow
EOF
)
check_eq "$rc" 21 "keyboundNotAfter that is not a GeneralizedTime: invalid syntax"

rc=$(try_add <<EOF
dn: cn=twotimes,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: twotimes
keyboundPublicKey: $K1
keyboundFingerprint: $F1
keyboundNotAfter: 20300101000000Z
keyboundNotAfter: 20310101000000Z
EOF
)
check_eq "$rc" 19 "two keyboundNotAfter values: constraint violation"

rc=$(try_add <<EOF
dn: cn=twoopts,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: twoopts
keyboundPublicKey: $K1
keyboundFingerprint: $F1
keyboundKeyOptions: restrict
keyboundKeyOptions: no-pty
EOF
)
check_eq "$rc" 19 "two keyboundKeyOptions values: constraint violation"

# IA5String: a byte beyond ASCII is refused (base64 value: "alice\xc3\xa9@h").
rc=$(try_add <<EOF
dn: cn=utf8,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: utf8
keyboundPublicKey: $K1
keyboundFingerprint: $F1
keyboundAttachment:: YWxpY2XDqUBo
EOF
)
check_eq "$rc" 21 "non-ASCII keyboundAttachment: invalid syntax"

LDAPNOINIT=1 ldapmodify -x -H "$SLAPD_LDAPI_URI" -D "$SLAPD_ROOTDN" \
    -y "$SLAPD_ROOTPW_FILE" >/dev/null 2>"$KB_T/mod.err" <<EOF
dn: cn=good,$SLAPD_BASE
changetype: modify
add: keyboundAttachmentEnd
keyboundAttachmentEnd: alice@test-host 20300101000000Z
-
add: keyboundBlocked
keyboundBlocked: TRUE
EOF
check_eq "$?" 0 "a key pair takes attachment ends and the blocked flag"

rc=$(try_add <<EOF
dn: cn=web,$SLAPD_BASE
objectClass: keyboundHostGroup
cn: web
keyboundMember: web-01
keyboundMember: web-02
description: the web tier
EOF
)
check_eq "$rc" 0 "a host group with members is accepted"

rc=$(try_add <<EOF
dn: cn=empty,$SLAPD_BASE
objectClass: keyboundHostGroup
cn: empty
EOF
)
check_eq "$rc" 0 "an empty host group is accepted"

rc=$(try_add <<EOF
dn: cn=grpkey,$SLAPD_BASE
objectClass: keyboundHostGroup
cn: grpkey
keyboundPublicKey: $K1
EOF
)
check_eq "$rc" 65 "a host group holds no key: object class violation"

rc=$(try_add <<EOF
dn: keyboundFingerprint=$F1,$SLAPD_BASE
objectClass: keyboundBlockedKey
keyboundFingerprint: $F1
keyboundPublicKey: $K1
description: leaked on a laptop
EOF
)
check_eq "$rc" 0 "a blocklist entry named by its fingerprint is accepted"

# Matching: exact case for attachment and fingerprint, ordering on time.
T=$KB_BUILD/tests/tools/kb-dirtool
[ -x "$T" ] || fail "kb-dirtool not built"
kb_write_config "$KB_T/kb.conf"
n() { "$T" -c "$KB_T/kb.conf" search "$SLAPD_BASE" "$1" cn |
    sed -n 's/^# entries \([0-9]*\) .*/\1/p'; }
check_eq "$(n '(keyboundAttachment=alice@test-host)')" 1 \
    "attachment equality matches"
check_eq "$(n '(keyboundAttachment=ALICE@test-host)')" 0 \
    "attachment matching is case-exact"
check_eq "$(n '(keyboundAttachment=alice@*)')" 1 \
    "attachments match substrings (keybound check lists a user's pairs)"
check_eq "$(n "(&(objectClass=keyboundKeyPair)(keyboundFingerprint=$F1))")" 1 \
    "fingerprint equality matches"
check_eq "$(n "(keyboundFingerprint=$(printf '%s' "$F1" | tr a-z A-Z))")" 0 \
    "fingerprint matching is case-exact"
check_eq "$(n '(keyboundNotAfter>=20990101000000Z)')" 1 \
    "keyboundNotAfter has ordering"
check_eq "$(n '(keyboundNotAfter<=20200101000000Z)')" 0 \
    "keyboundNotAfter ordering excludes later times"
check_eq "$(n '(&(objectClass=keyboundHostGroup)(keyboundMember=web-01))')" 1 \
    "member equality matches"
check_eq "$(n '(keyboundMember=WEB-01)')" 0 "member matching is case-exact"
check_eq "$(n '(keyboundBlocked=TRUE)')" 1 "the blocked flag matches"

# The harness indexes what the lookups search on.
LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL \
    -H "$SLAPD_LDAPI_URI" -b cn=config '(olcDatabase={1}mdb)' olcDbIndex \
    >"$KB_T/index" 2>/dev/null || fail "cannot read cn=config"
for a in keyboundAttachment keyboundFingerprint keyboundMember; do
	grep -q "^olcDbIndex: $a eq" "$KB_T/index" && ok "$a is indexed" ||
	    not_ok "$a is not indexed"
done

kb_done
