#!/bin/bash
# admin_fleet: host groups and time-boxed attachments from the admin CLI,
# against a throwaway slapd with our schema:
#   - group create/add/remove/delete/list/show with --json, exit codes
#     (2 usage and bad values, 3 no such group, 4 exists or attached);
#   - hostile group names and member values (filter injection, 64 KiB,
#     control bytes, '+' in an instance) refused with exit 2, nothing
#     written;
#   - one name space for key pairs and groups, with group_base equal to
#     base and with its own container;
#   - attach USER@+GROUP (the group must exist), --for/--until stored as
#     keyboundAttachmentEnd values, replaced on re-attach, removed by a
#     plain attach and by detach; list/show print the time left;
#   - prune [--dry-run] removes expired attachments and stray ends only;
#   - races: group delete against attach never leaves an attachment
#     naming a missing group; prune against a re-attach never removes the
#     fresh attachment.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
kb_tmpdir
slapd_start || fail "slapd did not start"
conf=$KB_T/kb.conf
kb_write_config "$conf"
GROUPS_BASE=ou=groups,$SLAPD_SUFFIX
conf2=$KB_T/kb2.conf
kb_write_config "$conf2" "group_base $GROUPS_BASE"
K=$KB_T/keys
mkdir -m 0700 "$K"
ROUNDS=${KB_RACE_ROUNDS:-20}

kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
kb2() {
	"$KB_BUILD/keybound" -c "$conf2" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
js() {
	python3 -c 'import json,sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if not isinstance(v, str) else v)' "$1"
}
# vals DN ATTR: the values of ATTR of entry DN, sorted, one line.
vals() {
	LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_LDAPI_URI" \
	    -b "$1" -s base "$2" 2>/dev/null | sed -n "s/^$2: //p" | sort |
	    tr '\n' '|'
}
# exists DN: 0 if the entry exists.
exists() {
	LDAPNOINIT=1 ldapsearch -LLL -x -H "$SLAPD_LDAPI_URI" -b "$1" -s base \
	    dn 2>/dev/null | grep -q '^dn:'
}
count_entries() {
	LDAPNOINIT=1 ldapsearch -LLL -x -H "$SLAPD_LDAPI_URI" \
	    -b "$SLAPD_SUFFIX" "$1" dn 2>/dev/null | grep -c '^dn:'
}
# gtime SECONDS-FROM-NOW: a GeneralizedTime.
gtime() { date -u -d "@$(($(date +%s) + $1))" +%Y%m%d%H%M%SZ; }

printf 'dn: %s\nobjectClass: organizationalUnit\nou: groups\n' \
    "$GROUPS_BASE" | slapd_ldapadd || fail "ou=groups"

ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/a" && \
    ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/b" || fail "ssh-keygen"
kb import kpa "$K/a.pub" >/dev/null && kb import kpb "$K/b.pub" >/dev/null ||
    fail "import"

# --- usage and bad values: exit 2, nothing written ------------------------
for args in "group" "group frob" "group create" "group create a b" \
    "group add web" "group remove web" "group delete" "group show" \
    "group list x" "group create web --bogus" "prune x" \
    "attach kpa a@h --for" "attach kpa a@h --for 0m" "attach kpa a@h --for 5x" \
    "attach kpa a@h --for -5m" "attach kpa a@h --for 5" \
    "attach kpa a@h --for 99999d" "attach kpa a@h --until tomorrow" \
    "attach kpa a@h --until 2001-01-01T00:00:00Z" \
    "attach kpa a@h --until 20010101000000Z" \
    "attach kpa a@h --for 1h --until 2099-01-01T00:00:00Z"; do
	# shellcheck disable=SC2086
	kb $args >/dev/null 2>&1
	check_eq "$?" 2 "usage error: $args"
done
out=$(kb attach kpa a@h --until 2001-01-01T00:00:00Z 2>&1)
case $out in *"not in the future"*) ok "--until in the past explains" ;;
*) not_ok "--until past message: $out" ;; esac
check_eq "$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachment)" "" \
    "usage errors attached nothing"

long=$(head -c 65536 /dev/zero | tr '\0' a)
bad_groups=('a' '1web' '-web' 'w' 'we b' 'web)(cn=*' 'web*' 'we,b' 'we+b'
    '+web' 'web\' "$(printf 'we\tb')" "$(printf 'we\001b')" "$long"
    "$(printf 'w\303\251b')")
