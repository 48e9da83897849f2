#!/bin/bash
# admin_json: the scriptable contract of the keybound CLI.  Every
# command's --json key pair object has exactly the documented fields
# (one schema for create, import, show, list, set; check uses
# fingerprint_sha256); every failure class has its exit status and, with
# --json, an {"error":{"code","message"}} object on stdout besides the
# line on stderr; delete --if-exists; a past --expires and attaching an
# expired pair are refused unless --force.
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

# schema KIND: check the JSON document on stdin against the one key pair
# object.  KIND: pair, pair+file (create), list (an array of pairs),
# check.  Prints "ok" or what is wrong.
schema() {
	python3 -c '
import json, re, sys
kind = sys.argv[1]
PAIR = {"name": str, "type": (str, type(None)), "bits": (int, type(None)),
    "fingerprint_sha256": (str, type(None)),
    "fingerprint_md5": (str, type(None)), "attachments": list,
    "not_after": (str, type(None)), "options": (str, type(None)),
    "description": (str, type(None)), "created_at": (str, type(None)),
    "status": str, "public_key": (str, type(None)),
    "attachment_details": list, "detached": list, "blocked": bool}
STATUS = {"active", "expired", "expiring", "unattached", "blocked"}
def pair(o, extra=()):
    want = set(PAIR) | set(extra)
    if set(o) != want:
        return "fields %s, want %s" % (sorted(o), sorted(want))
    for k, t in PAIR.items():
        if not isinstance(o[k], t):
            return "%s has type %s" % (k, type(o[k]).__name__)
    if o["status"] not in STATUS:
        return "status %r" % o["status"]
    if o["fingerprint_sha256"] is not None and \
        not re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}", o["fingerprint_sha256"]):
        return "fingerprint_sha256 %r" % o["fingerprint_sha256"]
    for k in ("not_after", "created_at"):
        if o[k] is not None and not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", o[k]):
            return "%s %r" % (k, o[k])
    if not all(isinstance(a, str) for a in o["attachments"]):
        return "attachments"
    for a in o["attachment_details"]:
        if set(a) != {"target", "until", "expired"} or \
            a["target"] not in o["attachments"]:
            return "attachment_details %r" % a
    return None
d = json.load(sys.stdin)
if kind == "pair":
    e = pair(d)
elif kind == "pair+file":
    e = pair(d, ("private_key_file",))
    e = e or (None if isinstance(d["private_key_file"], str) else "file")
elif kind == "list":
    e = None if isinstance(d, list) and d else "not a non-empty array"
    for o in d if e is None else []:
        e = e or pair(o)
elif kind == "check":
    e = None if set(d) == {"user", "instance", "keys", "refused",
        "password_login_refused"} else "check fields %s" % sorted(d)
    for k in d.get("keys", []):
        if set(k) != {"name", "fingerprint_sha256", "line", "via", "until",
            "options"}:
            e = e or "check key fields %s" % sorted(k)
    for r in d.get("refused", []):
        if set(r) != {"name", "reason"}:
            e = e or "check refused fields %s" % sorted(r)
print(e or "ok")' "$1"
}

# fails WANT_RC WANT_CODE LABEL ARGS...: run the CLI with --json; the exit
# status, the error object on stdout and the stderr line must agree.
fails() {
	local rc=$1 code=$2 label=$3 out err got
	shift 3
	out=$("$@" --json 2>"$KB_T/err")
	got=$?
	err=$(head -n 1 "$KB_T/err")
	check_eq "$got" "$rc" "$label: exit $rc"
	check_eq "$(printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert list(d) == ["error"] and sorted(d["error"]) == ["code", "message"]
print(d["error"]["code"])')" "$code" "$label: --json error code $code"
	check_eq "keybound: $(printf '%s' "$out" | python3 -c '
import json, sys
print(json.load(sys.stdin)["error"]["message"])')" "$err" \
	    "$label: the JSON message is the stderr line"
}

# --- one key pair object everywhere ------------------------------------------
json=$(kb --json create kj1 -o "$K/kj1")
check_eq "$(echo "$json" | schema pair+file)" ok "create --json: key pair object"
check_eq "$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["private_key_file"], d["status"], d["created_at"] is not None)')" \
    "$K/kj1 unattached True" "create: file, status, created_at read back"
ssh-keygen -q -t ed25519 -N '' -f "$K/imp"
json=$(kb --json import kj2 "$K/imp.pub")
check_eq "$(echo "$json" | schema pair)" ok "import --json: key pair object"
json=$(kb --json attach kj1 alice@test-host)
check_eq "$?" 0 "attach"
json=$(kb --json show kj1)
check_eq "$(echo "$json" | schema pair)" ok "show --json: key pair object"
check_eq "$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" \
    active "show: attached without expiry is active"
