# tests/lib/keycmd.sh - helpers for the keybound-keys integration tests
# (sourced after common.sh, sshd.sh and slapd.sh).
#
#   kk_ldap add|modify [FILE|-]   ldapadd/ldapmodify as the root DN (ldapi)
#   kk_keygen NAME [TYPE [BITS]]  a key pair in $KB_T/NAME{,.pub}; sets
#                                 KK_FP (SHA256 fingerprint), KK_PUB
#                                 ("TYPE BASE64")
#   kk_add_keypair NAME PUBTEXT FP [ATTACHMENT...] [-- LDIF-LINE...]
#                                 one keyboundKeyPair entry
#   kk_attach NAME USER@INSTANCE / kk_detach NAME USER@INSTANCE
#   kk_run CONF ARGS...           run the installed keybound-keys as root,
#                                 with sshd's signal state (kb-sshdexec);
#                                 stdout in $KK_OUT, status in KK_RC, wall
#                                 time in KK_MS
#   kk_as_cmd ARGS...             the installed keybound-keys ARGS as sshd
#                                 runs it: the command user without
#                                 supplementary groups, every signal at its
#                                 default (kb-sshdexec), an empty
#                                 environment; the caller redirects
#   kk_as_cmd_argv                the same command line in KK_AS_CMD (an
#                                 array), for strace or a background job
#   kk_re STRING                  STRING as an extended regex matching itself
#   kk_lines_valid FILE           every line passes ssh-keygen -l -f -

kk_ldap() {
	local op=$1 f=${2:--}
	[ "$f" = - ] && f=/dev/stdin
	_slapd_ldap_tool "ldap$op" -x -H "$SLAPD_LDAPI_URI" \
	    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" -f "$f" >/dev/null
}

kk_keygen() {
	local name=$1 type=${2:-ed25519} bits=${3:-}
	rm -f "$KB_T/$name" "$KB_T/$name.pub"
	ssh-keygen -q -t "$type" ${bits:+-b "$bits"} -N '' -C '' \
	    -f "$KB_T/$name" || return 1
	KK_FP=$(ssh-keygen -l -f "$KB_T/$name.pub" | awk '{print $2}')
	KK_PUB=$(cut -d' ' -f1,2 "$KB_T/$name.pub")
}

kk_add_keypair() {
	local name=$1 pub=$2 fp=$3 extra=0 a
	shift 3
	{
		echo "dn: cn=$name,$SLAPD_BASE"
		echo "objectClass: keyboundKeyPair"
		echo "cn: $name"
		echo "keyboundPublicKey: $pub"
		echo "keyboundFingerprint: $fp"
		for a in "$@"; do
			if [ "$a" = -- ]; then
				extra=1
			elif [ $extra = 1 ]; then
				echo "$a"
			else
				echo "keyboundAttachment: $a"
			fi
		done
	} | kk_ldap add
}

kk_attach() {
	printf 'dn: cn=%s,%s\nchangetype: modify\nadd: keyboundAttachment\nkeyboundAttachment: %s\n' \
	    "$1" "$SLAPD_BASE" "$2" | kk_ldap modify
}

kk_detach() {
	printf 'dn: cn=%s,%s\nchangetype: modify\ndelete: keyboundAttachment\nkeyboundAttachment: %s\n' \
	    "$1" "$SLAPD_BASE" "$2" | kk_ldap modify
}

KK_OUT=
kk_run() {
	local conf=$1 t0
	shift
	KK_OUT=$KB_T/kk.out
	t0=$(kb_ms)
	# sshd's signal state, not the harness's (kb-sshdexec)
	"$KB_BUILD/tests/tools/kb-sshdexec" "$KB_KEYS_CMD" -c "$conf" "$@" \
	    >"$KK_OUT" 2>"$KB_T/kk.err"
	KK_RC=$?
	KK_MS=$(($(kb_ms) - t0))
}

kk_lines_valid() {
	local n
	n=$(grep -c . "$1")
	[ "$n" -eq 0 ] && return 0
	[ "$(ssh-keygen -l -f - <"$1" 2>/dev/null | grep -c .)" -eq "$n" ]
}

kk_re() {
	printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|/]/\\&/g'
}

kk_as_cmd_argv() {
	KK_AS_CMD=("$KB_BUILD/tests/tools/kb-sshdexec" setpriv
	    --reuid="$KB_CMD_USER" --regid="$KB_CMD_USER" --clear-groups
	    env -i PATH=/usr/bin:/bin "$KB_KEYS_CMD")
}

kk_as_cmd() {
	kk_as_cmd_argv
	"${KK_AS_CMD[@]}" "$@"
}