for g in "${bad_groups[@]}"; do
	out=$(kb group create -- "$g" 2>&1)
	rc=$?
	[ "$rc" = 2 ] || not_ok "group create [${g:0:40}]: rc=$rc"
	case $out in *"invalid group name"*) ;;
	*) not_ok "group create [${g:0:40}]: message ${out:0:200}" ;; esac
	kb group show -- "$g" >/dev/null 2>&1
	[ $? = 2 ] || not_ok "group show [${g:0:40}] not exit 2"
	kb attach kpa "alice@+$g" >/dev/null 2>&1
	[ $? = 2 ] || not_ok "attach alice@+[${g:0:40}] not exit 2"
done
ok "hostile group names refused with exit 2"
check_eq "$(count_entries '(objectClass=keyboundHostGroup)')" 0 \
    "no group entry written by hostile names"
check_eq "$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachment)" "" \
    "no attachment written by hostile group names"

# --- group create, list, show ---------------------------------------------
json=$(kb --json group create web -d "Web servers")
check_eq "$?" 0 "group create web"
check_eq "$(echo "$json" | js '[d["name"], d["description"], d["members"]]')" \
    '["web", "Web servers", []]' "group create --json"
check_eq "$(vals "cn=web,$SLAPD_BASE" objectClass)" "keyboundHostGroup|" \
    "group entry cn=web,base (group_base defaults to base)"
kb group create web >/dev/null 2>&1
check_eq "$?" 4 "group create of an existing group: exit 4"
kb group create kpa >/dev/null 2>&1
check_eq "$?" 4 "group create with a key pair's name: exit 4"
kb import web "$K/b.pub" --allow-duplicate >/dev/null 2>&1
check_eq "$?" 4 "import with a group's name: exit 4"
kb create web -o "$K/web" >/dev/null 2>&1
check_eq "$?" 4 "create with a group's name: exit 4"
[ ! -e "$K/web" ]
check_eq "$?" 0 "create refused by a group name wrote no private key"
kb group create db -d "$(printf 'bad\001desc')" >/dev/null 2>&1
check_eq "$?" 2 "group create -d with a control byte: exit 2"
kb group create db >/dev/null || not_ok "group create db"

# members: hostile values refused, nothing written
bad_members=('web+01' '+web' '-web' '.web' 'web 01' 'web)(x=*' 'web*'
    "$(printf 'web\n01')" "$(printf 'web\001')" "$long" 'web/01' 'web@01'
    "$(printf 'w\303\251b')" "$(head -c 254 /dev/zero | tr '\0' a)")
for m in "${bad_members[@]}"; do
	out=$(kb group add web ok-1 -- "$m" 2>&1)
	rc=$?
	[ "$rc" = 2 ] || not_ok "group add [${m:0:40}]: rc=$rc"
	case $out in *"invalid instance id"*) ;;
	*) not_ok "group add [${m:0:40}]: message ${out:0:200}" ;; esac
	kb group remove web -- "$m" >/dev/null 2>&1
	[ $? = 2 ] || not_ok "group remove [${m:0:40}] not exit 2"
done
ok "hostile member values refused with exit 2"
check_eq "$(vals "cn=web,$SLAPD_BASE" keyboundMember)" "" \
    "hostile member values wrote nothing (not even the valid one)"

json=$(kb --json group add web web-01 web-02 web-01)
check_eq "$?" 0 "group add"
check_eq "$(echo "$json" | js '[d["added"], d["already_members"]]')" \
    '[["web-01", "web-02"], []]' "group add --json (repeats dropped)"
json=$(kb group add web web-02 web-03 --json)
check_eq "$(echo "$json" | js '[d["added"], d["already_members"]]')" \
    '[["web-03"], ["web-02"]]' "group add reports who was already in"
check_eq "$(vals "cn=web,$SLAPD_BASE" keyboundMember)" "web-01|web-02|web-03|" \
    "members stored exactly"
json=$(kb --json group remove web web-03 nothere)
check_eq "$(echo "$json" | js '[d["removed"], d["not_members"]]')" \
    '[["web-03"], ["nothere"]]' "group remove --json"
check_eq "$(vals "cn=web,$SLAPD_BASE" keyboundMember)" "web-01|web-02|" \
    "member removed"
