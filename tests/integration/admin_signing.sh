#!/bin/bash
# admin_signing: signed key pairs from the admin side, against a throwaway
# slapd with our schema:
#   - signer create: an unencrypted OpenSSH Ed25519 key (0600, never
#     overwritten) that ssh-keygen reads, its public line on stdout;
#   - every write (import, create, attach incl. --for, groups and
#     --targets-from, set, block, unblock, rotate, group create/add/remove,
#     detach, prune) leaves a keyboundSignature that ssh-keygen -Y verify
#     accepts over the record rebuilt here from the entry as ldapsearch
#     reads it (tests/tools/kb-sign, not the CLI's own mapping), with a
#     serial that grows with every write;
#   - signing through an ssh-agent the test starts, with the private key
#     file unreadable; an agent without the key and an encrypted key file
#     are refused (exit 2) before anything is written;
#   - verify [--json] [-T FILE]: exit 0, then 1 with the reason after the
#     root DN changes a signed field; resign fixes it; resign needs a key;
#   - detach leaves the tombstone (attachment with an end now and
#     keyboundTombstone); list/show show it detached; prune keeps a fresh
#     tombstone and drops one older than signature_max_age (its end moved
#     into the past by the root DN, then re-signed), and a group's
#     tombstones once the group's signature is that old;
#   - a signed write to an entry that does not verify (changed by the
#     root DN, unsigned, signed by an untrusted key) is refused with
#     nothing written; resign, or trusted_signers naming the key, lets it
#     through; a root DN write racing signed writes is never signed over;
#   - an older signed version written back is refused by the next signed
#     write (the CLI's own floors), resign warns and signs it newer;
#   - without a signing key: no signature written, no tombstone; a signed
#     entry changed gets a warning on stderr.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

for t in python3 ssh-keygen ssh-agent ssh-add; do
	command -v "$t" >/dev/null || skip "$t missing (tests/deps.sh)"
done
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
KBSIGN=$KB_BUILD/tests/tools/kb-sign
[ -x "$KBSIGN" ] || fail "kb-sign not built"
kb_tmpdir
slapd_start || fail "slapd did not start"
S=$KB_T/signer
mkdir -m 0700 "$S"
K=$KB_T/keys
mkdir -m 0700 "$K"
conf=$KB_T/kb.conf
kb_write_config "$conf" "signature_max_age 1h"
sconf=$KB_T/kbs.conf
kb_write_config "$sconf" "signature_max_age 1h" "signing_key $S/sign"

kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}
kbs() {
	"$KB_BUILD/keybound" -c "$sconf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
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
gtime() { date -u -d "@$(($(date +%s) + $1))" +%Y%m%d%H%M%SZ; }
PDN() { echo "cn=$1,$SLAPD_BASE"; }

# --- signer create ----------------------------------------------------------
pub=$("$KB_BUILD/keybound" signer create -o "$S/sign" -C admin-2026)
check_eq "$?" 0 "signer create"
check_eq "$(stat -c %a "$S/sign")" 600 "the private key is 0600"
check_eq "$(head -n 1 "$S/sign")" "-----BEGIN OPENSSH PRIVATE KEY-----" \
    "OpenSSH private key format"
check_eq "$(ssh-keygen -y -f "$S/sign" 2>/dev/null | cut -d' ' -f1,2)" \
    "$(echo "$pub" | cut -d' ' -f1,2)" "ssh-keygen reads it, unencrypted, same public key"
case $pub in "ssh-ed25519 "*" admin-2026") ok "public line: ssh-ed25519 BASE64 COMMENT" ;;
*) not_ok "public line: $pub" ;; esac
sum=$(sha256sum <"$S/sign")
"$KB_BUILD/keybound" signer create -o "$S/sign" >/dev/null 2>"$KB_T/err"
check_eq "$?" 4 "signer create refuses an existing file"
check_eq "$(sha256sum <"$S/sign")" "$sum" "the existing key is untouched"
"$KB_BUILD/keybound" signer create >/dev/null 2>&1
check_eq "$?" 2 "signer create without -o: usage"
echo "$pub" | cut -d' ' -f1,2 >"$S/sign.pub"
echo "admin $(cut -d' ' -f1,2 <"$S/sign.pub")" >"$S/allowed_signers"
echo "admin $(cut -d' ' -f1,2 <"$S/sign.pub")" >"$S/trusted_signers"
SIGNFP=$(ssh-keygen -l -E sha256 -f "$S/sign.pub" | cut -d' ' -f2)

