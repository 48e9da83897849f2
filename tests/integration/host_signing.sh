#!/bin/bash
# host_signing: trusted_signers on the host, against a real slapd, with
# keybound-keys run as sshd runs it (the command user, sshd's signal state
# and environment: kk_as_cmd).  Entries are signed here from their fields
# (tests/tools/kb-sign: the canonical record, an SSHSIG by a key file made
# by ssh-keygen) and written with ldapmodify as the root DN, so only the
# host side is under test.
#
#   Served: a signed pair attached directly and through a signed host
#   group, also from a cached answer (re-verified when read).  An Ed25519
#   signer's signature over an Ed25519 key is checked on a cache miss
#   without loading libcrypto (LD_DEBUG=files).
#   Refused, each logged once with the pair or group name and the reason:
#   an unsigned entry; an attachment added after signing; the public key
#   replaced; keyboundNotAfter removed; the options changed; an instance
#   added to a group; a signature copied from another entry; an older
#   serial restored after a newer one was seen (floor); the same on a host
#   that never asked about that user after the detach but learned the
#   newer serial from the tombstoned entry returned to another user's
#   lookup; an entry older than signature_max_age; one signed in the
#   future; an untrusted signer; a floor that cannot be raised (cache_dir
#   on a full tmpfs).  A forged cache file written by the command user is
#   refused.  Without trusted_signers: served as before,
#   keyboundSignature not even asked for.  A trusted_signers file that is
#   not root-owned, or has a bad line: config error (exit 2), logged.
#   Interop: a record signed with `ssh-keygen -Y sign -n keybound` is
#   accepted.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"
[ "$(id -u)" = 0 ] || skip "needs root (command user)"
command -v setpriv >/dev/null || skip "setpriv not installed"
KS=$KB_BUILD/tests/tools/kb-sign
[ -x "$KS" ] || fail "missing $KS (run make)"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"

# the administrator's signing key, and one no host trusts
ssh-keygen -q -t ed25519 -N '' -C '' -f "$KB_T/admin" || fail "keygen admin"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$KB_T/rogue" || fail "keygen rogue"
SIGNERS=$KB_T/trusted_signers
# the shipped example (comments only) with the administrator's key added
{
	grep '^#' "$KB_SRC/config-examples/trusted_signers"
	echo "admin $(cut -d' ' -f1,2 "$KB_T/admin.pub")"
} >"$SIGNERS"
chown root:root "$SIGNERS" && chmod 0644 "$SIGNERS"

conf=$KB_T/signed.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "trusted_signers $SIGNERS" || fail "config"
conf_cached=$KB_T/signed-cached.conf
kb_write_config "$conf_cached" "cache_dir $KB_CACHE_DIR" "cache_ttl 600" \
    "trusted_signers $SIGNERS" || fail "config"
conf_plain=$KB_T/plain.conf
kb_write_config "$conf_plain" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" ||
    fail "config"
NOW=$(date +%s)
gentime() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }

# --- entries: fields in P_*, written and signed from the same fields ------
# P_KEY "TYPE BASE64"; P_ATTS ("USER@TARGET" or "USER@TARGET=EPOCH", the
# end); P_NA epoch or ""; P_OPTS; P_BLOCKED 0/1; P_TOMB (tombstones).
pair_reset() {
	P_KEY=$1
	P_ATTS=()
	P_NA=
	P_OPTS=
	P_BLOCKED=0
	P_TOMB=()
}

# pair_record NAME SERIAL WHEN: the canonical record into $KB_T/rec
pair_record() {
	local a args=()
	for a in "${P_ATTS[@]}"; do args+=(-a "$a"); done
	[ -n "$P_NA" ] && args+=(-n "$P_NA")
	[ -n "$P_OPTS" ] && args+=(-o "$P_OPTS")
	[ "$P_BLOCKED" = 1 ] && args+=(-b)
	"$KS" pair "$1" "$P_KEY" "${args[@]}" -s "$2" -t "$3" >"$KB_T/rec"
}