kb group add nosuch web-01 >/dev/null 2>&1
check_eq "$?" 3 "group add to a missing group: exit 3"
kb group remove nosuch web-01 >/dev/null 2>&1
check_eq "$?" 3 "group remove from a missing group: exit 3"
kb group show nosuch >/dev/null 2>&1
check_eq "$?" 3 "group show of a missing group: exit 3"
kb group delete nosuch >/dev/null 2>&1
check_eq "$?" 3 "group delete of a missing group: exit 3"
json=$(kb --json group list)
check_eq "$(echo "$json" | js '[[g["name"], g["members"], g["description"]] for g in d]')" \
    '[["db", [], null], ["web", ["web-01", "web-02"], "Web servers"]]' \
    "group list --json"
out=$(kb group list)
check_eq "$(echo "$out" | awk 'NR==3 {print $1, $2}')" "web 2" \
    "group list table: name and member count"

# --- attach USER@+GROUP ---------------------------------------------------
out=$(kb attach kpa alice@+web)
check_eq "$?:$out" "0:kpa attached to alice@+web" "attach alice@+web"
check_eq "$(kb --json list --attached-to alice@+web | js '[p["name"] for p in d]')" \
    '["kpa"]' "list --attached-to USER@+GROUP"
kb attach kpa alice@+nosuch >/dev/null 2>&1
check_eq "$?" 3 "attach to a missing group: exit 3"
kb attach kpa alice@+WEB >/dev/null 2>&1
check_eq "$?" 3 "group names match byte for byte (+WEB is not web)"
check_eq "$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachment)" "alice@+web|" \
    "only the existing group's attachment stored"
json=$(kb --json group show web)
check_eq "$(echo "$json" | js '[d["members"], d["attachments"]]')" \
    '[["web-01", "web-02"], [{"name": "kpa", "attachment": "alice@+web", "until": null, "expired": false}]]' \
    "group show --json: members and the attachments naming it"
out=$(kb group delete web 2>&1)
check_eq "$?" 4 "group delete while attached: exit 4"
case $out in *"alice@+web on kpa"*) ok "refused delete names the attachment" ;;
*) not_ok "group delete message: $out" ;; esac
exists "cn=web,$SLAPD_BASE"
check_eq "$?" 0 "refused group delete left the group"

# --- time-boxed attachments -----------------------------------------------
t0=$(date +%s)
json=$(kb --json attach kpa bob@web-01 --for 2h)
check_eq "$?" 0 "attach --for 2h"
until=$(echo "$json" | js 'd["until"]')
endv=$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachmentEnd)
want=$(date -u -d "$until" +%Y%m%d%H%M%SZ)
check_eq "$endv" "bob@web-01 $want|" "End value 'USER@TARGET GeneralizedTime'"
secs=$(( $(date -u -d "$until" +%s) - t0 ))
[ "$secs" -ge 7199 ] && [ "$secs" -le 7230 ]
check_eq "$?" 0 "--for 2h ends two hours from now (got ${secs}s)"
out=$(kb list --wide)
case $out in *"bob@web-01 (ends $until, 1h59m left)"*|*"bob@web-01 (ends $until, 2h0m left)"*)
	ok "list prints the time left" ;;
*) not_ok "list: $out" ;; esac
out=$(kb show kpa)
case $out in *"bob@web-01 (ends $until, "*" left)"*) ok "show prints the time left" ;;
*) not_ok "show: $out" ;; esac
json=$(kb --json show kpa)
check_eq "$(echo "$json" | js '[[x["target"], x["until"], x["expired"]] for x in d["attachment_details"]]')" \
    "[[\"alice@+web\", null, false], [\"bob@web-01\", \"$until\", false]]" \
    "show --json: attachment_details with until"
check_eq "$(echo "$json" | js 'd["attachments"]')" '["alice@+web", "bob@web-01"]' \
    "show --json keeps attachments as before"
# re-attach with another end: exactly one End value, the new one
kb attach kpa bob@web-01 --until 2099-06-01T12:00:00Z >/dev/null
check_eq "$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachmentEnd)" \
    "bob@web-01 20990601120000Z|" "re-attach --until replaces the End value"
kb attach kpa bob@web-01 --until 20990601120000Z >/dev/null
check_eq "$?:$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachmentEnd)" \
    "0:bob@web-01 20990601120000Z|" "GeneralizedTime --until, same end: unchanged"
kb attach kpa carol@+web --for 30m >/dev/null
check_eq "$?" 0 "time-boxed group attachment"
json=$(kb --json group show web)
check_eq "$(echo "$json" | js '[a["attachment"] for a in d["attachments"] if a["until"]]')" \
    '["carol@+web"]' "group show carries the end of a group attachment"
# a plain attach makes it permanent again
out=$(kb attach kpa bob@web-01)
check_eq "$?:$out" "0:kpa already attached to bob@web-01" "plain re-attach"
check_eq "$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachmentEnd | tr '|' '\n' | grep -c '^bob@')" \
    0 "plain attach removed the End value"