# sigcheck DN: rebuild the record from the entry as ldapsearch reads it,
# check its keyboundSignature with ssh-keygen; prints the serial.
cat >"$KB_T/rec.py" <<'PY'
import base64, calendar, subprocess, sys, time
ldif, kbsign, out = sys.argv[1], sys.argv[2], sys.argv[3]
attrs = {}
for line in open(ldif, encoding="utf-8"):
    line = line.rstrip("\n")
    if not line or line.startswith("dn:"):
        continue
    if ":: " in line:
        k, v = line.split(":: ", 1)
        v = base64.b64decode(v).decode("utf-8")
    else:
        k, v = line.split(": ", 1)
    attrs.setdefault(k.lower(), []).append(v)
def epoch(g):
    return calendar.timegm(time.strptime(g, "%Y%m%d%H%M%SZ"))
serial, signed_at, sig = attrs["keyboundsignature"][0].split(" ")
oc = [v.lower() for v in attrs["objectclass"]]
args = [kbsign]
if "keyboundkeypair" in oc:
    args += ["pair", attrs["cn"][0], attrs["keyboundpublickey"][0]]
    for a in attrs.get("keyboundattachment", []):
        ends = [epoch(e.rsplit(" ", 1)[1])
                for e in attrs.get("keyboundattachmentend", [])
                if e.rsplit(" ", 1)[0] == a]
        args += ["-a", "%s=%d" % (a, min(ends)) if ends else a]
    if "keyboundnotafter" in attrs:
        args += ["-n", str(epoch(attrs["keyboundnotafter"][0]))]
    if "keyboundkeyoptions" in attrs:
        args += ["-o", attrs["keyboundkeyoptions"][0]]
    if attrs.get("keyboundblocked", ["FALSE"])[0] != "FALSE":
        args += ["-b"]
else:
    args += ["group", attrs["cn"][0]]
    for m in attrs.get("keyboundmember", []):
        args += ["-m", m]
args += ["-s", serial, "-t", str(epoch(signed_at))]
with open(out + ".rec", "wb") as f:
    f.write(subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout)
with open(out + ".sig", "w") as f:
    f.write("-----BEGIN SSH SIGNATURE-----\n")
    for i in range(0, len(sig), 70):
        f.write(sig[i:i + 70] + "\n")
    f.write("-----END SSH SIGNATURE-----\n")
print(serial)
PY
sigcheck() {
	local serial
	LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_LDAPI_URI" \
	    -b "$1" -s base '*' >"$KB_T/entry.ldif" 2>/dev/null || return 1
	serial=$(python3 "$KB_T/rec.py" "$KB_T/entry.ldif" "$KBSIGN" \
	    "$KB_T/entry" 2>"$KB_T/rec.err") || return 1
	ssh-keygen -Y verify -n keybound -f "$S/allowed_signers" -I admin \
	    -s "$KB_T/entry.sig" <"$KB_T/entry.rec" >/dev/null 2>&1 || return 1
	echo "$serial"
}
# signed_after WHAT DN PREVIOUS: the entry verifies with a higher serial;
# sets LAST to it.
signed_after() {
	local s
	if ! s=$(sigcheck "$2"); then
		not_ok "$1: ssh-keygen -Y verify refuses the signature ($(cat "$KB_T/rec.err"))"
		return
	fi
	if [ "$s" -gt "$3" ]; then
		ok "$1: ssh-keygen accepts, serial $3 -> $s"
	else
		not_ok "$1: serial $s not above $3"
	fi
	LAST=$s
}

# --- the check itself catches a wrong record ---------------------------------
ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/a"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/b"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/c"
kbs import kpa "$K/a.pub" >/dev/null
check_eq "$?" 0 "import with signing_key"
signed_after "import" "$(PDN kpa)" 0
pa=$LAST
slapd_ldapmodify - <<EOF || fail "tamper"
dn: $(PDN kpa)
changetype: modify
add: keyboundAttachment
keyboundAttachment: eve@web-01
EOF
if sigcheck "$(PDN kpa)" >/dev/null; then
	not_ok "sigcheck accepted an entry changed after signing"
else
	ok "sigcheck refuses an entry changed after signing"
fi
kbs verify >/dev/null 2>&1
check_eq "$?" 1 "verify: exit 1 after the root DN added an attachment"
out=$(kbs --json verify)
check_eq "$(echo "$out" | js '[(x["name"], x["kind"], x["valid"], x["reason"] is not None) for x in d]')" \
    '[["kpa", "pair", false, true]]' "verify --json: kpa invalid with a reason"
check_eq "$(echo "$out" | js 'd[0]["reason"]')" "signature does not verify" \
    "verify --json: the reason says the signature does not verify"