# sign_value SERIAL WHEN [KEY]: sign $KB_T/rec, the keyboundSignature value
sign_value() {
	local sig
	sig=$("$KS" sign -r "${3:-$KB_T/admin}" <"$KB_T/rec") || return 1
	echo "$1 $(gentime "$2") $sig"
}

# pair_ldif NAME SIGVALUE: replace every signed attribute of NAME
pair_ldif() {
	local a v e
	echo "dn: cn=$1,$SLAPD_BASE"
	echo "changetype: modify"
	echo "replace: keyboundPublicKey"
	echo "keyboundPublicKey: $P_KEY"
	echo "-"
	echo "replace: keyboundAttachment"
	for a in "${P_ATTS[@]}"; do echo "keyboundAttachment: ${a%%=*}"; done
	echo "-"
	echo "replace: keyboundAttachmentEnd"
	for a in "${P_ATTS[@]}"; do
		[ "$a" = "${a%%=*}" ] && continue
		echo "keyboundAttachmentEnd: ${a%%=*} $(gentime "${a#*=}")"
	done
	echo "-"
	echo "replace: keyboundNotAfter"
	[ -n "$P_NA" ] && echo "keyboundNotAfter: $(gentime "$P_NA")"
	echo "-"
	echo "replace: keyboundKeyOptions"
	[ -n "$P_OPTS" ] && echo "keyboundKeyOptions: $P_OPTS"
	echo "-"
	echo "replace: keyboundBlocked"
	[ "$P_BLOCKED" = 1 ] && echo "keyboundBlocked: TRUE"
	echo "-"
	echo "replace: keyboundTombstone"
	for v in "${P_TOMB[@]}"; do echo "keyboundTombstone: $v"; done
	echo "-"
	echo "replace: keyboundSignature"
	[ -n "$2" ] && echo "keyboundSignature: $2"
	echo "-"
}

# pair_put NAME SERIAL WHEN [KEY|unsigned]: create NAME if needed, write
# the fields, signed (by KEY, default the administrator's) unless
# "unsigned".  The value written is in SIGVAL.
pair_put() {
	local name=$1 serial=$2 when=$3 key=${4:-$KB_T/admin}
	SIGVAL=
	if ! ldapsearch_has "cn=$name"; then
		printf 'dn: cn=%s,%s\nobjectClass: keyboundKeyPair\ncn: %s\nkeyboundPublicKey: %s\nkeyboundFingerprint: %s\n' \
		    "$name" "$SLAPD_BASE" "$name" "$P_KEY" "$(echo "$P_KEY" |
		    ssh-keygen -l -f - | awk '{print $2}')" | kk_ldap add ||
		    return 1
	fi
	if [ "$key" != unsigned ]; then
		pair_record "$name" "$serial" "$when" || return 1
		SIGVAL=$(sign_value "$serial" "$when" "$key") || return 1
	fi
	pair_ldif "$name" "$SIGVAL" | kk_ldap modify
}

ldapsearch_has() {
	_slapd_ldap_tool ldapsearch -x -H "$SLAPD_LDAPI_URI" \
	    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" -b "$SLAPD_BASE" \
	    -LLL "($1)" dn 2>/dev/null | grep -q '^dn:'
}

# ldap_modify NAME LDIF-BODY...: one modify of NAME as the root DN (no
# signing key: what a directory writer can do)
ldap_modify() {
	local name=$1
	shift
	{
		echo "dn: cn=$name,$SLAPD_BASE"
		echo "changetype: modify"
		printf '%s\n' "$@"
	} | kk_ldap modify
}

# group_put NAME SERIAL WHEN MEMBER...: a signed host group
group_put() {
	local name=$1 serial=$2 when=$3 m args=() sig
	shift 3
	for m in "$@"; do args+=(-m "$m"); done
	"$KS" group "$name" "${args[@]}" -s "$serial" -t "$when" \
	    >"$KB_T/rec" || return 1
	sig=$(sign_value "$serial" "$when") || return 1
	if ! ldapsearch_has "cn=$name"; then
		printf 'dn: cn=%s,%s\nobjectClass: keyboundHostGroup\ncn: %s\n' \
		    "$name" "$SLAPD_BASE" "$name" | kk_ldap add || return 1
	fi
	{
		echo "dn: cn=$name,$SLAPD_BASE"
		echo "changetype: modify"
		echo "replace: keyboundMember"
		for m in "$@"; do echo "keyboundMember: $m"; done
		echo "-"
		echo "replace: keyboundSignature"
		echo "keyboundSignature: $sig"
		echo "-"
	} | kk_ldap modify
}

