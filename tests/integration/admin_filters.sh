#!/bin/bash
# admin_filters: list --instance --user --fingerprint --name --expired
# --expiring --unattached, alone and combined (the directory selects on
# its indexed attributes, the rest is checked locally); show and delete
# with several names.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
kb_tmpdir
slapd_start || fail "slapd did not start"
conf=$KB_T/kb.conf
kb_write_config "$conf"
K=$KB_T/keys
mkdir -m 0700 "$K"
kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
# names LIST-ARGS...: the names list --json prints, space-separated.
names() {
	kb --json list "$@" | python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(sys.stdin)))'
}

for n in web-a web-b db-a spare old; do
	ssh-keygen -q -t ed25519 -N '' -f "$K/$n" || fail "ssh-keygen"
	kb import "$n" "$K/$n.pub" >/dev/null || fail "import $n"
done
kb attach web-a alice@web-1 bob@web-2 >/dev/null
kb attach web-b alice@web-2 >/dev/null
kb attach db-a alice@db-1 >/dev/null
kb attach old carol@web-1 >/dev/null
kb set old --expires "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" --force >/dev/null
kb set web-b --expires "$(date -u -d '+10 days' +%Y%m%d%H%M%SZ)" >/dev/null
kb set db-a --expires "$(date -u -d '+60 days' +%Y%m%d%H%M%SZ)" >/dev/null

check_eq "$(names)" "db-a old spare web-a web-b" "no filter: all, by name"
check_eq "$(names --instance web-1)" "old web-a" "--instance"
check_eq "$(names --user alice)" "db-a web-a web-b" "--user"
check_eq "$(names --user alice --instance web-2)" "web-b" "--user with --instance: one target"
check_eq "$(names --user bob --instance web-1)" "" "--user and --instance name one target, not any"
fp=$(ssh-keygen -l -f "$K/db-a" | cut -d' ' -f2)
check_eq "$(names --fingerprint "$fp")" "db-a" "--fingerprint"
check_eq "$(names --name 'web-*')" "web-a web-b" "--name GLOB"
check_eq "$(names --name '*-a' --user alice)" "db-a web-a" "--name with --user"
check_eq "$(names --expired)" "old" "--expired"
check_eq "$(names --expiring 30d)" "web-b" "--expiring 30d"
check_eq "$(names --expiring 90d)" "db-a web-b" "--expiring 90d"
check_eq "$(names --unattached)" "spare" "--unattached"
check_eq "$(names --expiring 90d --instance web-2)" "web-b" "--expiring with --instance"
check_eq "$(names --unattached --user alice)" "" "contradicting filters: nothing"
kb list --expiring soon >/dev/null 2>&1
check_eq "$?" 2 "--expiring with a bad DURATION: exit 2"
kb list --fingerprint MD5:xx >/dev/null 2>&1
check_eq "$?" 2 "--fingerprint not SHA256: exit 2"
kb list --instance 'bad host' >/dev/null 2>&1
check_eq "$?" 2 "--instance invalid: exit 2"
grep -c 'filter="(&(objectClass=keyboundKeyPair)(keyboundFingerprint=' "$SLAPD_LOG" >/dev/null
check_eq "$?" 0 "--fingerprint is selected in the directory"

# --- show and delete take several names ----------------------------------------
check_eq "$(kb --json show web-a spare | python3 -c 'import json,sys; print([p["name"] for p in json.load(sys.stdin)])')" \
    "['web-a', 'spare']" "show NAME NAME: a JSON array in order"
check_eq "$(kb show web-a spare | grep -c '^name:')" 2 "show NAME NAME: two blocks"
kb show web-a nosuch >/dev/null 2>&1
check_eq "$?" 3 "show with a missing name: exit 3"
kb delete spare old >/dev/null 2>&1
check_eq "$?" 4 "delete spare old: old is attached (exit 4)"
check_eq "$(names --name spare)" "" "spare deleted all the same"
json=$(kb --json delete --dry-run web-b db-a 2>/dev/null)
check_eq "$?" 4 "delete --dry-run of attached pairs: exit 4 as the real run"
check_eq "$(names --name '*-[ab]')" "db-a web-a web-b" "--dry-run deleted nothing"

kb_done
