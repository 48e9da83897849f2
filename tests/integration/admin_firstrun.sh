#!/bin/bash
# admin_firstrun: where the keybound CLI finds its configuration (-c, then
# $KEYBOUND_CONF, then ~/.config/keybound/keybound.conf, then
# /etc/keybound/keybound.conf), -H URI -b BASE with no file at all, the
# missing-config message, a config others can write refused,
# `create -o -` (the private key and nothing else on stdout), and
# `keybound CMD --help` = `keybound help CMD` describing every option.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
kb_tmpdir
slapd_start || fail "slapd did not start"
conf=$KB_T/kb.conf
kb_write_config "$conf"
chmod 0600 "$conf"
H=$KB_T/home
mkdir -p "$H"
K=$KB_T/keys
mkdir -m 0700 "$K"
auth=(-D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE")
etc_conf=/etc/keybound/keybound.conf

# kbenv ARGS...: the CLI with an empty HOME and $KEYBOUND_CONF only as
# $KBC says.
kbenv() {
	if [ -n "${KBC:-}" ]; then
		env HOME="$H" KEYBOUND_CONF="$KBC" "$KB_BUILD/keybound" "$@"
	else
		env -u KEYBOUND_CONF HOME="$H" "$KB_BUILD/keybound" "$@"
	fi
}

ssh-keygen -q -t ed25519 -N '' -f "$K/first" || fail "ssh-keygen"
"$KB_BUILD/keybound" -c "$conf" "${auth[@]}" import kfirst "$K/first.pub" \
    >/dev/null || fail "import kfirst"

# --- the lookup order ----------------------------------------------------------
out=$(KBC=$conf kbenv list)
check_eq "$?" 0 "\$KEYBOUND_CONF is read"
case $out in *kfirst*) ok "\$KEYBOUND_CONF: lists" ;; *) not_ok "list: $out" ;; esac
out=$(KBC=$KB_T/missing.conf kbenv -c "$conf" list)
check_eq "$?" 0 "-c wins over \$KEYBOUND_CONF"
KBC=$KB_T/missing.conf kbenv list >/dev/null 2>&1
check_eq "$?" 2 "a missing \$KEYBOUND_CONF is an error, not skipped"
mkdir -p "$H/.config/keybound"
cp -p "$conf" "$H/.config/keybound/keybound.conf"
out=$(kbenv list)
check_eq "$?" 0 "~/.config/keybound/keybound.conf is read"
case $out in *kfirst*) ok "user config: lists" ;; *) not_ok "list: $out" ;; esac
chmod 0666 "$H/.config/keybound/keybound.conf"
err=$(kbenv list 2>&1 >/dev/null)
check_eq "$?" 2 "a user config others can write is refused"
case $err in *"keybound.conf"*) ok "refusal names the file" ;;
*) not_ok "refusal: $err" ;; esac
rm -rf "$H/.config"

# --- no file: -H and -b are enough ----------------------------------------------
if [ -e "$etc_conf" ]; then
	ok "skipped: $etc_conf exists on this machine"
else
	err=$(kbenv list 2>&1)
	check_eq "$?" 2 "no config anywhere: exit 2"
	for want in '-c FILE' '$KEYBOUND_CONF' '~/.config/keybound/keybound.conf' \
	    "$etc_conf" 'keybound.conf(5)' '-H URI -b BASE'; do
		case $err in *"$want"*) ok "missing config names $want" ;;
		*) not_ok "missing config message lacks $want: $err" ;; esac
	done
	kbenv -H "$SLAPD_URI" list >/dev/null 2>&1
	check_eq "$?" 2 "-H alone is not a configuration"
fi
out=$(kbenv -H "$SLAPD_LDAPI_URI" -b "$SLAPD_BASE" "${auth[@]}" list)
check_eq "$?" 0 "-H URI -b BASE without a file"
case $out in *kfirst*) ok "-H/-b: lists" ;; *) not_ok "-H/-b list: $out" ;; esac
kbenv -c "$conf" -b "ou=nowhere,$SLAPD_SUFFIX" "${auth[@]}" list >/dev/null 2>&1
check_eq "$?" 3 "-b replaces the config's base (a missing base: exit 3)"
kbenv -c "$conf" -b 'not a dn((' list >/dev/null 2>&1
check_eq "$?" 2 "-b with an invalid DN: exit 2"

# --- create -o - ------------------------------------------------------------------
kbc() { "$KB_BUILD/keybound" -c "$conf" "${auth[@]}" "$@"; }
kbc create kstdout -o - >"$K/stdout.key" 2>"$KB_T/err"
check_eq "$?" 0 "create -o -"
check_eq "$(head -n 1 "$K/stdout.key")" "-----BEGIN OPENSSH PRIVATE KEY-----" \
    "stdout starts with the private key"
check_eq "$(tail -n 1 "$K/stdout.key")" "-----END OPENSSH PRIVATE KEY-----" \
    "stdout holds nothing after the private key"
chmod 0600 "$K/stdout.key"
check_eq "$(ssh-keygen -y -f "$K/stdout.key" | cut -d' ' -f1,2)" \
    "$("$KB_BUILD/keybound" -c "$conf" --json show kstdout | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')" \
    "the key on stdout is the stored key pair's"
grep -q "created key pair kstdout" "$KB_T/err"
check_eq "$?" 0 "the report goes to stderr"
[ ! -e ./- ]
check_eq "$?" 0 "no file named -"
kbc create kstdout2 -o - --json >/dev/null 2>&1
check_eq "$?" 2 "create -o - --json: exit 2"

# --- CMD --help = help CMD, every option described ---------------------------------
for c in create import set list show attach detach delete check; do
	a=$("$KB_BUILD/keybound" help "$c")
	b=$("$KB_BUILD/keybound" "$c" --help)
	check_eq "$?:$b" "0:$a" "$c --help = help $c"
	syn=$(echo "$a" | head -n 1)
	body=$(echo "$a" | tail -n +2)
	for o in $(echo "$syn" | grep -oE '(\[| )--?[a-zA-Z][a-zA-Z-]*' | tr -d '[ '); do
		echo "$body" | grep -qE "^  $o( |\$)" ||
		    not_ok "help $c does not describe $o"
	done
	ok "help $c describes every option of its synopsis"
done
"$KB_BUILD/keybound" attach --bogus >/dev/null 2>&1
check_eq "$?" 2 "an unknown option is still a usage error"

kb_done