out=$(kbs resign kpa)
check_eq "$?" 0 "resign kpa"
signed_after "resign" "$(PDN kpa)" "$pa"
pa=$LAST
check_eq "$out" "signed pair kpa (serial $pa)" \
    "resign names the key pair and its new serial"
kbs verify >/dev/null
check_eq "$?" 0 "verify: exit 0 after resign"
kbs detach kpa eve@web-01 >/dev/null

# --- every write re-signs ---------------------------------------------------
for step in \
    "attach kpa alice@web-01" \
    "attach kpa bob@web-02 --for 2h" \
    "set kpa --expires $(gtime 864000) --options no-pty" \
    "set kpa --description hello"; do
	# shellcheck disable=SC2086
	kbs $step >/dev/null
	check_eq "$?" 0 "$step"
	signed_after "$step" "$(PDN kpa)" "$pa"
	pa=$LAST
done
kbs group create web >/dev/null
check_eq "$?" 0 "group create"
signed_after "group create" "$(PDN web)" 0
pg=$LAST
kbs group add web web-01 web-02 web-03 >/dev/null
signed_after "group add" "$(PDN web)" "$pg"
pg=$LAST
printf 'carol@+web\ndan@web-04\n' >"$KB_T/targets"
kbs attach kpa --targets-from "$KB_T/targets" >/dev/null
check_eq "$?" 0 "attach --targets-from with a group target"
signed_after "attach --targets-from" "$(PDN kpa)" "$pa"
pa=$LAST
kbs create kpc -o "$K/kpc" >/dev/null
check_eq "$?" 0 "create"
signed_after "create" "$(PDN kpc)" 0
pc=$LAST
kbs import kpb "$K/b.pub" >/dev/null
signed_after "import kpb" "$(PDN kpb)" 0
pb=$LAST
kbs block kpb --reason test >/dev/null
check_eq "$?" 0 "block"
check_eq "$(vals "$(PDN kpb)" keyboundBlocked)" "TRUE|" "blocked flag set"
signed_after "block (blocked flag in the record)" "$(PDN kpb)" "$pb"
pb=$LAST
kbs unblock "$(ssh-keygen -l -E sha256 -f "$K/b.pub" | cut -d' ' -f2)" >/dev/null
check_eq "$?" 0 "unblock"
signed_after "unblock" "$(PDN kpb)" "$pb"
pb=$LAST
kbs attach kpc frank@web-05 >/dev/null
signed_after "attach kpc" "$(PDN kpc)" "$pc"
pc=$LAST
kbs rotate kpc kpb >/dev/null
check_eq "$?" 0 "rotate kpc kpb"
signed_after "rotate: NEW" "$(PDN kpb)" "$pb"
pb=$LAST
signed_after "rotate: OLD" "$(PDN kpc)" "$pc"
pc=$LAST

# --- ssh-agent holds the signing key ---------------------------------------
AGENT_SOCK=$KB_T/agent.sock
ssh-agent -a "$AGENT_SOCK" >"$KB_T/agent.env" || fail "ssh-agent"
AGENT_PID=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' "$KB_T/agent.env")
[ -n "$AGENT_PID" ] || fail "ssh-agent pid"
kb_on_exit "kill $AGENT_PID"
SSH_AUTH_SOCK=$AGENT_SOCK ssh-add "$S/sign" 2>/dev/null || fail "ssh-add"
mv "$S/sign" "$S/sign.away" && chmod 000 "$S/sign.away"
SSH_AUTH_SOCK=$AGENT_SOCK kb -S "agent:$SIGNFP" attach kpa gina@web-06 \
    >/dev/null 2>"$KB_T/err"
check_eq "$?" 0 "attach through ssh-agent, no private key file readable"
signed_after "attach via agent" "$(PDN kpa)" "$pa"
pa=$LAST
OTHERFP=$(ssh-keygen -l -E sha256 -f "$K/c.pub" | cut -d' ' -f2)
SSH_AUTH_SOCK=$AGENT_SOCK kb -S "agent:$OTHERFP" attach kpa hank@web-07 \
    >/dev/null 2>"$KB_T/err"
check_eq "$?" 2 "an agent without that key: exit 2"
grep -q "does not hold" "$KB_T/err"
check_eq "$?" 0 "... saying the agent does not hold it"
case $(vals "$(PDN kpa)" keyboundAttachment) in *hank@*) not_ok "written anyway" ;;
*) ok "nothing written without a usable signing key" ;; esac
chmod 600 "$S/sign.away" && mv "$S/sign.away" "$S/sign"

