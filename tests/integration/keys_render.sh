#!/bin/bash
# keys_render.sh - rendering oracle.
#
# Input key lines carry hostile comments, options prefixes and glued-on
# text; each is rendered with a variety of structured options.  Every
# rendered line must be read by `ssh-keygen -l -f -` (one fingerprint per
# line), keep the input key's fingerprint, and consist only of bytes the
# renderer chose: the canonical options, "TYPE BASE64" as ssh-keygen writes
# it, and "keybound:NAME" - nothing from the input's options or comment.
. "$(dirname "$0")/../lib/common.sh"

KEYINFO=$KB_BUILD/tests/tools/kb-keyinfo
[ -x "$KEYINFO" ] || fail "missing $KEYINFO (run make)"
command -v ssh-keygen >/dev/null || skip "ssh-keygen not installed"
kb_tmpdir

# a few keys of every type, plus the sk fixtures
i=0
for spec in ed25519:256 ed25519:256 ed25519:256 ecdsa:256 ecdsa:384 \
    ecdsa:521 rsa:2048 rsa:2048 rsa:3072; do
	i=$((i + 1))
	ssh-keygen -q -t "${spec%%:*}" -b "${spec##*:}" -N '' -C "k$i" \
	    -f "$KB_T/k$i" </dev/null || fail "ssh-keygen"
done
cat "$KB_T"/k*.pub "$KB_SRC/tests/fixtures/keys/sk.pub" >"$KB_T/keys"
nkeys=$(wc -l <"$KB_T/keys")

# Dress each key up as hostile input; the marker MARK must never survive.
while read -r type b64 comment; do
	printf '%s %s %s\n' "$type" "$b64" "$comment"
	printf '%s %s\n' "$type" "$b64"
	printf '%s %s MARK command="/bin/sh",no-pty\n' "$type" "$b64"
	printf '%s %s  MARK  %s\n' "$type" "$b64" "$type"
	printf 'command="/bin/MARK" %s %s MARK\n' "$type" "$b64"
	printf 'environment="MARK=1",permitopen="h:1",no-pty %s %s x\n' \
	    "$type" "$b64"
	printf 'from="MARK a b" %s %s\n' "$type" "$b64"
done <"$KB_T/keys" >"$KB_T/inputs"
ninputs=$(wc -l <"$KB_T/inputs")
grep -q MARK "$KB_T/inputs" || fail "inputs lack the marker"

# The fingerprint each input line must keep, in input order.
"$KEYINFO" -o "$KB_T/inputs" | cut -d ' ' -f 3 >"$KB_T/fp.in"
[ "$(grep -c '^SHA256:' "$KB_T/fp.in")" -eq "$ninputs" ] ||
    fail "some inputs did not parse"

# name | options given | expiry | options expected on the rendered line
cat >"$KB_T/variants" <<'V'
web-01|||
a1|restrict||restrict
ops:key_2|no-pty,no-agent-forwarding||no-agent-forwarding,no-pty
Zz|NO-X11-FORWARDING,no-user-rc,no-port-forwarding,verify-required||no-port-forwarding,no-user-rc,no-X11-forwarding,verify-required
backup|restrict,command="rsync --server -logDtpre.iLsfxC . /srv/b/"|1893456000|restrict,command="rsync --server -logDtpre.iLsfxC . /srv/b/",expiry-time="20300101000000Z"
db_admin|from="10.0.0.0/8,!10.1.2.3,*.example.com,2001:db8::/32"||from="10.0.0.0/8,!10.1.2.3,*.example.com,2001:db8::/32"
q-1|command="echo \"quoted\" and \\backslash",from="192.0.2.0/24"|0|from="192.0.2.0/24",command="echo \"quoted\" and \\backslash",expiry-time="19700101000000Z"
x9|restrict,no-pty,from="::1",command="/usr/bin/printf '%s' $HOME"|4102444799|restrict,no-pty,from="::1",command="/usr/bin/printf '%s' $HOME",expiry-time="20991231235959Z"
V