# run CONF ARGS...: keybound-keys as sshd runs it; KK_OUT, KK_RC
run() {
	local c=$1
	shift
	KK_OUT=$KB_T/kk.out
	kk_as_cmd -c "$c" "$@" </dev/null >"$KK_OUT" 2>"$KB_T/kk.err"
	KK_RC=$?
}

# served CONF USER FP WHAT: the key with FP is served to USER
served() {
	run "$1" "$2"
	[ "$KK_RC" = 0 ] && grep -q . "$KK_OUT" &&
	    ssh-keygen -l -f "$KK_OUT" 2>/dev/null | grep -qF "$3" ||
	    not_ok "$4: not served (exit $KK_RC: $(cat "$KK_OUT" "$KB_T/kk.err"))"
	ok "$4: served"
}

# refused CONF USER NAME REASON WHAT: nothing served to USER, and one
# entry-skipped line naming NAME with REASON (an extended regex)
refused() {
	local c=$1 user=$2 name=$3 reason=$4 what=$5 before n
	before=$(grep -c "user=$user .*event=entry-skipped keypair=$name " \
	    "$KB_SYSLOG")
	run "$c" "$user"
	check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:0" "$what: nothing served"
	kb_syslog_wait "user=$user .*event=entry-skipped keypair=$name reason=\"?$reason" ||
	    not_ok "$what: no log line naming $name with \"$reason\""
	n=$(grep -c "user=$user .*event=entry-skipped keypair=$name " \
	    "$KB_SYSLOG")
	check_eq "$((n - before))" 1 "$what: logged once, with $name and its reason"
}

u=kbsig$$
kk_keygen kdirect && K1=$KK_PUB F1=$KK_FP || fail "keygen"

# --- a valid signed pair, attached directly --------------------------------
pair_reset "$K1"
P_ATTS=("$u@test-host")
pair_put direct 1 "$NOW" || fail "write direct"
served "$conf" "$u" "$F1" "signed pair attached directly"
run "$conf" --has-keys "$u"
check_eq "$KK_RC" 0 "signed pair: --has-keys counts it"

# --- an Ed25519 signer and an Ed25519 key: libcrypto never loaded ----------
# A cache miss (libldap is loaded), the signature checked by lib/ed25519.c;
# the libraries the loader mapped, from LD_DEBUG=files.
kk_as_cmd_argv
"${KK_AS_CMD[@]:0:$((${#KK_AS_CMD[@]} - 1))}" LD_DEBUG=files \
    "$KB_KEYS_CMD" -c "$conf" "$u" </dev/null >"$KB_T/kk.out" \
    2>"$KB_T/kk.err"
check_eq "$?:$(ssh-keygen -l -f "$KB_T/kk.out" 2>/dev/null |
    grep -cF "$F1")" 0:1 "Ed25519 signer, cache miss under LD_DEBUG: served"
libs=$(grep -Eo 'file=[^ ;]+' "$KB_T/kk.err" | sed 's/^file=//' | sort -u |
    tr '\n' ' ')
case "$libs" in
*libcrypto*) not_ok "Ed25519 signer and key: libcrypto loaded ($libs)" ;;
*libldap*) ok "Ed25519 signer and key, cache miss: libcrypto not loaded" ;;
*) not_ok "Ed25519 signer, cache miss: unexpected libraries: $libs" ;;
esac

# --- and through a signed host group --------------------------------------
ug=kbsigg$$
kk_keygen kgroup && KG=$KK_PUB FG=$KK_FP || fail "keygen"
group_put gweb 1 "$NOW" test-host other-01 || fail "write gweb"
pair_reset "$KG"
P_ATTS=("$ug@+gweb")
pair_put viagroup 1 "$NOW" || fail "write viagroup"
served "$conf" "$ug" "$FG" "signed pair through a signed host group"

