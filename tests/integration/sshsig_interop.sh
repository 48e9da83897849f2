#!/bin/bash
# sshsig_interop.sh - signed records and OpenSSH agree on SSHSIG.
#
# For Ed25519, ECDSA (P-256, P-384, P-521) and RSA signers:
# `ssh-keygen -Y verify -n keybound` accepts every signature lib/sshsig.c
# makes over a canonical record, and lib/sshsig.c accepts what
# `ssh-keygen -Y sign -n keybound` makes over the same bytes (Ed25519 is
# deterministic: both must be byte-identical).  An ssh-agent started here
# signs through lib/agent.c.  Every refused case is checked by its reason:
# wrong namespace, wrong hash, tampered record, wrong key, truncated or
# trailing bytes, encrypted or unprotected private key files, an agent
# without the key, no agent.
. "$(dirname "$0")/../lib/common.sh"

KS=$KB_BUILD/tests/tools/kb-sign
[ -x "$KS" ] || fail "missing $KS (run make)"
command -v ssh-keygen >/dev/null || skip "ssh-keygen not installed"
command -v ssh-agent >/dev/null || skip "ssh-agent not installed"
# the design rule: records and the agent client never touch libcrypto
grep -l '#[[:space:]]*include[[:space:]]*<openssl/' "$KB_SRC"/lib/record.[ch] \
    "$KB_SRC"/lib/agent.[ch] "$KB_SRC"/lib/blob.[ch] &&
	fail "libcrypto outside lib/sshkey.c and lib/sshsig.c"
ok "record.c, agent.c and blob.c use no libcrypto"
kb_tmpdir
cd "$KB_T" || fail "cd"

# expect_refused REASON CMD...: CMD fails and names REASON on stderr
expect_refused() {
	local reason=$1
	shift
	if "$@" >out 2>err; then
		fail "accepted, expected $reason: $*"
	fi
	grep -q "$reason" err || fail "expected $reason, got: $(cat err)"
	ok "refused ($reason): $(basename "$1") ${*:2:2}"
}

# ssh-keygen's verdict on SIG over RECORD by the signer in KEY.pub
sshkeygen_verify() {
	echo "admin $(cat "$1.pub")" >allowed
	ssh-keygen -Y verify -n keybound -f allowed -I admin -s "$2" <"$3" \
	    >/dev/null 2>&1
}