# --- encrypted private key ---------------------------------------------------
ssh-keygen -q -t ed25519 -N 'secret pass' -C '' -f "$K/enc"
kb -S "$K/enc" attach kpa ivan@web-08 >/dev/null 2>"$KB_T/err"
check_eq "$?" 2 "an encrypted signing key: exit 2"
grep -q "encrypted" "$KB_T/err" && grep -q "ssh-agent" "$KB_T/err"
check_eq "$?" 0 "... saying it is encrypted and to use ssh-agent"
case $(vals "$(PDN kpa)" keyboundAttachment) in *ivan@*) not_ok "written anyway" ;;
*) ok "nothing written with an encrypted key" ;; esac

# --- verify and resign -------------------------------------------------------
out=$(kbs --json verify -T "$S/trusted_signers")
check_eq "$?" 0 "verify -T: every entry verifies"
check_eq "$(echo "$out" | js 'sorted(set((x["signer"], x["signer_name"], x["valid"]) for x in d))')" \
    "[[\"$SIGNFP\", \"admin\", true]]" "verify names the signer (fingerprint and trusted name)"
check_eq "$(echo "$out" | js 'sorted((x["name"], x["kind"]) for x in d)')" \
    '[["kpa", "pair"], ["kpb", "pair"], ["kpc", "pair"], ["web", "group"]]' \
    "verify lists every pair and group"
check_eq "$(echo "$out" | js '[x for x in d if x["name"] == "kpa"][0]["serial"]')" "$pa" \
    "verify reports the serial"
case $(echo "$out" | js 'd[0]["signed_at"]') in
20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z) ok "signed_at in RFC 3339 UTC" ;;
*) not_ok "signed_at: $(echo "$out" | js 'd[0]["signed_at"]')" ;; esac
slapd_ldapmodify - <<EOF || fail "tamper options"
dn: $(PDN kpb)
changetype: modify
replace: keyboundKeyOptions
keyboundKeyOptions: no-pty,command="/bin/sh"
EOF
out=$(kbs --json verify)
check_eq "$?" 1 "verify: exit 1 after the root DN changed options"
check_eq "$(echo "$out" | js '[(x["name"], x["valid"]) for x in d if not x["valid"]]')" \
    '[["kpb", false]]' "verify --json names the changed entry only"
check_eq "$(kbs --json verify kpb | js '[x["reason"] for x in d]')" \
    '["signature does not verify"]' "verify NAME: the reason"
kbs verify nosuch >/dev/null 2>&1
check_eq "$?" 3 "verify of a missing name: exit 3"
kb resign kpb >/dev/null 2>"$KB_T/err"
check_eq "$?" 2 "resign without a signing key: exit 2"
grep -q "signing key" "$KB_T/err"
check_eq "$?" 0 "... saying it needs one"
out=$(kbs --json resign --all)
check_eq "$?" 0 "resign --all"
signed_after "resign --all" "$(PDN kpa)" "$pa"
pa=$LAST
signed_after "resign --all (group)" "$(PDN web)" "$pg"
pg=$LAST
check_eq "$(echo "$out" | js '[x for x in d if x["name"] in ("kpa", "web")]')" \
    "[{\"name\": \"kpa\", \"kind\": \"pair\", \"serial\": $pa}, {\"name\": \"web\", \"kind\": \"group\", \"serial\": $pg}]" \
    "resign --all --json: name, kind and serial of each entry"
kbs verify >/dev/null
check_eq "$?" 0 "verify: exit 0 after resign --all"

# --- tombstones ------------------------------------------------------------
kbs detach kpa alice@web-01 >/dev/null
check_eq "$?" 0 "detach with a signing key"
signed_after "detach" "$(PDN kpa)" "$pa"
pa=$LAST
case $(vals "$(PDN kpa)" keyboundAttachment) in *"alice@web-01|"*) ok "the attachment value stays" ;;
*) not_ok "the attachment value went" ;; esac
end=$(vals "$(PDN kpa)" keyboundAttachmentEnd | tr '|' '\n' | sed -n 's/^alice@web-01 //p')
now=$(date -u +%Y%m%d%H%M%SZ)
if [ -n "$end" ] && [[ ! "$end" > "$now" ]]; then ok "its end is now ($end)"
else not_ok "end [$end] now [$now]"; fi
check_eq "$(vals "$(PDN kpa)" keyboundTombstone)" "web-01|" "keyboundTombstone web-01"
check_eq "$(kbs --json show kpa | js '"alice@web-01" in d["attachments"]')" "false" \
    "show: detached, not attached"
check_eq "$(kbs --json show kpa | js '[x["target"] for x in d["detached"]]')" \
    '["eve@web-01", "alice@web-01"]' "show --json: detached lists it"
