#!/bin/bash
# admin_rotate: `keybound rotate OLD NEW` moves every target of OLD to NEW
# with never a moment where a target has neither: keybound-keys is asked
# for every target over and over while rotate runs, and each answer must
# serve OLD or NEW.  --dry-run changes nothing; an expired NEW is refused.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
[ -x "$KB_BUILD/keybound-keys" ] || fail "keybound-keys not built"
kb_tmpdir
slapd_start || fail "slapd did not start"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_ttl 0"
K=$KB_T/keys
mkdir -m 0700 "$K"
kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
N=20
users=()
for i in $(seq 1 $N); do users+=("u$i"); done
for n in old-key new-key; do
	ssh-keygen -q -t ed25519 -N '' -f "$K/$n" || fail "ssh-keygen"
	kb import "$n" "$K/$n.pub" >/dev/null || fail "import $n"
done
targets=()
for u in "${users[@]}"; do targets+=("$u@test-host"); done
kb attach old-key "${targets[@]}" other@web-9 >/dev/null || fail "attach"

# --dry-run: says what would change, changes nothing
json=$(kb --json rotate old-key new-key --dry-run)
check_eq "$?" 0 "rotate --dry-run"
check_eq "$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["targets"]), d["dry_run"])')" \
    "$((N + 1)) True" "--dry-run lists every target"
check_eq "$(kb --json show new-key | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["attachments"]))')" \
    0 "--dry-run attached nothing"

# watch every target while rotate runs
watch() {
	local u out bad=0 rounds=0
	while [ ! -e "$KB_T/done" ] || [ $rounds -lt 2 ]; do
		[ -e "$KB_T/done" ] && rounds=$((rounds + 1))
		for u in "${users[@]}"; do
			out=$("$KB_BUILD/keybound-keys" -c "$conf" "$u" 2>/dev/null)
			case $out in
			*keybound:old-key*|*keybound:new-key*) ;;
			*) echo "$u: neither key served: [$out]"; bad=1 ;;
			esac
			echo x >>"$KB_T/asked"
		done
	done
	return $bad
}
watch >"$KB_T/watch" 2>&1 &
wpid=$!
# let the watcher see the state before rotate starts
for _ in $(seq 1 200); do [ -s "$KB_T/asked" ] && break; sleep 0.05; done
json=$(kb --json rotate old-key new-key)
rc=$?
touch "$KB_T/done"
wait "$wpid"
wrc=$?
check_eq "$rc" 0 "rotate"
check_eq "$wrc" 0 "every target served old-key or new-key at every moment ($(wc -l <"$KB_T/asked") answers)"
[ "$wrc" = 0 ] || cat "$KB_T/watch" >&2
# the order the directory saw: every target added to new-key in one
# modify before old-key lost any (what makes the watch above hold)
check_eq "$(grep -Eo 'MOD dn="cn=(old|new)-key,' "$SLAPD_LOG" | tail -n 2 | tr '\n' ' ')" \
    'MOD dn="cn=new-key, MOD dn="cn=old-key, ' "the directory saw attach NEW, then detach OLD"
check_eq "$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["old"], d["new"], len(d["targets"]), d["dry_run"])')" \
    "old-key new-key $((N + 1)) False" "rotate --json reports each target"
check_eq "$(kb --json show old-key new-key | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d[0]["attachments"]), len(d[1]["attachments"]))')" \
    "0 $((N + 1))" "old-key detached everywhere, new-key attached everywhere"
out=$("$KB_BUILD/keybound-keys" -c "$conf" u7)
case $out in *keybound:new-key) ok "keybound-keys serves new-key after rotate" ;;
*) not_ok "after rotate: [$out]" ;; esac

# rotating to an expired pair would lock every target out
kb set old-key --expires "$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)" --force >/dev/null
kb rotate new-key old-key >/dev/null 2>&1
check_eq "$?" 4 "rotate to an expired pair: exit 4"
check_eq "$(kb --json show new-key | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["attachments"]))')" \
    $((N + 1)) "refused rotate changed nothing"
