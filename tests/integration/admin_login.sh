#!/bin/bash
# admin_login: keys made by `keybound create` log in through a real sshd
# (keybound-keys as its AuthorizedKeysCommand) once attached: Ed25519,
# RSA, ECDSA 256/384/521.  `attach --replace` hands the login over to the
# new key pair, `detach` takes it away at the next login, `check` agrees
# with what sshd accepts.  Nothing is restarted.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"

[ "$(id -u)" = 0 ] || skip "needs root (test users, sshd)"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
[ -x "$KB_BUILD/keybound-keys" ] || fail "keybound-keys not built"
command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
kb_tmpdir
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0"
K=$KB_T/keys
mkdir -m 0700 "$K"
user=kbl$$
kb_make_user "$user" || fail "useradd"
sshd_start "$conf" || fail "sshd did not start"

kb() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" "$@"
}

# Each type: create, not yet attached -> refused; attach -> logs in.
for spec in "led25519" "lrsa -t rsa -b 2048" "lec256 -t ecdsa -b 256" \
    "lec384 -t ecdsa -b 384" "lec521 -t ecdsa -b 521"; do
	set -- $spec
	name=$1
	shift
	kb create "$name" "$@" -o "$K/$name" >/dev/null || fail "create $name"
	kb_ssh_key_login "$user" "$K/$name" 2>/dev/null
	check_eq "$?" 255 "$name: refused before attach"
	kb attach "$name" "$user@test-host" >/dev/null || fail "attach $name"
	out=$(kb_ssh_key_login "$user" "$K/$name" id -un)
	check_eq "$?:$out" "0:$user" "$name: ssh -i logs in after attach"
done

json=$(kb --json check "$user@test-host")
check_eq "$(echo "$json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))')" \
    5 "check lists the five attached keys"

# --replace: a new key pair takes the login over from all the others
kb create lnew -o "$K/lnew" >/dev/null || fail "create lnew"
json=$(kb --json attach lnew "$user@test-host" --replace)
check_eq "$?" 0 "attach --replace"
check_eq "$(echo "$json" | python3 -c 'import json,sys; print(" ".join(sorted(r["name"] for r in json.load(sys.stdin)["replaced"])))')" \
    "lec256 lec384 lec521 led25519 lrsa" "--replace reports the detached key pairs"
out=$(kb_ssh_key_login "$user" "$K/lnew" id -un)
check_eq "$?:$out" "0:$user" "replacing key logs in"
kb_ssh_key_login "$user" "$K/led25519" 2>/dev/null
check_eq "$?" 255 "replaced key refused at the next login"
kb_ssh_key_login "$user" "$K/lrsa" 2>/dev/null
check_eq "$?" 255 "replaced RSA key refused at the next login"

# detach: refused at the next login, nothing restarted
kb detach lnew "$user@test-host" >/dev/null || fail "detach"
kb_ssh_key_login "$user" "$K/lnew" 2>/dev/null
check_eq "$?" 255 "detached key refused at the next login"
json=$(kb --json check "$user@test-host")
check_eq "$(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["keys"]), d["password_login_refused"])')" \
    "0 False" "check: nothing attached, password not refused"
kill -0 "$SSHD_PID" && kill -0 "$SLAPD_PID"
check_eq "$?" 0 "sshd and slapd never restarted"

kb_done