# --- cached answers keep the records and are re-verified ------------------
served "$conf_cached" "$ug" "$FG" "group grant, directory answer recorded"
grep -q '^signed-group ' "$KB_CACHE_DIR"/u-* ||
    not_ok "the cached answer keeps the group's signed record"
served "$conf_cached" "$ug" "$FG" "group grant, from the cache"
kb_syslog_wait "user=$ug .*source=cache .*result=ok" ||
    not_ok "the group grant was not a cache hit"
ok "a cached answer with its records is served from the cache"

# --- refusals, one fresh pair each (floors are per pair) ------------------
n=0
fresh() {	# fresh NAME USER: a signed pair NAME attached to USER
	n=$((n + 1))
	kk_keygen "k$n" || return 1
	pair_reset "$KK_PUB"
	P_ATTS=("$2@test-host")
	pair_put "$1" 1 "$NOW"
}

uu=kbu$$
fresh unsigned "$uu" || fail "write"
pair_put unsigned 1 "$NOW" unsigned || fail "unsign"
refused "$conf" "$uu" unsigned "entry is not signed" "unsigned entry"
run "$conf" --has-keys "$uu"
check_eq "$KK_RC" 3 "unsigned entry: --has-keys does not count it (exit 3)"

ua=kba$$
fresh added "$ua-x" || fail "write"
ldap_modify added "add: keyboundAttachment" "keyboundAttachment: $ua@test-host" ||
    fail "add attachment"
refused "$conf" "$ua" added "signature does not verify" "attachment added after signing"

uk=kbk$$
fresh rekeyed "$uk" || fail "write"
kk_keygen krogue || fail "keygen"
ldap_modify rekeyed "replace: keyboundPublicKey" "keyboundPublicKey: $KK_PUB" ||
    fail "replace key"
refused "$conf" "$uk" rekeyed "signature does not verify" "public key replaced"

un=kbn$$
fresh notafter "$un" || fail "write"
P_NA=$((NOW + 86400))
pair_put notafter 2 "$NOW" || fail "write not-after"
served "$conf" "$un" "$(ssh-keygen -l -f "$KB_T/k$n.pub" | awk '{print $2}')" \
    "signed pair with keyboundNotAfter"
ldap_modify notafter "delete: keyboundNotAfter" || fail "remove not-after"
refused "$conf" "$un" notafter "signature does not verify" "keyboundNotAfter removed"

uo=kbo$$
fresh options "$uo" || fail "write"
P_OPTS='from="10.0.0.0/8"'
pair_put options 2 "$NOW" || fail "write options"
ldap_modify options "replace: keyboundKeyOptions" "keyboundKeyOptions: from=\"0.0.0.0/0\"" ||
    fail "change options"
refused "$conf" "$uo" options "signature does not verify" "options changed"

# an instance added to a group: the group is refused, its grant with it
ui=kbi$$
group_put gdb 1 "$NOW" other-02 || fail "write gdb"
kk_keygen kgdb && pair_reset "$KK_PUB" || fail "keygen"
P_ATTS=("$ui@+gdb")
pair_put viagdb 1 "$NOW" || fail "write viagdb"
ldap_modify gdb "add: keyboundMember" "keyboundMember: test-host" ||
    fail "add member"
before=$(grep -c "event=entry-skipped keypair=gdb " "$KB_SYSLOG")
run "$conf" "$ui"
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:0" "instance added to a group: nothing served"
kb_syslog_wait "user=$ui .*event=entry-skipped keypair=gdb reason=\"?signature does not verify" ||
    not_ok "instance added to a group: the group's refusal not logged"
check_eq "$(($(grep -c "event=entry-skipped keypair=gdb " "$KB_SYSLOG") - before))" 1 \
    "instance added to a group: logged once, with the group's name"

# a signature copied from another entry
uc=kbc$$
fresh copied "$uc" || fail "write"
ldap_modify copied "replace: keyboundSignature" "keyboundSignature: $(
    _slapd_ldap_tool ldapsearch -x -H "$SLAPD_LDAPI_URI" -D "$SLAPD_ROOTDN" \
    -y "$SLAPD_ROOTPW_FILE" -b "cn=direct,$SLAPD_BASE" -LLL -o ldif-wrap=no \
    keyboundSignature | sed -n 's/^keyboundSignature: //p')" ||
    fail "copy signature"