# detach removes the End values too
kb detach kpa carol@+web >/dev/null
check_eq "$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachmentEnd)" "" \
    "detach removed the End value"
# user names with spaces: the End value splits at the last space
kb attach kpa "john smith@web-02" --for 1h >/dev/null
check_eq "$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachmentEnd | sed 's/ [0-9]*Z|$//')" \
    "john smith@web-02" "End value of a user name with a space"
kb attach kpa "john smith@web-02" >/dev/null
check_eq "$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachmentEnd)" "" \
    "plain attach of a user name with a space removed its End"

# --- prune ----------------------------------------------------------------
past=$(gtime -60)
older=$(gtime -7200)
future=$(gtime 3600)
slapd_ldapmodify - <<EOF || fail "seed prune"
dn: cn=kpb,$SLAPD_BASE
changetype: modify
add: keyboundAttachment
keyboundAttachment: old@web-01
keyboundAttachment: twice@web-01
keyboundAttachment: fresh@web-01
keyboundAttachment: forever@web-01
keyboundAttachment: garbled@web-01
-
add: keyboundAttachmentEnd
keyboundAttachmentEnd: old@web-01 $past
keyboundAttachmentEnd: twice@web-01 $future
keyboundAttachmentEnd: twice@web-01 $older
keyboundAttachmentEnd: fresh@web-01 $future
keyboundAttachmentEnd: gone@web-01 $future
keyboundAttachmentEnd: garbled@web-01 notatime
EOF
before=$(vals "cn=kpb,$SLAPD_BASE" keyboundAttachment)$(vals "cn=kpb,$SLAPD_BASE" keyboundAttachmentEnd)
json=$(kb --json prune --dry-run 2>"$KB_T/prune.err")
check_eq "$?" 0 "prune --dry-run"
check_eq "$(echo "$json" | js '[d["dry_run"], sorted(x["attachment"] for x in d["removed"]), [x["end_value"] for x in d["stray_ends"]]]')" \
    "[true, [\"old@web-01\", \"twice@web-01\"], [\"gone@web-01 $future\"]]" \
    "dry run: expired (earliest end counts) and stray ends"
check_eq "$(vals "cn=kpb,$SLAPD_BASE" keyboundAttachment)$(vals "cn=kpb,$SLAPD_BASE" keyboundAttachmentEnd)" \
    "$before" "dry run changed nothing"
grep -q "unreadable end time for garbled@web-01" "$KB_T/prune.err"
check_eq "$?" 0 "an unreadable end is reported"
out=$(kb prune)
check_eq "$?" 0 "prune"
case $out in *"removed old@web-01 from kpb (ended "*) ok "prune says what it removed" ;;
*) not_ok "prune output: $out" ;; esac
check_eq "$(vals "cn=kpb,$SLAPD_BASE" keyboundAttachment)" \
    "forever@web-01|fresh@web-01|garbled@web-01|" \
    "prune removed exactly the expired attachments"
check_eq "$(vals "cn=kpb,$SLAPD_BASE" keyboundAttachmentEnd)" \
    "fresh@web-01 $future|garbled@web-01 notatime|" \
    "prune removed their ends and the stray one, kept the rest"
check_eq "$(kb prune)" "nothing to prune" "prune again: nothing"
check_eq "$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachment)" \
    "alice@+web|bob@web-01|john smith@web-02|" "prune left other pairs alone"

# --- group delete --------------------------------------------------------
kb detach kpa alice@+web >/dev/null
json=$(kb --json group delete web)
check_eq "$?:$(echo "$json" | js 'd["deleted"]')" "0:true" "group delete"
exists "cn=web,$SLAPD_BASE"
check_eq "$?" 1 "group entry gone"
# a leftover attachment naming a missing group blocks the name
slapd_ldapmodify - <<EOF || fail "seed stale"
dn: cn=kpb,$SLAPD_BASE
changetype: modify
add: keyboundAttachment
keyboundAttachment: stale@+ghost
EOF
out=$(kb group create ghost 2>&1)
check_eq "$?" 4 "group create refused while attachments name it"
case $out in *"stale@+ghost on kpb"*) ok "refused create names the leftover" ;;
*) not_ok "group create ghost: $out" ;; esac
kb detach kpb stale@+ghost >/dev/null && kb group create ghost >/dev/null
check_eq "$?" 0 "group create once detached"

