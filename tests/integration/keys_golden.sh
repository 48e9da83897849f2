#!/bin/bash
# keys_golden.sh - the key model against ssh-keygen, byte for byte.
#
# Generates 200+ keys with ssh-keygen across every supported type and size,
# adds the committed sk-*@openssh.com fixtures, and checks for each key that
# kb-keyinfo's type label, bit count, SHA256 and MD5 fingerprints equal what
# `ssh-keygen -l` and `ssh-keygen -E md5 -l` print, and that the re-encoded
# "TYPE BASE64" equals ssh-keygen's own public key text.
. "$(dirname "$0")/../lib/common.sh"

KEYINFO=$KB_BUILD/tests/tools/kb-keyinfo
[ -x "$KEYINFO" ] || fail "missing $KEYINFO (run make)"
command -v ssh-keygen >/dev/null || skip "ssh-keygen not installed"
kb_tmpdir

# type:bits:count - RSA 4096 is slow to generate, so it gets few keys.
mix="ed25519:256:80 ecdsa:256:30 ecdsa:384:25 ecdsa:521:25 rsa:2048:34
rsa:3072:12 rsa:4096:6"

mkdir "$KB_T/gen"
jobs=()
for spec in $mix; do
	IFS=: read -r type bits count <<<"$spec"
	for i in $(seq 1 "$count"); do
		jobs+=("$type $bits $KB_T/gen/$type-$bits-$i")
	done
done
# ssh-keygen in parallel, one per CPU
printf '%s\n' "${jobs[@]}" | xargs -P "$(nproc)" -L 1 sh -c \
    'ssh-keygen -q -t "$0" -b "$1" -N "" -C "$(basename "$2")" -f "$2" </dev/null' \
    || fail "ssh-keygen failed"
ngen=$(ls "$KB_T"/gen/*.pub | wc -l)
[ "$ngen" -ge 200 ] || fail "only $ngen keys generated"
ok "generated $ngen keys with ssh-keygen"

cat "$KB_T"/gen/*.pub "$KB_SRC/tests/fixtures/keys/sk.pub" >"$KB_T/all.pub"
total=$(wc -l <"$KB_T/all.pub")
nsk=$(grep -c '^sk-' "$KB_T/all.pub")
[ "$nsk" -ge 8 ] || fail "sk fixtures missing ($nsk)"

# ssh-keygen's view: "BITS FP COMMENT (LABEL)" -> "LABEL BITS SHA256 MD5"
ssh-keygen -l -f "$KB_T/all.pub" >"$KB_T/sha" || fail "ssh-keygen -l failed"
ssh-keygen -E md5 -l -f "$KB_T/all.pub" >"$KB_T/md5" ||
    fail "ssh-keygen -E md5 -l failed"
check_eq "$(wc -l <"$KB_T/sha")" "$total" "ssh-keygen fingerprinted every key"
paste -d ' ' "$KB_T/sha" "$KB_T/md5" |
    awk '{ l = $4; gsub(/[()]/, "", l); print l, $1, $2, $6 }' >"$KB_T/want"

"$KEYINFO" "$KB_T/all.pub" >"$KB_T/got" || fail "kb-keyinfo failed"
check_eq "$(wc -l <"$KB_T/got")" "$total" "kb-keyinfo answered every key"
if cmp -s "$KB_T/want" "$KB_T/got"; then
	ok "type, bits, SHA256 and MD5 identical for all $total keys"
else
	not_ok "fingerprints differ from ssh-keygen:"
	diff "$KB_T/want" "$KB_T/got" | head -20 >&2
fi

# every type and size is really in the mix
for want in "ED25519 256" "ECDSA 256" "ECDSA 384" "ECDSA 521" "RSA 2048" \
    "RSA 3072" "RSA 4096" "ED25519-SK 256" "ECDSA-SK 256"; do
	n=$(grep -c "^$want " "$KB_T/got")
	if [ "$n" -gt 0 ]; then ok "$want: $n keys"; else not_ok "$want: none"; fi
done

# re-encoding from the blob gives back ssh-keygen's exact text
cut -d ' ' -f 1,2 "$KB_T/all.pub" >"$KB_T/pub.want"
"$KEYINFO" --public "$KB_T/all.pub" >"$KB_T/pub.got"
if cmp -s "$KB_T/pub.want" "$KB_T/pub.got"; then
	ok "TYPE BASE64 re-encoded identically for all $total keys"
else
	not_ok "re-encoded public keys differ"
fi

# the sk fixtures are read by ssh-keygen itself, not only by us
n=$(ssh-keygen -l -f "$KB_SRC/tests/fixtures/keys/sk.pub" | grep -c -- '-SK)$')
check_eq "$n" "$nsk" "ssh-keygen reads every sk fixture"

kb_done