for spec in ed25519:256 ecdsa:256 ecdsa:384 ecdsa:521 rsa:3072; do
	name=${spec%%:*}${spec##*:}
	ssh-keygen -q -t "${spec%%:*}" -b "${spec##*:}" -N '' -C "$name" \
	    -f "$name" </dev/null || fail "ssh-keygen $spec"
done
ssh-keygen -q -t ed25519 -N '' -C other -f other </dev/null || fail "keygen"

# the records: a pair with everything set, a bare pair, a group
"$KS" pair web-deploy "$(cat ecdsa256.pub)" -a alice@web-01=1893456000 \
    -a bob@+prod -a alice@db-01 -n 1900000000 -o 'restrict,pty' -b \
    -s 42 -t 1764000000 >rec.pair || fail "encode pair"
"$KS" pair bare "$(cat rsa3072.pub)" -s 1 -t 1 >rec.bare || fail "encode bare"
"$KS" group prod -m web-02 -m web-01 -m db-01 -s 3 -t 1764000000 \
    >rec.group || fail "encode group"
"$KS" decode <rec.pair >decoded || fail "decode pair"
grep -qx 'attachment alice@db-01 0' decoded && \
    grep -qx 'attachment alice@web-01 1893456000' decoded && \
    grep -qx 'blocked 1' decoded && grep -qx 'serial 42' decoded ||
	fail "decoded pair: $(cat decoded)"
[ "$(grep -n attachment decoded | cut -d' ' -f2 | tr '\n' ' ')" = \
    "alice@db-01 alice@web-01 bob@+prod " ] || fail "attachments not sorted"
ok "records encode and decode; attachments sorted"

for key in ed25519256 ecdsa256 ecdsa384 ecdsa521 rsa3072; do
	for rec in rec.pair rec.bare rec.group; do
		"$KS" sign "$key" <"$rec" >"$key.$rec.sig" || fail "sign $key"
		sshkeygen_verify "$key" "$key.$rec.sig" "$rec" ||
			fail "ssh-keygen refuses $key over $rec"
		ssh-keygen -Y sign -n keybound -f "$key" - <"$rec" \
		    >"$key.$rec.ssig" 2>/dev/null || fail "ssh-keygen sign $key"
		"$KS" verify "$key.pub" "$key.$rec.ssig" <"$rec" >/dev/null ||
			fail "kb-sign refuses ssh-keygen's $key over $rec"
		# the stored form: one line of base64
		"$KS" sign -r "$key" <"$rec" >"$key.$rec.b64" || fail "sign -r"
		[ "$(wc -l <"$key.$rec.b64")" = 1 ] || fail "stored form lines"
		"$KS" verify "$key.pub" "$key.$rec.b64" <"$rec" >/dev/null ||
			fail "stored form refused"
	done
	ok "$key: ssh-keygen accepts ours, we accept ssh-keygen's"
done
# keybound(1)'s recipe: the stored one-line form, re-armored by hand
( echo '-----BEGIN SSH SIGNATURE-----'
  fold -w 70 rsa3072.rec.pair.b64
  echo '-----END SSH SIGNATURE-----' ) >byhand.sig
sshkeygen_verify rsa3072 byhand.sig rec.pair ||
	fail "the stored form re-armored as keybound(1) says is refused"
cmp -s byhand.sig rsa3072.rec.pair.sig || fail "re-armored form differs"
ok "keybound(1)'s by-hand check of the stored form works"
cmp -s ed25519256.rec.pair.sig ed25519256.rec.pair.ssig ||
	fail "Ed25519 signature differs from ssh-keygen's"
ok "Ed25519 signature byte-identical to ssh-keygen -Y sign"
[ "$("$KS" signer ecdsa256.rec.pair.sig)" = \
    "$(ssh-keygen -lf ecdsa256.pub | cut -d' ' -f2)" ] || fail "signer"
ok "signer fingerprint read from the signature"

# refused: namespace, hash, tampering, wrong key
ssh-keygen -Y sign -n other -f ed25519256 - <rec.pair >ns.sig 2>/dev/null ||
	fail "sign -n other"
expect_refused KB_ERR_SIG_NAMESPACE "$KS" verify ed25519256.pub ns.sig <rec.pair
ssh-keygen -Y sign -n keybound -O hashalg=sha256 -f ed25519256 - <rec.pair \
    >h256.sig 2>/dev/null || fail "sign -O hashalg=sha256"
sshkeygen_verify ed25519256 h256.sig rec.pair || fail "sha256 control"
expect_refused KB_ERR_SIG_HASH "$KS" verify ed25519256.pub h256.sig <rec.pair
"$KS" pair web-deploy "$(cat ecdsa256.pub)" -a alice@web-01=1893456000 \
    -a bob@+prod -a alice@db-01 -a mallory@web-01 -n 1900000000 \
    -o 'restrict,pty' -b -s 42 -t 1764000000 >rec.tampered || fail "encode"
for key in ed25519256 ecdsa256 rsa3072; do
	expect_refused KB_ERR_SIG_BAD "$KS" verify "$key.pub" \
	    "$key.rec.pair.sig" <rec.tampered
	sshkeygen_verify "$key" "$key.rec.pair.sig" rec.tampered &&
		fail "ssh-keygen accepts a tampered record"
done
expect_refused KB_ERR_SIG_KEY "$KS" verify other.pub ed25519256.rec.pair.sig \
    <rec.pair
expect_refused KB_ERR_SIG_KEY "$KS" verify ecdsa384.pub ecdsa256.rec.pair.sig \
    <rec.pair

# refused: truncated and trailing bytes, in the signature and the record
base64 -d ed25519256.rec.pair.b64 >sig.bin || fail "base64"
head -c -1 sig.bin | base64 -w0 >trunc.b64
{ cat sig.bin; printf 'x'; } | base64 -w0 >trail.b64
expect_refused KB_ERR_SIG_FORMAT "$KS" verify ed25519256.pub trunc.b64 <rec.pair
expect_refused KB_ERR_SIG_FORMAT "$KS" verify ed25519256.pub trail.b64 <rec.pair
{ cat rec.pair; printf '\0'; } >rec.trail
head -c -1 rec.pair >rec.trunc
expect_refused KB_ERR_RECORD "$KS" decode <rec.trail
expect_refused KB_ERR_RECORD "$KS" decode <rec.trunc
expect_refused KB_ERR_SIG_BAD "$KS" verify ed25519256.pub \
    ed25519256.rec.pair.sig <rec.trail
expect_refused KB_ERR_RECORD "$KS" pair dup "$(cat ed25519256.pub)" \
    -a a@b -a a@b=5 -s 1 -t 1

# refused: private key files we must not use
ssh-keygen -q -t ed25519 -N 'secret phrase' -f locked </dev/null ||
	fail "keygen -N"
expect_refused KB_ERR_PRIVKEY_ENCRYPTED "$KS" sign locked <rec.pair
cp ed25519256 open && chmod 0644 open
expect_refused KB_ERR_CONFIG_PERM "$KS" sign open <rec.pair

# the agent: started here, killed by its PID at exit
sock=$KB_T/agent.sock
ssh-agent -D -a "$sock" >agent.out 2>&1 &
agent_pid=$!
kb_kill_at_exit "$agent_pid"
for _ in $(seq 1 100); do
	[ -S "$sock" ] && break
	kill -0 "$agent_pid" 2>/dev/null || fail "ssh-agent died"
	sleep 0.05
done
[ -S "$sock" ] || fail "ssh-agent socket never appeared"
export SSH_AUTH_SOCK=$sock
fp_ed=$(ssh-keygen -lf ed25519256.pub | cut -d' ' -f2)
fp_rsa=$(ssh-keygen -lf rsa3072.pub | cut -d' ' -f2)
expect_refused KB_ERR_AGENT_NO_KEY "$KS" sign "agent:$fp_ed" <rec.pair
ssh-add -q ed25519256 rsa3072 2>/dev/null || fail "ssh-add"
rm -f ed25519256 rsa3072	# from here on only the agent holds them
for rec in rec.pair rec.group; do
	"$KS" sign "agent:$fp_ed" <"$rec" >agent.sig || fail "agent sign"
	sshkeygen_verify ed25519256 agent.sig "$rec" ||
		fail "ssh-keygen refuses the agent's signature"
	cmp -s agent.sig "ed25519256.$rec.sig" ||
		fail "agent signature differs from the file key's"
	"$KS" sign "agent:$fp_rsa" <"$rec" >agent-rsa.sig ||
		fail "agent sign rsa"
	sshkeygen_verify rsa3072 agent-rsa.sig "$rec" ||
		fail "ssh-keygen refuses the agent's RSA signature"
done
ok "signing through ssh-agent (Ed25519, RSA rsa-sha2-512) verifies"
expect_refused KB_ERR_AGENT_NO_KEY "$KS" sign \
    "agent:$(ssh-keygen -lf other.pub | cut -d' ' -f2)" <rec.pair
SSH_AUTH_SOCK=$KB_T/no-such.sock expect_refused KB_ERR_AGENT "$KS" sign \
    "agent:$fp_ed" <rec.pair

kb_done