# --- a separate group_base ----------------------------------------------
kb2 group create ops -d "Operations" >/dev/null
check_eq "$?" 0 "group create under group_base"
exists "cn=ops,$GROUPS_BASE"
check_eq "$?" 0 "group entry is cn=ops,group_base"
kb2 group create kpa >/dev/null 2>&1
check_eq "$?" 4 "separate group_base: a key pair's name is refused"
kb2 import ops "$K/b.pub" --allow-duplicate >/dev/null 2>&1
check_eq "$?" 4 "separate group_base: import of a group's name refused"
kb2 import OPS "$K/b.pub" --allow-duplicate >/dev/null 2>&1
check_eq "$?" 4 "separate group_base: names collide in any case, as DNs do"
kb2 group create KPA >/dev/null 2>&1
check_eq "$?" 4 "separate group_base: group named like a key pair in another case"
exists "cn=ops,$SLAPD_BASE"
check_eq "$?" 1 "no key pair entry named like the group"
kb2 group add ops ops-01 >/dev/null && kb2 attach kpb dave@+ops >/dev/null
check_eq "$?" 0 "attach to a group under group_base"
kb attach kpb dave@+ops >/dev/null 2>&1
check_eq "$?" 3 "with group_base = base the group is not there: exit 3"
kb2 group delete ops >/dev/null 2>&1
check_eq "$?" 4 "group delete under group_base refused while attached"

# --- race: group delete against attach ----------------------------------
bad=0
for ((i = 0; i < ROUNDS; i++)); do
	kb group create "race$i" >/dev/null || fail "race$i"
	kb attach kpa "r$i@+race$i" >/dev/null 2>"$KB_T/e1" &
	p1=$!
	kb group delete "race$i" >/dev/null 2>"$KB_T/e2" &
	p2=$!
	wait $p1; r1=$?
	wait $p2; r2=$?
	att=$(vals "cn=kpa,$SLAPD_BASE" keyboundAttachment | tr '|' '\n' |
	    grep -cx "r$i@+race$i")
	exists "cn=race$i,$SLAPD_BASE"; g=$?
	# never an attachment naming a missing group; never both "done"
	if { [ "$att" = 1 ] && [ $g != 0 ]; } || { [ $r1 = 0 ] && [ $r2 = 0 ]; } ||
	    { [ $r1 = 0 ] && [ "$att" != 1 ]; } || { [ $r2 = 0 ] && [ $g = 0 ]; }
	then
		bad=$((bad + 1))
		echo "round $i: attach=$r1 delete=$r2 attached=$att group=$g" >&2
		cat "$KB_T/e1" "$KB_T/e2" >&2
	fi
done
check_eq "$bad" 0 "$ROUNDS rounds of group delete racing attach: consistent"

# --- race: prune against re-attach --for ----------------------------------
bad=0
for ((i = 0; i < ROUNDS; i++)); do
	slapd_ldapmodify - <<EOF || fail "seed p$i"
dn: cn=kpb,$SLAPD_BASE
changetype: modify
add: keyboundAttachment
keyboundAttachment: p$i@web-01
-
add: keyboundAttachmentEnd
keyboundAttachmentEnd: p$i@web-01 $(gtime -5)
EOF
	kb prune >/dev/null 2>"$KB_T/e1" &
	p1=$!
	kb attach kpb "p$i@web-01" --for 1h >/dev/null 2>"$KB_T/e2" &
	p2=$!
	wait $p1; r1=$?
	wait $p2; r2=$?
	att=$(vals "cn=kpb,$SLAPD_BASE" keyboundAttachment | tr '|' '\n' |
	    grep -cx "p$i@web-01")
	ends=$(vals "cn=kpb,$SLAPD_BASE" keyboundAttachmentEnd | tr '|' '\n' |
	    grep -c "^p$i@web-01 ")
	endt=$(vals "cn=kpb,$SLAPD_BASE" keyboundAttachmentEnd | tr '|' '\n' |
	    sed -n "s/^p$i@web-01 //p")
	if [ $r2 != 0 ] || [ "$att" != 1 ] || [ "$ends" != 1 ] ||
	    [ "$endt" \< "$(gtime 3000)" ]; then
		bad=$((bad + 1))
		echo "round $i: prune=$r1 attach=$r2 attached=$att ends=$ends [$endt]" >&2
		cat "$KB_T/e1" "$KB_T/e2" >&2
	fi
done
check_eq "$bad" 0 "$ROUNDS rounds of prune racing re-attach: the fresh end stands"

kb_done