kb rotate nosuch new-key >/dev/null 2>&1
check_eq "$?" 3 "rotate from a missing pair: exit 3"

# --- attach --replace-only, --dry-run on attach and detach ----------------------
attached() {
	kb --json show "$1" | python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["attachments"])))'
}
ssh-keygen -q -t ed25519 -N '' -f "$K/glass" || fail "ssh-keygen"
kb import glass "$K/glass.pub" >/dev/null || fail "import glass"
kb attach glass u1@test-host u2@test-host >/dev/null
kb set old-key --expires never >/dev/null
before=$(attached new-key)
json=$(kb --json attach old-key u1@test-host u2@test-host --replace --dry-run)
check_eq "$?" 0 "attach --replace --dry-run"
check_eq "$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(r["name"]+":"+r["target"] for r in d["replaced"]), d["dry_run"])')" \
    "['glass:u1@test-host', 'glass:u2@test-host', 'new-key:u1@test-host', 'new-key:u2@test-host'] True" \
    "--dry-run names every holder --replace would remove"
check_eq "$(attached old-key)|$(attached new-key)|$(attached glass)" \
    "|$before|u1@test-host u2@test-host" "attach --dry-run changed nothing"
json=$(kb --json attach old-key u1@test-host --replace-only new-key)
check_eq "$?" 0 "attach --replace-only"
check_eq "$(echo "$json" | python3 -c 'import json,sys; print([r["name"]+":"+r["target"] for r in json.load(sys.stdin)["replaced"]])')" \
    "['new-key:u1@test-host']" "--replace-only reports the one pair it replaced"
check_eq "$(attached glass)" "u1@test-host u2@test-host" \
    "--replace-only leaves the break-glass key"
attached new-key | grep -qw 'u1@test-host'
check_eq "$?" 1 "--replace-only took the target from new-key"
kb attach old-key u3@test-host --replace-only nosuch >/dev/null 2>&1
check_eq "$?" 3 "--replace-only of a missing pair: exit 3"
json=$(kb --json detach glass u1@test-host u9@test-host --dry-run)
check_eq "$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["detached"], d["not_attached"])')" \
    "['u1@test-host'] ['u9@test-host']" "detach --dry-run says what it would do"
check_eq "$(attached glass)" "u1@test-host u2@test-host" "detach --dry-run changed nothing"

# --- --targets-from: more targets than a command line, one modify ------------
for i in $(seq 1 1500); do echo "bulk$i@test-host"; done >"$KB_T/targets"
printf '# a comment\n\nextra@web-9\r\n' >>"$KB_T/targets"
count() { kb --json show "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["attachments"]))'; }
m0=$(grep -c 'MOD dn="cn=glass,' "$SLAPD_LOG")
kb attach glass --targets-from "$KB_T/targets" >/dev/null
check_eq "$?" 0 "attach --targets-from FILE"
check_eq "$(count glass)" 1503 "1,501 targets from the file attached"
check_eq "$(grep -c 'MOD dn="cn=glass,' "$SLAPD_LOG")" $((m0 + 1)) \
    "written as one modify of the entry"
kb detach glass --targets-from - <"$KB_T/targets" >/dev/null
check_eq "$?:$(attached glass)" "0:u1@test-host u2@test-host" "detach --targets-from -"
printf 'ok1@test-host\nnot a target\n' >"$KB_T/bad-targets"
kb attach glass --targets-from "$KB_T/bad-targets" >/dev/null 2>&1
check_eq "$?:$(attached glass)" "2:u1@test-host u2@test-host" \
    "a bad line refuses the whole file, nothing written"
kb attach glass --targets-from "$KB_T/no-such-file" >/dev/null 2>&1
check_eq "$?" 2 "a missing --targets-from file: exit 2"

kb_done