check_eq "$(kbs --json list | js '[x for x in d if x["name"] == "kpa"][0]["attachments"].count("alice@web-01")')" \
    "0" "list: not among the attachments"
case $(kbs list --wide) in *alice@web-01*) not_ok "list --wide shows alice@web-01" ;;
*) ok "list --wide does not show it" ;; esac
case $(kbs show kpa) in *"detached:  "*"alice@web-01 ("*) ok "show: a detached line names it" ;;
*) not_ok "show: $(kbs show kpa)" ;; esac
check_eq "$(kbs --json check alice@web-01 | js '[k["name"] for k in d["keys"]]')" "[]" \
    "check: alice@web-01 gets no key"
check_eq "$(kbs --json check bob@web-02 | js '[k["name"] for k in d["keys"]]')" '["kpa"]' \
    "check: a live attachment of the same pair still serves"
check_eq "$(vals "$(PDN kpc)" keyboundAttachment)$(vals "$(PDN kpc)" keyboundTombstone)" \
    "frank@web-05|web-05|" "rotate left a tombstone on OLD"
kbs delete kpc >/dev/null 2>"$KB_T/err"
check_eq "$?" 4 "delete refuses a pair holding only tombstones"
grep -q "tombstones" "$KB_T/err"
check_eq "$?" 0 "... saying prune removes them"
kbs delete kpa >/dev/null 2>"$KB_T/err"
check_eq "$?" 4 "delete refuses a pair that is attached"
kbs detach kpa alice@web-01 >"$KB_T/out"
check_eq "$(cat "$KB_T/out")" "kpa not attached to alice@web-01" "detach again: not attached"
kbs group remove web web-03 >/dev/null
check_eq "$?" 0 "group remove with a signing key"
signed_after "group remove" "$(PDN web)" "$pg"
pg=$LAST
check_eq "$(vals "$(PDN web)" keyboundMember)" "web-01|web-02|" "web-03 removed"
check_eq "$(vals "$(PDN web)" keyboundTombstone)" "web-03|" "group tombstone web-03"

# prune keeps fresh tombstones
kbs prune >/dev/null
check_eq "$?" 0 "prune"
case $(vals "$(PDN kpa)" keyboundAttachment) in *"alice@web-01|"*) ok "prune keeps a fresh tombstoned attachment" ;;
*) not_ok "prune removed a fresh tombstone" ;; esac
check_eq "$(vals "$(PDN kpa)" keyboundTombstone)" "web-01|" "... and its tombstone"
check_eq "$(vals "$(PDN web)" keyboundTombstone)" "web-03|" "prune keeps a fresh group tombstone"
# the end two hours back (signature_max_age is 1h), signed again
old=$(gtime -7200)
slapd_ldapmodify - <<EOF || fail "age the end"
dn: $(PDN kpa)
changetype: modify
delete: keyboundAttachmentEnd
keyboundAttachmentEnd: alice@web-01 $end
-
add: keyboundAttachmentEnd
keyboundAttachmentEnd: alice@web-01 $old
EOF
kbs resign kpa >/dev/null
pa=$(sigcheck "$(PDN kpa)")
# the group signed two hours ago (a valid older signature)
gser=$(($(sigcheck "$(PDN web)") + 1))
gat=$(($(date +%s) - 7200))
"$KBSIGN" group web -m web-01 -m web-02 -s "$gser" -t "$gat" >"$KB_T/g.rec"
gsig=$("$KBSIGN" sign -r "$S/sign" <"$KB_T/g.rec") || fail "kb-sign sign"
slapd_ldapmodify - <<EOF || fail "old group signature"
dn: $(PDN web)
changetype: modify
replace: keyboundSignature
keyboundSignature: $gser $(gtime -7200) $gsig
EOF
sigcheck "$(PDN web)" >/dev/null
check_eq "$?" 0 "the group's two-hour-old signature verifies"
out=$(kbs --json prune)
check_eq "$?" 0 "prune after signature_max_age"
check_eq "$(echo "$out" | js '[[x["name"], x["attachment"]] for x in d["removed"]]')" \
    '[["kpa", "alice@web-01"]]' "prune reports the old tombstoned attachment"
check_eq "$(echo "$out" | js '[[x["name"], x["tombstone"]] for x in d["group_tombstones"]]')" \
    '[["web", "web-03"]]' "prune reports the group tombstone"
