#!/bin/bash
# keycmd_lazy_ldap: keybound-keys does not link libldap; the directory
# client loads it with dlopen() on a cache miss only.
#   keybound-keys needs no libldap/liblber/GnuTLS/SASL library and
#   pam_keybound.so neither those nor libcrypto; a miss loads libldap, a
#   hit maps none of its tree; a libldap that cannot be loaded (not an
#   ELF file, a missing dependency, a missing symbol) makes the directory
#   path fail closed with the reason logged, falls back to the offline
#   cache like a directory that is down, and never costs a cache hit its
#   answer.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"

command -v readelf >/dev/null || skip "no readelf"
kb_private_syslog "$@"

# --- link time ---------------------------------------------------------------
needed() {
	readelf -d "$1" | awk '/NEEDED/ {print $5}' | tr -d '[]' | sort |
	    tr '\n' ' '
}
n=$(needed "$KB_BUILD/keybound-keys")
case "$n" in
*ldap* | *lber* | *gnutls* | *sasl*)
	not_ok "keybound-keys links a directory library: $n" ;;
*libc.so*) ok "keybound-keys links no libldap/liblber ($n)" ;;
*) not_ok "keybound-keys: unexpected NEEDED list: $n" ;;
esac
n=$(needed "$KB_BUILD/pam_keybound.so")
case "$n" in
*ldap* | *lber* | *crypto* | *ssl* | *gnutls* | *sasl*)
	not_ok "pam_keybound.so links a directory or crypto library: $n" ;;
*libpam.so*) ok "pam_keybound.so links neither libldap nor libcrypto ($n)" ;;
*) not_ok "pam_keybound.so: unexpected NEEDED list: $n" ;;
esac
# The SONAME dlopen() asks for, as compiled in.
soname=$(strings -a "$KB_BUILD/keybound-keys" |
    grep -m1 -E '^libldap[-_.0-9a-z]*\.so\.[0-9]+$')
[ -n "$soname" ] || fail "no libldap SONAME found in keybound-keys"
ok "keybound-keys loads $soname at run time"

# --- run time ----------------------------------------------------------------
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
kk_keygen ka && ka_pub=$KK_PUB
kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add ka"

# kk_run with VAR=VALUE in keybound-keys' environment only.
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

# Libraries that stand in for libldap under its SONAME.
mkdir -p "$KB_T/empty" "$KB_T/nodep" "$KB_T/nosym"
: >"$KB_T/empty/$soname"			# not an ELF file
bad_libs="empty"
if command -v cc >/dev/null; then
	echo 'int kb_stand_in;' >"$KB_T/stub.c"
	cc -shared -fPIC -o "$KB_T/libkb-absent.so" "$KB_T/stub.c" &&
	cc -shared -fPIC -Wl,--no-as-needed -Wl,-soname,"$soname" \
	    -o "$KB_T/nodep/$soname" "$KB_T/stub.c" \
	    -L"$KB_T" -lkb-absent &&
	rm "$KB_T/libkb-absent.so" &&
	cc -shared -fPIC -Wl,-soname,"$soname" -o "$KB_T/nosym/$soname" \
	    "$KB_T/stub.c" || fail "cannot build the stand-in libraries"
	bad_libs="empty nodep nosym"
fi

cdir=$(newcache)
conf=$KB_T/ttl.conf
kb_write_config "$conf" "cache_dir $cdir" "cache_ttl 3600" \
    "offline_max_age 3600"

kk_env_run LD_DEBUG=files "$conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT"):$(grep -c "$ka_pub" "$KK_OUT")" \
    "0:1:1" "cache miss: keys from the directory"
cp "$KK_OUT" "$KB_T/expected"
grep -Eq "file=$(kk_re "$soname") .*dynamically loaded" "$KB_T/kk.err" &&
    ok "cache miss: libldap loaded with dlopen" ||
    not_ok "cache miss: no dlopen of $soname in the loader's trace"