refused "$conf" "$uc" copied "signature does not verify" "signature copied from another entry"

# untrusted signer, too old, signed in the future
ur=kbr$$
fresh rogue "$ur" || fail "write"
pair_put rogue 2 "$NOW" "$KB_T/rogue" || fail "sign rogue"
refused "$conf" "$ur" rogue "signer is not trusted" "untrusted signer"

conf_age=$KB_T/age.conf
kb_write_config "$conf_age" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "trusted_signers $SIGNERS" "signature_max_age 1h" || fail "config"
uy=kby$$
fresh old "$uy" || fail "write"
pair_put old 2 "$((NOW - 7200))" || fail "sign old"
served "$conf" "$uy" "$(ssh-keygen -l -f "$KB_T/k$n.pub" | awk '{print $2}')" \
    "signed two hours ago, signature_max_age 30d"
refused "$conf_age" "$uy" old "signature older than signature_max_age" \
    "signed two hours ago, signature_max_age 1h"

uf=kbf$$
fresh future "$uf" || fail "write"
pair_put future 2 "$((NOW + 3600))" || fail "sign future"
refused "$conf" "$uf" future "invalid time.*signed in the future" \
    "signed an hour in the future"

# --- replay after a detach, on a host that saw the newer serial -----------
ud=kbd$$
fresh replay "$ud" || fail "write"
cp "$KB_T/rec" "$KB_T/rec.v1"
V1=$SIGVAL
served "$conf" "$ud" "$(ssh-keygen -l -f "$KB_T/k$n.pub" | awk '{print $2}')" \
    "replay: version 1 served"
saved_key=$P_KEY
# the detach, signed: the attachment ends now, a tombstone marks it
P_ATTS=("$ud@test-host=$((NOW - 1))")
P_TOMB=(test-host)
pair_put replay 2 "$NOW" || fail "detach"
run "$conf" "$ud"
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:0" "replay: detached (version 2) serves nothing"
# a directory writer restores version 1, signature and all
pair_reset "$saved_key"
P_ATTS=("$ud@test-host")
pair_ldif replay "$V1" | kk_ldap modify || fail "restore version 1"
refused "$conf" "$ud" replay "older serial than one already seen" \
    "replay: version 1 restored after version 2 was seen"

# --- ... and on a host that never asked about that user after the detach --
# host web-02 (its own cache_dir: its own floors) served the user once;
# after the detach it only looked another user up, and the tombstoned
# entry came back to that search: enough to learn serial 2.
CD2=$(mktemp -d "${TMPDIR:-/tmp}/kbcache2.XXXXXX") || fail "mktemp"
kb_on_exit "rm -rf '$CD2'"
chown "$KB_CMD_USER:" "$CD2" && chmod 0700 "$CD2" || fail "chown"
CD3=$(mktemp -d "${TMPDIR:-/tmp}/kbcache3.XXXXXX") || fail "mktemp"
kb_on_exit "rm -rf '$CD3'"
chown "$KB_CMD_USER:" "$CD3" && chmod 0700 "$CD3" || fail "chown"
conf2=$KB_T/web02.conf
kb_write_config "$conf2" "cache_dir $CD2" "cache_ttl 0" "instance web-02" \
    "trusted_signers $SIGNERS" || fail "config"
conf3=$KB_T/web03.conf	# the same host role without the other lookup
kb_write_config "$conf3" "cache_dir $CD3" "cache_ttl 0" "instance web-02" \
    "trusted_signers $SIGNERS" || fail "config"