case $(vals "$(PDN kpa)" keyboundAttachment) in *alice@web-01*) not_ok "the old tombstoned attachment stays" ;;
*) ok "prune removed the old tombstoned attachment" ;; esac
check_eq "$(vals "$(PDN kpa)" keyboundAttachmentEnd | grep -c alice)" 0 "... and its end"
# eve@web-01, detached at the start, is fresh: the tombstone web-01 stays
case $(vals "$(PDN kpa)" keyboundAttachment) in *"eve@web-01|"*) ok "a fresh tombstoned attachment to the same target stays" ;;
*) not_ok "eve@web-01 went too" ;; esac
check_eq "$(vals "$(PDN kpa)" keyboundTombstone)" "web-01|" \
    "... and with it the tombstone web-01 it needs"
check_eq "$(vals "$(PDN web)" keyboundTombstone)" "" "prune removed the group tombstone"
signed_after "prune (pair)" "$(PDN kpa)" "$pa"
pa=$LAST
signed_after "prune (group)" "$(PDN web)" "$((gser))"
pg=$LAST
kbs verify >/dev/null
check_eq "$?" 0 "verify: exit 0 after prune"
# the last tombstoned attachment to web-01 grows old: the tombstone goes
eend=$(vals "$(PDN kpa)" keyboundAttachmentEnd | tr '|' '\n' | sed -n 's/^eve@web-01 //p')
slapd_ldapmodify - <<EOF || fail "age eve's end"
dn: $(PDN kpa)
changetype: modify
delete: keyboundAttachmentEnd
keyboundAttachmentEnd: eve@web-01 $eend
-
add: keyboundAttachmentEnd
keyboundAttachmentEnd: eve@web-01 $old
EOF
kbs resign kpa >/dev/null
kbs prune >/dev/null
check_eq "$?" 0 "prune again"
case $(vals "$(PDN kpa)" keyboundAttachment) in *eve@web-01*) not_ok "eve@web-01 stays" ;;
*) ok "prune removed the last old tombstoned attachment to web-01" ;; esac
check_eq "$(vals "$(PDN kpa)" keyboundTombstone)" "" "... and the tombstone no one needs now"
case $(vals "$(PDN kpa)" keyboundAttachment) in *"gina@web-06|"*) ok "live attachments stay" ;;
*) not_ok "prune removed a live attachment" ;; esac
sigcheck "$(PDN kpa)" >/dev/null
check_eq "$?" 0 "kpa verifies after the second prune"

# --- two admins writing and signing the same entry at once ------------------
pb=$(sigcheck "$(PDN kpb)")
race() {
	local i
	for i in 1 2 3 4 5; do
		kbs attach kpb "$1$i@web-10" >/dev/null 2>>"$KB_T/race.err" ||
		    echo "attach $1$i failed" >>"$KB_T/race.err"
	done
}
: >"$KB_T/race.err"
race ra &
r1=$!
race rb &
r2=$!
wait "$r1" "$r2"
check_eq "$(cat "$KB_T/race.err")" "" "10 concurrent signed attaches: no failure"
check_eq "$(vals "$(PDN kpb)" keyboundAttachment | tr '|' '\n' | grep -c '@web-10')" 10 \
    "... every attachment written"
signed_after "after the race the entry verifies" "$(PDN kpb)" "$pb"
[ "$LAST" -ge $((pb + 10)) ] && ok "... serial grew by at least 10 ($pb -> $LAST)" ||
    not_ok "serial $pb -> $LAST after 10 writes"

# --- a signed write vouches only for what it verified ----------------------
# A change made without the signing key is not signed over by the next
# signed write: the write is refused, nothing written, until resign.
sig0=$(vals "$(PDN kpb)" keyboundSignature)
slapd_ldapmodify - <<EOF || fail "root DN adds an attachment"
dn: $(PDN kpb)
changetype: modify
add: keyboundAttachment
keyboundAttachment: mallory@web-01
EOF
kbs attach kpb zed@web-32 >/dev/null 2>"$KB_T/err"
check_eq "$?" 1 "a signed attach to a pair changed behind its back: exit 1"
grep -q "kpb: signature does not verify.*nothing was written.*keybound resign kpb" "$KB_T/err"
check_eq "$?" 0 "... saying it does not verify, nothing was written, and resign"
case $(vals "$(PDN kpb)" keyboundAttachment) in *zed@web-32*) not_ok "zed written anyway" ;;
*) ok "... and nothing was written" ;; esac
check_eq "$(vals "$(PDN kpb)" keyboundSignature)" "$sig0" \
    "... the old signature left as it was"
for w in "detach kpb ra1@web-10" "set kpb --options no-pty" "block kpb" \
    "rotate kpb kpa"; do
	# shellcheck disable=SC2086
	kbs $w >/dev/null 2>&1
	check_eq "$?" 1 "$w: refused too"
done
check_eq "$(vals "$(PDN kpb)" keyboundSignature)" "$sig0" \
    "no refused write signed the entry"