before=$(slapd_count_searches)
kk_env_run LD_DEBUG=files "$conf" alice
check_eq "$KK_RC:$(($(slapd_count_searches) - before))" "0:0" \
    "cache hit: exit 0, no search"
cmp -s "$KK_OUT" "$KB_T/expected"
check_eq "$?" 0 "cache hit: the same keys"
grep -q "file=libc\.so" "$KB_T/kk.err"
check_eq "$?" 0 "cache hit: the loader trace is there (libc seen)"
check_eq "$(grep -Ec 'file=(libldap|liblber|libgnutls|libsasl2)' \
    "$KB_T/kk.err")" 0 "cache hit: no libldap, liblber, GnuTLS or SASL loaded"

for b in $bad_libs; do
	# A hit never loads libldap, so a broken one cannot touch it.
	kk_env_run LD_LIBRARY_PATH=$KB_T/$b "$conf" alice
	check_eq "$KK_RC" 0 "$b libldap: cache hit still exit 0"
	cmp -s "$KK_OUT" "$KB_T/expected"
	check_eq "$?" 0 "$b libldap: cache hit still serves the keys"

	# A miss fails closed: nothing printed, the reason logged.
	c=$KB_T/$b-miss.conf
	kb_write_config "$c" "cache_dir $(newcache)" "cache_ttl 0"
	kk_env_run LD_LIBRARY_PATH=$KB_T/$b "$c" alice
	check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" \
	    "$b libldap, nothing cached: exit 1, nothing printed"
	kk_env_run LD_LIBRARY_PATH=$KB_T/$b "$c" --has-keys alice
	check_eq "$KK_RC" 1 "$b libldap, nothing cached: --has-keys exit 1"
done
kb_syslog_wait "result=unavailable .*cannot load $(kk_re "$soname"): .*file too short" ||
    not_ok "unloadable libldap: reason not logged"
if [ "$bad_libs" != empty ]; then
	kb_syslog_wait "result=unavailable .*libkb-absent\.so" ||
	    not_ok "libldap with a missing dependency: reason not logged"
	kb_syslog_wait "result=unavailable .*$(kk_re "$soname"): symbol [a-z_]+ not found" ||
	    not_ok "libldap without its symbols: reason not logged"
fi

# With answers cached but past cache_ttl: the offline fallback, as for a
# directory that does not answer.
c=$KB_T/offline.conf
kb_write_config "$c" "cache_dir $cdir" "cache_ttl 0" "offline_max_age 3600"
kk_env_run LD_LIBRARY_PATH=$KB_T/empty "$c" alice
check_eq "$KK_RC" 0 "unloadable libldap, cached answer: exit 0"
cmp -s "$KK_OUT" "$KB_T/expected"
check_eq "$?" 0 "unloadable libldap, cached answer: served offline"
kb_syslog_wait "user=alice .*source=cache .*result=offline .*cannot load" ||
    not_ok "offline answer after a failed load not logged"

# The same library code in another program: the printable reason.
T=$KB_BUILD/tests/tools/kb-dirtool
if [ -x "$T" ]; then
	LD_LIBRARY_PATH=$KB_T/empty "$T" -c "$conf" search "$SLAPD_BASE" \
	    '(cn=ka)' cn >"$KB_T/dt.out" 2>"$KB_T/dt.err"
	rc=$?
	[ $rc -ne 0 ] && [ $rc -lt 128 ]
	check_eq "$?" 0 "kb-dirtool, unloadable libldap: fails without a crash ($rc)"
	grep -q "KB_ERR_DIR_UNAVAILABLE: cannot load $soname" "$KB_T/dt.err"
	check_eq "$?" 0 "kb-dirtool, unloadable libldap: reason printed"
	"$T" -c "$conf" search "$SLAPD_BASE" '(cn=ka)' cn >"$KB_T/dt.out"
	check_eq "$?:$(grep -c '^dn: cn=ka,' "$KB_T/dt.out")" "0:1" \
	    "kb-dirtool: search through the loaded libldap"
fi

kb_done