ut=kbt$$
other=kbo2$$
kk_keygen ktomb && pair_reset "$KK_PUB" && FT=$KK_FP || fail "keygen"
P_ATTS=("$ut@web-02")
pair_put tomb 1 "$NOW" || fail "write tomb"
cp "$KB_T/rec" "$KB_T/rec.t1"
T1=$SIGVAL
tomb_key=$P_KEY
served "$conf2" "$ut" "$FT" "tombstone: web-02 serves version 1"
served "$conf3" "$ut" "$FT" "tombstone: web-02 (second cache_dir) serves version 1"
P_ATTS=("$ut@web-02=$((NOW - 1))")
P_TOMB=(web-02)
pair_put tomb 2 "$NOW" || fail "detach tomb"
run "$conf2" "$other"		# another user: the tombstone comes back
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:0" "tombstone: another user's lookup serves nothing"
grep -q "user=$other .*keypair=tomb" "$KB_SYSLOG" &&
    not_ok "tombstone: the carrier entry is logged for another user"
ok "tombstone: the carrier entry is not logged for another user"
pair_reset "$tomb_key"
P_ATTS=("$ut@web-02")
pair_ldif tomb "$T1" | kk_ldap modify || fail "restore tomb version 1"
refused "$conf2" "$ut" tomb "older serial than one already seen" \
    "tombstone: version 1 restored, refused on a host that learned serial 2 from another user's lookup"
# the control: a host that did not see the tombstone has no floor above 1
served "$conf3" "$ut" "$FT" \
    "tombstone (control): without the other lookup, version 1 is within signature_max_age"

# --- a full disk: a floor that cannot be raised refuses the entry ---------
# cache_dir on a full tmpfs (a private mount namespace): the floor of a
# pair this host never saw cannot be written, so the pair is refused
# (fail closed) and logged; with room again it is served.
full=$KB_T/full
mkdir "$full"
conf_full=$KB_T/full.conf
kb_write_config "$conf_full" "cache_dir $full/cache" "cache_ttl 0" \
    "trusted_signers $SIGNERS" || fail "config"
kk_as_cmd_argv
unshare --mount --propagation private bash -c '
	dir=$1 user=$2 out=$3
	shift 3
	mount -t tmpfs -o size=256k,mode=0755 tmpfs "$dir" || exit 90
	install -d -o "$user" -g "$user" -m 0700 "$dir/cache" || exit 91
	dd if=/dev/zero of="$dir/fill" bs=4k 2>/dev/null
	"$@" </dev/null >"$out.1" 2>/dev/null
	echo "$?" >"$out.rc1"
	rm -f "$dir/fill"
	"$@" </dev/null >"$out.2" 2>/dev/null
	echo "$?" >"$out.rc2"
' _ "$full" "$KB_CMD_USER" "$KB_T/full.out" "${KK_AS_CMD[@]}" -c "$conf_full" \
    "$u"
check_eq "$?" 0 "a full tmpfs as cache_dir (private mount namespace)"
ssh-keygen -l -f "$KB_T/full.out.1" 2>/dev/null | grep -qF "$F1" &&
    not_ok "disk full: served although its floor could not be raised" ||
    ok "disk full: the pair whose floor cannot be raised is not served"
kb_syslog_wait "user=$u .*event=entry-skipped .*serial floor unusable" ||
    not_ok "disk full: no log line saying the floor is unusable"
ssh-keygen -l -f "$KB_T/full.out.2" 2>/dev/null | grep -qF "$F1" &&
    ok "disk full: with room again, the pair is served" ||
    not_ok "room again: not served (exit $(cat "$KB_T/full.out.rc2"))"

# --- the floors -----------------------------------------------------------
fl=$(find "$KB_CACHE_DIR" -maxdepth 1 -name 'f-*' | head -1)
[ -n "$fl" ] || not_ok "no floor files in cache_dir"
check_eq "$(stat -c '%U %a' "$fl")" "$KB_CMD_USER 600" "floor files: the command user's, 0600"

# --- a forged cache file written by the command user ----------------------
# The command user runs keybound-keys with a config of its choosing
# pointing at the same cache_dir (it owns cache_dir, it could write any
# bytes there); here an unsigned config writes a real answer for uz.
uz=kbz$$
kk_keygen kforge && FZ=$KK_FP || fail "keygen"
kk_add_keypair forged "$KK_PUB" "$KK_FP" "$uz@test-host" || fail "add forged"
conf_forge=$KB_T/forge.conf
kb_write_config "$conf_forge" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" ||
    fail "config"
