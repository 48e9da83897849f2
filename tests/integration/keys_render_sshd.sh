#!/bin/bash
# keys_render_sshd.sh - rendered options as a real sshd reads them.
#
# ssh-keygen -l only proves a rendered line is well formed; this test puts
# rendered lines in an authorized_keys file of a real sshd on loopback and
# checks that each option means what we meant: the forced command runs
# byte for byte as given (sshd's quoting round trip), expiry-time in UTC
# is honoured on both sides of now, and from= admits and refuses as
# written.
. "$(dirname "$0")/../lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"

[ "$(id -u)" = 0 ] || skip "needs root (sshd, useradd)"
[ -x /usr/sbin/sshd ] || skip "sshd not installed"
KEYINFO=$KB_BUILD/tests/tools/kb-keyinfo
[ -x "$KEYINFO" ] || fail "missing $KEYINFO (run make)"
[ -x "$KB_BUILD/keybound-keys" ] || fail "missing keybound-keys (run make)"
kb_tmpdir

# sshd's StrictModes wants a root-owned path with no world-writable parent
akdir=$(mktemp -d /run/kbak.XXXXXX) || fail "mktemp"
kb_on_exit "rm -rf '$akdir'"
chmod 0755 "$akdir"
user=kbrnd$$
kb_make_user "$user" || fail "cannot create $user"
ssh-keygen -q -t ed25519 -N '' -C 'input comment' -f "$KB_T/id" ||
    fail "ssh-keygen"

# The keybound-keys command in the example drop-in gets a config that does
# not exist, so only the file below can authorise a key.
sshd_start "$KB_T/no-such.conf" "AuthorizedKeysFile $akdir/%u" ||
    fail "sshd did not start"

# install_line [kb-keyinfo render args...]: render our key into the file
install_line() {
	"$KEYINFO" -o --render sshd-test "$@" <"$KB_T/id.pub" \
	    >"$akdir/$user.new" || return 1
	grep -q '^KB_ERR' "$akdir/$user.new" && {
		cat "$akdir/$user.new" >&2
		return 1
	}
	mv "$akdir/$user.new" "$akdir/$user"
}

login() { kb_ssh_key_login "$user" "$KB_T/id" "$@" 2>>"$KB_T/ssh.err"; }

install_line || fail "render"
check_eq "$(login echo plain)" plain "plain rendered line logs in"

# forced commands: sshd must run exactly the string we stored
i=0
while IFS= read -r cmd; do
	i=$((i + 1))
	want=$(sh -c "$cmd")
	install_line --options "command=\"${cmd//\"/\\\"}\"" ||
	    { not_ok "command $i: render refused [$cmd]"; continue; }
	got=$(login ignored)
	check_eq "$got" "$want" "command $i runs verbatim"
done <<'CMDS'
echo simple
printf '<%s>' "a b" 'c\d' "e\"f"
printf '%s|' \\ "\\" '\"' "x\\\"y"
echo "$((6 * 7))" ; echo 'two;' "lines, commas"
printf '[%s]' "" ' ' "a\"" '"'"'"'"'
CMDS

# expiry-time, rendered in UTC from a time_t
now=$(date +%s)
install_line --options restrict --expiry $((now + 3600)) || fail "render"
check_eq "$(login echo x)" x "expiry one hour ahead: login works"
install_line --options restrict --expiry $((now - 120)) || fail "render"
if out=$(login echo x) && [ "$out" = x ]; then
	not_ok "expired key still logs in"
else
	ok "expiry two minutes ago: login refused"
fi

# from= patterns: the client is 127.0.0.1
for spec in 'y|127.0.0.1' 'y|127.0.0.0/8' 'y|10.0.0.0/8,127.0.0.*' \
    'y|::1,127.0.0.1' 'n|10.0.0.0/8' 'n|!127.0.0.1,*' 'n|192.0.2.1' \
    'y|localhost,127.0.0.1' 'n|127.0.0.2/32'; do
	expect=${spec%%|*} pat=${spec#*|}
	install_line --options "no-pty,from=\"$pat\"" || {
		not_ok "from=$pat: render refused"
		continue
	}
	got=n
	[ "$(login echo in)" = in ] && got=y
	check_eq "$got" "$expect" "from=\"$pat\" login allowed=$expect"
done

# the flags sshd knows, all at once, still let a command run
install_line --options 'restrict,no-agent-forwarding,no-port-forwarding,no-pty,no-user-rc,no-X11-forwarding' ||
    fail "render"
check_eq "$(login echo flags)" flags "all no-* flags with restrict: login works"

sshd_stop
kb_done