kbs verify kpb >/dev/null 2>&1
check_eq "$?" 1 "verify: the root DN's attachment is still not vouched for"
slapd_ldapmodify - <<EOF || fail "root DN takes it back"
dn: $(PDN kpb)
changetype: modify
delete: keyboundAttachment
keyboundAttachment: mallory@web-01
EOF
kbs attach kpb zed@web-32 >/dev/null
check_eq "$?" 0 "once the entry verifies again, the signed attach goes through"
signed_after "attach after the change was taken back" "$(PDN kpb)" "$pb"
pb=$LAST
# a group likewise
slapd_ldapmodify - <<EOF || fail "root DN adds a member"
dn: $(PDN web)
changetype: modify
add: keyboundMember
keyboundMember: evil-host
EOF
kbs group add web web-04 >/dev/null 2>"$KB_T/err"
check_eq "$?" 1 "a signed group add to a group changed behind its back: exit 1"
case $(vals "$(PDN web)" keyboundMember) in *web-04*) not_ok "web-04 written anyway" ;;
*) ok "... nothing written" ;; esac
# resign is how an administrator vouches for an entry as it stands
kbs resign web >/dev/null
check_eq "$?" 0 "resign signs the group as it stands"
kbs group add web web-04 >/dev/null
check_eq "$?" 0 "... and signed writes go through again"
case $(vals "$(PDN web)" keyboundMember) in *evil-host*web-04*|*web-04*evil-host*) ok "... over what resign vouched for" ;;
*) not_ok "members: $(vals "$(PDN web)" keyboundMember)" ;; esac
signed_after "group add after resign" "$(PDN web)" "$pg"
pg=$LAST

# an unsigned entry: a signed write refuses it until resign
ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/d"
kb import kpn "$K/d.pub" >/dev/null || fail "unsigned import"
kbs attach kpn nick@web-33 >/dev/null 2>"$KB_T/err"
check_eq "$?" 1 "a signed attach to an unsigned pair: exit 1"
grep -q "kpn: entry is not signed" "$KB_T/err"
check_eq "$?" 0 "... saying it is not signed"
kbs resign kpn >/dev/null && kbs attach kpn nick@web-33 >/dev/null
check_eq "$?" 0 "after resign kpn, the signed attach goes through"

# signed by another key: refused unless trusted_signers names that key
"$KB_BUILD/keybound" signer create -o "$S/other" >"$S/other.pub" ||
    fail "second signer"
kb -S "$S/other" import kpo "$K/d.pub" --allow-duplicate >/dev/null ||
    fail "import signed by the other key"
kbs attach kpo olga@web-34 >/dev/null 2>"$KB_T/err"
check_eq "$?" 1 "a signed attach to a pair another key signed: exit 1"
grep -q "kpo: signer is not trusted (neither this signing key nor one of trusted_signers)" "$KB_T/err"
check_eq "$?" 0 "... saying whose signature it is not"
{ cat "$S/trusted_signers"; echo "other $(cut -d' ' -f1,2 <"$S/other.pub")"; } \
    >"$S/trusted2"
kb_write_config "$KB_T/kbs2.conf" "signature_max_age 1h" \
    "signing_key $S/sign" "trusted_signers $S/trusted2"
"$KB_BUILD/keybound" -c "$KB_T/kbs2.conf" -H "$SLAPD_URI" \
    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" attach kpo olga@web-34 \
    >/dev/null 2>"$KB_T/err"
check_eq "$?" 0 "with trusted_signers naming that key, the attach goes through"
signed_after "attach over a trusted signer's entry" "$(PDN kpo)" 1

# a root DN write racing signed writes is never signed over: wherever it
# lands, the entry ends up not verifying
: >"$KB_T/race.rc"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$K/e"
kbs import kpr "$K/e.pub" >/dev/null || fail "import kpr"
( sleep 0.$((RANDOM % 9 + 1))
  slapd_ldapmodify - <<EOF
dn: $(PDN kpr)
changetype: modify
add: keyboundAttachment
keyboundAttachment: mallory@web-02
EOF
) >/dev/null 2>&1 &
rpid=$!
i=0
while [ $i -lt 300 ]; do	# until two attempts after it landed
	i=$((i + 1))
	kill -0 "$rpid" 2>/dev/null || n_after=$((${n_after:-0} + 1))
	[ "${n_after:-0}" -gt 2 ] && break
	kbs attach kpr "rc$i@web-11" >/dev/null 2>>"$KB_T/race.err"
	echo "$?" >>"$KB_T/race.rc"