json=$(kb --json list)
check_eq "$(echo "$json" | schema list)" ok "list --json: key pair objects"
json=$(kb --json set kj1 --description 'fleet' --expires "$(date -u -d '+10 days' +%Y%m%d%H%M%SZ)")
check_eq "$(echo "$json" | schema pair)" ok "set --json: key pair object"
check_eq "$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["description"], d["status"])')" \
    "fleet expiring" "set --json: the pair as it is now (expiring within 30 days)"
json=$(kb --json check alice@test-host)
check_eq "$(echo "$json" | schema check)" ok "check --json: fingerprint_sha256"
check_eq "$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["keys"][0]["fingerprint_sha256"])')" \
    "$(ssh-keygen -l -f "$K/kj1" | cut -d' ' -f2)" "check fingerprint_sha256 equals ssh-keygen"

# --- each failure class ------------------------------------------------------
fails 2 usage "usage error" kb list extra
fails 2 usage "invalid name" kb show 'bad name'
fails 2 usage "bad --expires" kb set kj1 --expires tomorrow
fails 2 usage "bad key file" kb import kj3 "$KB_T/no-such-file"
fails 3 not_found "show of a missing pair" kb show nosuch
fails 3 not_found "attach of a missing pair" kb attach nosuch bob@test-host
fails 3 not_found "delete of a missing pair" kb delete nosuch
fails 4 exists "create of a taken name" kb create kj1 -o "$K/other"
fails 4 exists "create over an existing file" kb create kj9 -o "$K/kj1"
fails 4 conflict "delete while attached" kb delete kj1
echo wrong >"$KB_T/wrongpw"
chmod 0600 "$KB_T/wrongpw"
fails 5 bind_refused "wrong bind password" "$KB_BUILD/keybound" -c "$conf" \
    -D "$SLAPD_ROOTDN" -y "$KB_T/wrongpw" list
port=$(kb_free_port) || fail "no free port"
fails 6 unreachable "no directory server" "$KB_BUILD/keybound" -c "$conf" \
    -H "ldap://127.0.0.1:$port" list
fails 1 failure "anonymous write" "$KB_BUILD/keybound" -c "$conf" \
    import kj4 "$K/imp.pub" --allow-duplicate
out=$(kb show nosuch 2>/dev/null)
check_eq "$?:$out" "3:" "without --json nothing on stdout"

# --- delete --if-exists, several names ----------------------------------------
json=$(kb --json delete --if-exists nosuch kj2)
check_eq "$?:$json" '0:{"deleted":["kj2"],"not_found":["nosuch"],"dry_run":false}' \
    "delete --if-exists: missing names are fine"
kb delete kj2 >/dev/null 2>&1
check_eq "$?" 3 "delete without --if-exists: exit 3"

# --- expiry: past times and expired pairs --------------------------------------
past=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
fails 2 usage "set --expires in the past" kb set kj1 --expires "$past"
grep -q 'in the past' "$KB_T/err"
check_eq "$?" 0 "past --expires: says why"
kb set kj1 --expires "$past" --force >/dev/null
check_eq "$?" 0 "past --expires with --force"
json=$(kb --json show kj1)
check_eq "$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" \
    expired "expired pair: status expired"
fails 4 conflict "attach of an expired pair" kb attach kj1 bob@test-host
grep -q 'has expired' "$KB_T/err"
check_eq "$?" 0 "expired attach: says why"
kb attach kj1 bob@test-host --force >/dev/null
check_eq "$?" 0 "attach of an expired pair with --force"

# --- STATUS in the table -------------------------------------------------------
kb create kj5 -o "$K/kj5" >/dev/null
kb set kj5 --expires "$(date -u -d '+40 days' +%Y%m%d%H%M%SZ)" >/dev/null
kb attach kj5 carol@test-host dave@test-host >/dev/null
out=$(kb list)
for want in "kj1 expired 2" "kj5 active 2"; do
	set -- $want
	echo "$out" | grep -Eq "^$1 .* $2 +$3\$"
	check_eq "$?" 0 "list: $1 is $2 with $3 attachments"
done
kb set kj5 --expires "$(date -u -d '+29 days' +%Y%m%d%H%M%SZ)" >/dev/null
kb list | grep -Eq '^kj5 .* expiring +2$'
check_eq "$?" 0 "list: expiring within 30 days"
kb detach kj5 --all >/dev/null
kb list | grep -Eq '^kj5 .* unattached +0$'
check_eq "$?" 0 "list: unattached"
kb show kj5 | grep -q '^status: *unattached$'
check_eq "$?" 0 "show: status line"

kb_done
