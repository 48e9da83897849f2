#!/bin/bash
# config_instance: the `instance` keyword against real host names, each set
# in a private UTS namespace (unshare -u) so the machine's own name is never
# touched: %h is the kernel host name cut at the first dot, %H the whole
# name (no DNS lookup: the names used here resolve nowhere), %m
# /etc/machine-id; a host name that is not a valid instance id refuses the
# default "%h" with an exact message, and an explicit literal still works.
. "$KB_SRC/tests/lib/common.sh"

CONFCHECK=$KB_BUILD/tests/tools/kb-confcheck
[ -x "$CONFCHECK" ] || fail "missing $CONFCHECK (run make)"
[ "$(id -u)" = 0 ] || skip "needs root for unshare -u"
unshare -u true 2>/dev/null || skip "unshare -u not permitted here"
kb_tmpdir

# conf NAME [LINE...]: a minimal config in $KB_T/NAME
conf() {
	local f=$KB_T/$1
	shift
	{
		echo "uri ldaps://ldap.example.com"
		echo "base dc=example,dc=com"
		for l in "$@"; do echo "$l"; done
	} >"$f"
	chmod 0644 "$f"
	echo "$f"
}

# under_host HOSTNAME CONF: kb-confcheck's "instance" line, or its stderr
# and exit status when refused.
under_host() {
	# /proc, not hostname(1), which refuses the invalid names we want
	unshare -u /bin/sh -c \
	    'printf %s "$1" >/proc/sys/kernel/hostname && exec "$2" -o "$3"' sh \
	    "$1" "$CONFCHECK" "$2" >"$KB_T/out" 2>"$KB_T/err"
	echo $? >"$KB_T/rc"
	sed -n 's/^instance //p' "$KB_T/out"
}

def=$(conf default.conf)
short=$(conf short.conf "instance %h")
full=$(conf full.conf "instance %H")
mixed=$(conf mixed.conf "instance web-%h")
literal=$(conf literal.conf "instance fixed-01")

host=kbtest-web01.nonexistent.invalid
check_eq "$(under_host "$host" "$def")" kbtest-web01 "default is %h: cut at the first dot"
check_eq "$(under_host "$host" "$short")" kbtest-web01 "%h: short host name"
check_eq "$(under_host "$host" "$full")" "$host" "%H: the kernel's full host name"
check_eq "$(under_host "$host" "$mixed")" web-kbtest-web01 "web-%h mixes literal and host name"
check_eq "$(under_host "$host" "$literal")" fixed-01 "a literal instance ignores the host name"
check_eq "$(under_host KbTest-Upper "$short")" KbTest-Upper "case is kept as the kernel has it"

# No DNS: a name nobody resolves expands at once.
start=$(kb_ms)
under_host kbtest-nodns.invalid "$full" >/dev/null
elapsed=$(( $(kb_ms) - start ))
[ "$elapsed" -lt 1000 ] && ok "expansion took ${elapsed} ms (no lookup)" ||
    not_ok "expansion took ${elapsed} ms"

# A host name that is not a valid instance id.
bad='kbtest bad!host'
check_eq "$(under_host "$bad" "$def")" "" "invalid host name: no instance"
check_eq "$(cat "$KB_T/rc")" 2 "invalid host name: the default %h is refused"
check_eq "$(head -n 1 "$KB_T/err")" \
    "$def: instance: the host name is not a valid instance id; set instance" \
    "invalid host name: exact message"
under_host "$bad" "$short" >/dev/null
check_eq "$(cat "$KB_T/rc")" 2 "invalid host name: explicit %h refused"
check_eq "$(head -n 1 "$KB_T/err")" \
    "$short:3: instance: not a valid instance id (letters, digits, '.', '_', '-', or %h %H %m)" \
    "invalid host name: exact message for instance %h"
check_eq "$(under_host "$bad" "$literal")" fixed-01 "invalid host name: a literal still works"

# %m: /etc/machine-id, 32 lower-case hex digits.
mid=$(conf mid.conf "instance %m")
if grep -Eqx '[0-9a-f]{32}' /etc/machine-id 2>/dev/null; then
	check_eq "$(under_host kbtest-m "$mid")" "$(cat /etc/machine-id)" "%m: the machine id"
else
	check_eq "$(under_host kbtest-m "$mid")" "" "%m without a valid machine id: refused"
fi

# The machine's own host name is untouched.
check_eq "$(hostname)" "$(uname -n)" "host name outside the namespace unchanged"
kb_done
