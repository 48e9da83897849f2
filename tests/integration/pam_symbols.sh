#!/bin/bash
# pam_symbols: pam_keybound.so exports only the PAM entry points, loads with
# RTLD_NOW (every symbol resolved), and links neither libldap nor libcrypto
# into the host process (the module runs keybound-keys instead).
. "$KB_SRC/tests/lib/common.sh"

so=$KB_BUILD/pam_keybound.so
[ -f "$so" ] || fail "$so not built"

syms=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
check_eq "$syms" "pam_sm_authenticate pam_sm_setcred " \
    "nm -D --defined-only lists only pam_sm_authenticate and pam_sm_setcred"

out=$("$KB_BUILD/tests/tools/kb-pamtest" -D "$so")
check_eq "$out" "dlopen ok" "dlopen RTLD_NOW finds both entry points"

needed=$(readelf -d "$so" | awk '/NEEDED/ {print $5}' | tr -d '[]' |
    sort | tr '\n' ' ')
case "$needed" in
*ldap* | *lber* | *crypto* | *ssl* | *gnutls* | *sasl*)
	not_ok "module links a directory or crypto library: $needed" ;;
*libpam.so*) ok "module needs only libpam and libc ($needed)" ;;
*) not_ok "module does not link libpam: $needed" ;;
esac

readelf -d "$so" | grep -Eq 'FLAGS.*NOW' && ok "bound now (-z now)" ||
    not_ok "module not linked with -z now"
readelf -lW "$so" | grep -q GNU_RELRO && ok "RELRO segment" ||
    not_ok "no RELRO segment"
readelf -lW "$so" | grep GNU_STACK | grep -q RWE &&
    not_ok "executable stack" || ok "stack not executable"

kb_done
