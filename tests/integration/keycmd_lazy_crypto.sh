#!/bin/bash
# keycmd_lazy_crypto: keybound-keys does not link libcrypto; lib/sshkey.c
# loads it with dlopen() only for a key that needs it.
#   keybound-keys needs no libcrypto/libssl at link time; a cache hit maps
#   nothing but libc (no libcrypto, no libldap: LD_DEBUG=files), opens no
#   socket but the one to syslog for its decision line and reads no
#   resolver or NSS file (strace); a directory answer of Ed25519 keys
#   never loads libcrypto, one with an ECDSA or RSA key does; cached ECDSA
#   and RSA keys are served on a hit without it; a libcrypto that cannot
#   be loaded costs only the keys that need it (skipped, reason logged),
#   never a hit its answer.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"

command -v readelf >/dev/null || skip "no readelf"
command -v strace >/dev/null || skip "no strace"
kb_private_syslog "$@"

# --- link time ---------------------------------------------------------------
n=$(readelf -d "$KB_BUILD/keybound-keys" | awk '/NEEDED/ {print $5}' |
    tr -d '[]' | tr '\n' ' ')
case "$n" in
*crypto* | *ssl*) not_ok "keybound-keys links libcrypto: $n" ;;
*libc.so*) ok "keybound-keys links no libcrypto ($n)" ;;
*) not_ok "keybound-keys: unexpected NEEDED list: $n" ;;
esac
soname=$(strings -a "$KB_BUILD/keybound-keys" |
    grep -m1 -E '^libcrypto\.so\.[0-9]+$')
[ -n "$soname" ] || fail "no libcrypto SONAME found in keybound-keys"
ok "keybound-keys loads $soname at run time"

# --- run time ----------------------------------------------------------------
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
kk_keygen ka ed25519 && ka_pub=$KK_PUB && ka_fp=$KK_FP
kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add ka"
kk_keygen kb ecdsa 384 && kb_pub=$KK_PUB && kb_fp=$KK_FP
kk_add_keypair kb "$KK_PUB" "$KK_FP" "bob@test-host" || fail "add kb"
kk_keygen kc rsa 2048 && kc_pub=$KK_PUB && kc_fp=$KK_FP
kk_add_keypair kc "$KK_PUB" "$KK_FP" "carol@test-host" || fail "add kc"

# kk_env_run VAR=VALUE CONF ARGS: VAR only in keybound-keys' environment.
kk_env_run() {
	local var=$1
	shift
	KK_OUT=$KB_T/kk.out
	env "$var" "$KB_KEYS_CMD" -c "$@" >"$KK_OUT" 2>"$KB_T/kk.err"
	KK_RC=$?
}

newcache() {
	local d
	d=$(mktemp -d "$KB_T/cache.XXXXXX")
	chown "$KB_CMD_USER:" "$d" && chmod 0700 "$d"
	echo "$d"
}

# Libraries the loader mapped in the last run (LD_DEBUG=files).
mapped() {
	grep -Eo 'file=[^ ;]+' "$KB_T/kk.err" | sed 's/^file=//' | sort -u |
	    tr '\n' ' '
}

conf=$KB_T/ttl.conf
kb_write_config "$conf" "cache_dir $(newcache)" "cache_ttl 3600" \
    "offline_max_age 3600"

for c in "alice ed25519 $ka_pub $ka_fp" "bob ecdsa $kb_pub $kb_fp" \
    "carol rsa $kc_pub $kc_fp"; do
	# shellcheck disable=SC2086
	set -- $c
	user=$1 type=$2 pub="$3 $4" fp=$5

	kk_env_run LD_DEBUG=files "$conf" "$user"
	check_eq "$KK_RC:$(grep -c . "$KK_OUT"):$(grep -c "$pub" "$KK_OUT")" \
	    "0:1:1" "$type, cache miss: the key from the directory"
	cp "$KK_OUT" "$KB_T/expected"
	libs=$(mapped)
	case "$type:$libs" in
	ed25519:*libcrypto*)
		not_ok "ed25519, cache miss: libcrypto loaded ($libs)" ;;
	ed25519:*libldap*)
		ok "ed25519, cache miss: libldap loaded, libcrypto not" ;;
	*:*"$soname"*)
		grep -Eq "file=$(kk_re "$soname") .*dynamically loaded" \
		    "$KB_T/kk.err"
		check_eq "$?" 0 "$type, cache miss: libcrypto loaded with dlopen" ;;
	*) not_ok "$type, cache miss: unexpected libraries: $libs" ;;
	esac

	for args in "$user" "$user $fp"; do
		# shellcheck disable=SC2086
		kk_env_run LD_DEBUG=files "$conf" $args
		cmp -s "$KK_OUT" "$KB_T/expected"
		check_eq "$KK_RC:$?" 0:0 "$type, cache hit ($args): the same key"
		libs=$(mapped)
		case "$libs" in
		"libc.so.6 ") ok "$type, cache hit ($args): libc only" ;;
		*) not_ok "$type, cache hit ($args): mapped $libs" ;;
		esac
	done

	# What a hit asks of the system: no socket but syslog's, no
	# resolver, no NSS, no library.
	strace -f -qq -e trace=socket,connect,openat,open \
	    -o "$KB_T/strace" "$KB_KEYS_CMD" -c "$conf" "$user" \
	    >"$KK_OUT" 2>/dev/null
	cmp -s "$KK_OUT" "$KB_T/expected"
	check_eq "$?" 0 "$type, cache hit under strace: the same key"
	check_eq "$(grep -c 'connect(' "$KB_T/strace"):$(grep -c \
	    'connect(.*/dev/log' "$KB_T/strace")" 1:1 \
	    "$type, cache hit: one connection, to syslog"
	opened=$(grep -E '(resolv\.conf|/etc/hosts|nsswitch\.conf|gai\.conf|\.so[.0-9]*")' \
	    "$KB_T/strace" | grep -v '/libc\.so\.6"' | grep -Eo '"[^"]*"' |
	    tr '\n' ' ')
	check_eq "$opened" "" \
	    "$type, cache hit: no resolver or NSS file, no library but libc"
done

# --- a libcrypto that cannot be loaded ---------------------------------------
mkdir -p "$KB_T/badcrypto"
: >"$KB_T/badcrypto/$soname"		# not an ELF file
bad=LD_LIBRARY_PATH=$KB_T/badcrypto

# a hit never loads it: cached ECDSA and RSA keys are still served
for user in bob carol; do
	kk_env_run "$bad" "$conf" "$user"
	check_eq "$KK_RC:$(grep -c . "$KK_OUT")" 0:1 \
	    "unloadable libcrypto, cache hit: $user's key served"
done
# a miss: Ed25519 needs no libcrypto; ECDSA and RSA keys are refused
c=$KB_T/miss.conf
kb_write_config "$c" "cache_dir $(newcache)" "cache_ttl 0"
kk_env_run "$bad" "$c" alice
check_eq "$KK_RC:$(grep -c "$ka_pub" "$KK_OUT")" 0:1 \
    "unloadable libcrypto, cache miss: the Ed25519 key served"
for user in bob carol; do
	kk_env_run "$bad" "$c" "$user"
	check_eq "$KK_RC:$(wc -c <"$KK_OUT")" 0:0 \
	    "unloadable libcrypto, cache miss: $user's key not served"
	kb_syslog_wait "user=$user .*event=key-skipped .*reason=\"?cryptographic library error" ||
	    not_ok "unloadable libcrypto: $user's skipped key not logged"
done

kb_done