served "$conf_forge" "$uz" "$FZ" "forgery: an unsigned config caches a key for uz"
grep -lq "$FZ" "$KB_CACHE_DIR"/u-* 2>/dev/null || grep -rq "$FZ" "$KB_CACHE_DIR" ||
    not_ok "forgery: no cache file holds the key"
run "$conf_cached" "$uz"
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:0" "forgery: the cached answer without records is not served"
kb_syslog_wait "user=$uz .*event=cache-ignored error=\"?entry is not signed" ||
    not_ok "forgery: no cache-ignored line"
# the same with the directory down: the offline answer is refused too
conf_down=$KB_T/down.conf
kb_write_config "$conf_down" "uri ldap://127.0.0.1:$(kb_free_port)" \
    "cache_dir $KB_CACHE_DIR" "cache_ttl 0" "trusted_signers $SIGNERS" ||
    fail "config"
served "$conf_forge" "$uz" "$FZ" "forgery: the unsigned answer cached again"
run "$conf_down" "$uz"
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "1:0" "forgery: directory down, the forged offline answer is not served (exit 1)"
# a signed answer whose key line is swapped for another key
served "$conf_cached" "$u" "$F1" "forgery: a signed answer cached for $u"
f=$(grep -l "^user $(printf %s "$u" | od -An -tx1 | tr -d ' \n')" "$KB_CACHE_DIR"/u-*)
[ -n "$f" ] || fail "no cache file for $u"
kk_keygen kswap || fail "keygen"
swap=$(ssh-keygen -l -f "$KB_T/kswap.pub" | awk '{print $2}')
setpriv --reuid="$KB_CMD_USER" --regid="$KB_CMD_USER" --clear-groups \
    sed -i "s|^key $F1 direct [^ ]* [^ ]* |key $swap direct $KK_PUB |" "$f" ||
    fail "edit the cache file"
grep -q "$swap" "$f" || fail "the cache file was not edited"
run "$conf_cached" "$u"
grep -q "$(cut -d' ' -f2 <<<"$KK_PUB")" "$KK_OUT" &&
    not_ok "forgery: the swapped key was served"
ok "forgery: a key swapped into a signed answer is not served"

# --- without trusted_signers: as before ------------------------------------
grep -q 'SRCH attr=.*keyboundSignature' "$SLAPD_LOG" ||
    not_ok "signed lookups: keyboundSignature not asked for"
before=$(grep -c 'keyboundSignature' "$SLAPD_LOG")
served "$conf_plain" "$uu" "$(ssh-keygen -l -f "$KB_T/k1.pub" | awk '{print $2}')" \
    "no trusted_signers: the unsigned entry is served"
check_eq "$(grep -c 'keyboundSignature' "$SLAPD_LOG")" "$before" \
    "no trusted_signers: keyboundSignature is not asked for"

# --- keybound check decides as the host does -------------------------------
kbc() {
	"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
	    -y "$SLAPD_ROOTPW_FILE" --json check "$1" 2>"$KB_T/check.err" |
	    python3 -c 'import json,sys; print(" ".join(k["name"] for k in json.load(sys.stdin)["keys"]))'
}
check_eq "$(kbc "$u@test-host")" direct "keybound check: the signed pair"
check_eq "$(kbc "$ug@test-host")" viagroup "keybound check: the signed group grant"
check_eq "$(kbc "$uu@test-host")" "" "keybound check: not the unsigned entry"
# serial floors are each host's own (its cache_dir): check judges
# signatures and age only, so the restored version 1 passes there
check_eq "$(kbc "$ud@test-host")" replay "keybound check: no floors (the restored version 1 verifies)"

# --- trusted_signers itself ------------------------------------------------
chown "$KB_CMD_USER:" "$SIGNERS"
run "$conf" "$u"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "trusted_signers owned by the command user: exit 2, nothing printed"
kb_syslog_wait "$(kk_re "$SIGNERS"): trusted_signers: must be owned by root" ||
    not_ok "trusted_signers not root-owned: no message"