total=0 bad=0
while IFS='|' read -r name opts expiry want_opts; do
	args=(--render "$name")
	[ -n "$opts" ] && args+=(--options "$opts")
	[ -n "$expiry" ] && args+=(--expiry "$expiry")
	out=$KB_T/out.$name
	"$KEYINFO" -o "${args[@]}" "$KB_T/inputs" >"$out" ||
	    fail "kb-keyinfo ${args[*]}"
	n=$(wc -l <"$out")
	total=$((total + n))
	check_eq "$n" "$ninputs" "$name: one rendered line per input"

	# ssh-keygen reads every line: as many fingerprints as lines
	nfp=$(ssh-keygen -l -f - <"$out" 2>/dev/null | grep -c 'SHA256:')
	check_eq "$nfp" "$n" "$name: ssh-keygen -l accepts every line"
	# ... and they are the input keys' fingerprints, in order
	ssh-keygen -l -f - <"$out" | awk '{ print $2 }' >"$KB_T/fp.out"
	if cmp -s "$KB_T/fp.in" "$KB_T/fp.out"; then
		ok "$name: fingerprints kept"
	else
		not_ok "$name: fingerprints changed"
	fi

	# nothing of the input's options or comments survives
	if grep -q MARK "$out"; then
		not_ok "$name: input bytes leaked: $(grep -m1 MARK "$out")"
	else
		ok "$name: no input comment or option in the output"
	fi
	# every line is exactly: the options we chose, TYPE BASE64, our name
	strays=0
	while IFS= read -r line <&3 && IFS= read -r key <&4; do
		exp="${key%% keybound:*}"
		if [ -n "$want_opts" ]; then
			exp="$want_opts $exp"
		fi
		[ "$line" = "$exp keybound:$name" ] || strays=$((strays + 1))
	done 3<"$out" 4< <(while read -r t b _; do
		for _k in 1 2 3 4 5 6 7; do printf '%s %s\n' "$t" "$b"; done
	done <"$KB_T/keys")
	check_eq "$strays" 0 "$name: every line is exactly options, key, name"
	if LC_ALL=C grep -q '[^ -~]' "$out"; then
		not_ok "$name: non-printable byte in output"
	else
		ok "$name: printable ASCII only"
	fi
done <"$KB_T/variants"

# refused inputs render nothing
printf '%s\n' "restrict,command=\"x\\\\\"" >"$KB_T/badopts"
r=$("$KEYINFO" --render ab --options "$(cat "$KB_T/badopts")" \
    <"$KB_T/keys" | head -n 1)
check_eq "$r" KB_ERR_OPT_SYNTAX "options a renderer cannot quote are refused"
r=$("$KEYINFO" --render ab --options 'environment="A=B"' <"$KB_T/keys")
check_eq "$r" KB_ERR_OPT_UNKNOWN "strict options refuse environment="
r=$("$KEYINFO" --render 'bad name' <"$KB_T/keys" | sort -u)
check_eq "$r" KB_ERR_KEYPAIR_NAME "invalid key pair name refused"
r=$("$KEYINFO" --render ab --drop-unknown \
    --options 'environment="A=B",no-pty,pty' \
    <<<"$(head -n 1 "$KB_T/keys")" 2>"$KB_T/dropped" | cut -d ' ' -f 1)
check_eq "$r" no-pty "unknown grant-only options dropped from the rendered line"
check_eq "$(cat "$KB_T/dropped")" "dropped: environment,pty" \
    "dropped keywords reported"
r=$("$KEYINFO" --render ab --drop-unknown \
    --options 'environment="A=B",no-pty,tunnel="1"' \
    <<<"$(head -n 1 "$KB_T/keys")" 2>/dev/null)
check_eq "$r" KB_ERR_OPT_UNKNOWN \
    "an unknown restricting option refuses the key instead of being dropped"

echo "rendered $total lines from $nkeys keys"
[ "$total" -ge 500 ] || not_ok "too few rendered lines ($total)"
kb_done