done
wait "$rpid"
case $(vals "$(PDN kpr)" keyboundAttachment) in *mallory@web-02*) ok "the racing write landed" ;;
*) not_ok "the racing write did not land" ;; esac
kbs verify kpr >/dev/null 2>&1
check_eq "$?" 1 "verify: the racing write was not signed over"
check_eq "$(tail -n 1 "$KB_T/race.rc")" 1 \
    "signed attaches after it landed were refused"
slapd_ldapmodify - <<EOF || fail "take the racing write back"
dn: $(PDN kpr)
changetype: modify
delete: keyboundAttachment
keyboundAttachment: mallory@web-02
EOF

# --- an older signed version written back is not signed over --------------
# The CLI remembers the serials it saw (XDG_STATE_HOME/keybound/floors):
# a write to an entry whose valid signature is older is refused.
check_eq "$(stat -c %a "$XDG_STATE_HOME/keybound/floors")" 700 \
    "the CLI's floors: a directory of mode 0700 below XDG_STATE_HOME"
kbs attach kpb old1@web-12 >/dev/null || fail "attach old1"
LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_LDAPI_URI" \
    -b "$(PDN kpb)" -s base keyboundAttachment keyboundAttachmentEnd \
    keyboundSignature keyboundTombstone 2>/dev/null |
    grep -v '^dn:' | grep . >"$KB_T/kpb.old" || fail "save kpb"
oldser=$(sigcheck "$(PDN kpb)")
kbs detach kpb old1@web-12 >/dev/null || fail "detach old1"
newser=$(sigcheck "$(PDN kpb)")
{
	echo "dn: $(PDN kpb)"
	echo "changetype: modify"
	for at in keyboundAttachment keyboundAttachmentEnd keyboundSignature \
	    keyboundTombstone; do
		echo "replace: $at"
		grep "^$at: " "$KB_T/kpb.old"
		echo "-"
	done
} | sed '$d' | slapd_ldapmodify - || fail "write back kpb's older version"
check_eq "$(sigcheck "$(PDN kpb)")" "$oldser" \
    "the older version written back verifies (serial $oldser)"
kbs attach kpb old2@web-12 >/dev/null 2>"$KB_T/err"
check_eq "$?" 1 "a signed write over it: exit 1"
grep -q "kpb: its serial $oldser is older than one this CLI has seen" "$KB_T/err"
check_eq "$?" 0 "... saying its serial is older than one seen"
case $(vals "$(PDN kpb)" keyboundAttachment) in *old2@*) not_ok "old2 written anyway" ;;
*) ok "... and nothing was written" ;; esac
kbs resign kpb >/dev/null 2>"$KB_T/err"
check_eq "$?" 0 "resign signs it as it stands"
grep -q "warning: kpb: its serial $oldser is older" "$KB_T/err"
check_eq "$?" 0 "... with a warning"
s=$(sigcheck "$(PDN kpb)")
[ "$s" -gt "$newser" ] && ok "... at a serial above the newest seen ($s > $newser)" ||
    not_ok "resign serial $s not above $newser"
# a floors directory that cannot be used: a warning, the write goes on
: >"$KB_T/notadir"
XDG_STATE_HOME=$KB_T/notadir kbs attach kpb old3@web-12 >/dev/null \
    2>"$KB_T/err"
check_eq "$?" 0 "floors unusable: the signed write still goes through"
grep -q "warning: .*notadir/keybound/floors is not usable" "$KB_T/err"
check_eq "$?" 0 "... with a warning naming the directory"

# --- without a signing key ---------------------------------------------------
sig0=$(vals "$(PDN kpa)" keyboundSignature)
kb attach kpa judy@web-09 >/dev/null 2>"$KB_T/err"
check_eq "$?" 0 "attach without a signing key"
check_eq "$(vals "$(PDN kpa)" keyboundSignature)" "$sig0" "the signature is left as it was"
grep -q "warning: kpa carries a signature.*no longer verifies" "$KB_T/err"
check_eq "$?" 0 "one warning: the entry no longer verifies"
check_eq "$(wc -l <"$KB_T/err")" 1 "... on one line"
kb import kpu "$K/c.pub" >/dev/null 2>"$KB_T/err"
check_eq "$?" 0 "import without a signing key"
check_eq "$(vals "$(PDN kpu)" keyboundSignature)" "" "no signature written"
kb attach kpu kim@web-01 >/dev/null 2>"$KB_T/err"
check_eq "$(cat "$KB_T/err")" "" "no warning for an unsigned entry"
kb detach kpu kim@web-01 >/dev/null
check_eq "$(vals "$(PDN kpu)" keyboundAttachment)$(vals "$(PDN kpu)" keyboundTombstone)" "" \
    "unsigned detach removes the value, no tombstone"

kb_done
