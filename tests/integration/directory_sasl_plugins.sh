#!/bin/bash
# directory_sasl_plugins.sh - the directory client loads no Cyrus SASL
# plugin: not the system's (start-up cost on every login) and not one from
# a directory an inherited $SASL_PATH names (code injection); SASL
# EXTERNAL still works without them.
: "${KB_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

T=$KB_BUILD/tests/tools/kb-dirtool
[ -x "$T" ] || fail "kb-dirtool not built"
command -v cc >/dev/null || skip "no C compiler for the planted plugin"
kb_tmpdir
slapd_start || fail "slapd did not start"
kb_write_config "$KB_T/kb.conf"
kb_write_config "$KB_T/ext.conf" "uri $SLAPD_LDAPI_URI" "sasl_mech EXTERNAL"

# A planted "plugin" whose constructor leaves a mark when loaded.
mkdir -p "$KB_T/plugins"
cat >"$KB_T/plant.c" <<EOF
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void
planted(void)
{
	int fd = open("$KB_T/LOADED", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}
EOF
cc -shared -fPIC -o "$KB_T/plugins/libplanted.so" "$KB_T/plant.c" ||
    fail "cannot build the planted plugin"

# Control: the ldap-utils load it from \$SASL_PATH.
SASL_PATH=$KB_T/plugins LDAPNOINIT=1 ldapwhoami -x -H "$SLAPD_URI" \
    >/dev/null 2>&1
[ -e "$KB_T/LOADED" ] && ok "control: ldapwhoami loads plugins from SASL_PATH" ||
    skip "this libldap does not load SASL plugins from SASL_PATH"
rm -f "$KB_T/LOADED"

for conf in kb.conf ext.conf; do
	SASL_PATH=$KB_T/plugins LD_DEBUG=files "$T" -c "$KB_T/$conf" search \
	    "$SLAPD_SUFFIX" '(ou=people)' ou >"$KB_T/out" 2>"$KB_T/ld.log"
	check_eq "$?" 0 "$conf: search works"
	grep -q '^dn: ou=people' "$KB_T/out" && ok "$conf: data" ||
	    not_ok "$conf: no data"
	[ -e "$KB_T/LOADED" ] && not_ok "$conf: planted plugin was loaded" ||
	    ok "$conf: planted plugin from SASL_PATH not loaded"
	check_eq "$(grep -c 'file=.*sasl2/' "$KB_T/ld.log")" 0 \
	    "$conf: no system SASL plugin loaded"
done
grep -q 'mech=EXTERNAL' "$SLAPD_LOG" && ok "EXTERNAL bind reached slapd" ||
    not_ok "no EXTERNAL bind in slapd's log"

kb_done