chown root:root "$SIGNERS" && chmod 0664 "$SIGNERS"
run "$conf" "$u"
check_eq "$KK_RC" 2 "trusted_signers group-writable: exit 2"
chmod 0644 "$SIGNERS"
echo "broken ssh-ed25519 AAAA" >>"$SIGNERS"
run "$conf" --has-keys "$u"
check_eq "$KK_RC" 2 "trusted_signers with a bad line: --has-keys exit 2"
kb_syslog_wait "$(kk_re "$SIGNERS"):$(wc -l <"$SIGNERS"): trusted_signers:" ||
    not_ok "trusted_signers bad line: no message with its line"
sed -i '$d' "$SIGNERS"
# an empty file (no signer) is refused, and promptly
cp "$SIGNERS" "$KB_T/signers.saved"
: >"$SIGNERS"
kk_as_cmd_argv
timeout 10 "${KK_AS_CMD[@]}" -c "$conf" "$u" </dev/null >/dev/null 2>&1
check_eq "$?" 2 "trusted_signers empty: exit 2 (not a hang)"
cp "$KB_T/signers.saved" "$SIGNERS"
rm_conf=$KB_T/missing.conf
kb_write_config "$rm_conf" "cache_dir $KB_CACHE_DIR" \
    "trusted_signers $KB_T/no-such-file" || fail "config"
run "$rm_conf" "$u"
check_eq "$KK_RC" 2 "trusted_signers missing: exit 2"
served "$conf" "$u" "$F1" "trusted_signers restored"

# --- interop: a record signed by ssh-keygen -Y sign -n keybound ------------
ux=kbx$$
kk_keygen kinterop && pair_reset "$KK_PUB" && FX=$KK_FP || fail "keygen"
P_ATTS=("$ux@test-host")
pair_put interop 1 "$NOW" unsigned || fail "write interop"
pair_record interop 1 "$NOW" || fail "record"
ssh-keygen -q -Y sign -n keybound -f "$KB_T/admin" "$KB_T/rec" ||
    fail "ssh-keygen -Y sign"
b64=$(sed '1d;$d' "$KB_T/rec.sig" | tr -d '\n')
ldap_modify interop "replace: keyboundSignature" \
    "keyboundSignature: 1 $(gentime "$NOW") $b64" || fail "write signature"
served "$conf" "$ux" "$FX" "a record signed by ssh-keygen -Y sign -n keybound"

# --- under valgrind: the signed paths leak nothing, touch nothing wrong ---
# valgrind slows keybound-keys tenfold: the deadlines keycmd_valgrind.sh
# uses, so that no run ends at its deadline on a loaded machine.
vconf=$KB_T/vg.conf
kb_write_config "$vconf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "trusted_signers $SIGNERS" "timeout 10" "network_timeout 5" ||
    fail "config"
vconf_cached=$KB_T/vg-cached.conf
kb_write_config "$vconf_cached" "cache_dir $KB_CACHE_DIR" "cache_ttl 600" \
    "trusted_signers $SIGNERS" "timeout 10" "network_timeout 5" ||
    fail "config"
vg() {	# vg LABEL ARGS...: exit 0, no valgrind error, no definite leak
	local label=$1 log=$KB_T/vg.log rc
	shift
	rm -f "$log"
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
	    --show-leak-kinds=definite --error-exitcode=99 --log-file="$log" \
	    "$KB_KEYS_CMD" "$@" >"$KB_T/vg.out" 2>/dev/null
	rc=$?
	check_eq "$rc" 0 "valgrind, $label: exit 0, no error"
	# -q prints only what is wrong: any error or leak record
	grep -Eq '== (Invalid|Conditional|Use of|Syscall param|Mismatched|[0-9,]+ bytes in)' "$log"
	check_eq "$?" 1 "valgrind, $label: zero errors, zero definite leaks"
	[ "$rc" = 0 ] || cat "$log"
}
if command -v valgrind >/dev/null; then
	vg "signed directory, group grant" -c "$vconf" "$ug"
	vg "signed cache hit, group grant" -c "$vconf_cached" "$ug"
	vg "replayed entry refused" -c "$vconf" "$ud"
	vg "forged cache refused" -c "$vconf_cached" "$uz"
else
	ok "valgrind not installed: the valgrind runs are left out"
fi

kb_done
