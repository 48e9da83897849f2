#!/bin/bash
# keycmd_hostile_users: hostile user names (filter metacharacters, \2a,
# empty, 256 B / 4 KiB / 64 KiB, leading -, invalid UTF-8, control bytes)
# print nothing and return the documented exit code (2 for a name that
# fails validation, 0 with no lines for a valid name nobody has), while a
# decoy user with keys exists and is never matched.  Invalid names never
# reach the directory, and no name forges a log field or line.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0"

kk_keygen decoy && decoy_b64=${KK_PUB#* }
kk_add_keypair decoy "$KK_PUB" "$KK_FP" "decoy@test-host" \
    "decoy@other" || fail "add decoy"
kk_run "$conf" decoy
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:1" "the decoy itself is served"

long() { head -c "$1" /dev/zero | tr '\0' "${2:-a}"; }

# label TAB printf-%b name TAB expected exit status
cases=$(cat <<'EOF'
star	*	0
star-uid	*)(uid=*	0
star-attach	*)(keyboundAttachment=*	0
prefix-star	decoy*	0
inner-star	d*y	0
escaped-star	\\2a	0
decoy-escaped-star	decoy\\2a	0
escaped-backslash	\\5c2a	0
open-paren	(	0
close-paren	)	0
backslash	\\	0
or-injection	decoy)(objectClass=*	0
or-filter	*)(|(cn=*)	0
amp	&	0
bang	!	0
full-attachment	decoy@test-host	0
at-star	decoy@*	0
upper	DECOY	0
capital	Decoy	0
utf8	d\xc3\xa9coy	0
fullwidth-star	decoy\xef\xbc\x8a	0
percent-u	decoy%u	0
format	%s%n%x%i	0
inner-space	de coy	0
dotdot	..	0
path	/etc/passwd	0
subst	$(id)	0
backtick	`id`	0
semicolon	decoy;rm -rf /	0
tilde	~decoy	0
nul-escape	decoy\\00	0
quote	decoy"	0
ldap-url	ldap://evil/	0
dash	-	2
dash-name	-decoy	2
dash-c	-c	2
leading-space	 decoy	2
trailing-space	decoy 	2
tab	decoy\t	2
newline	decoy\n	2
newline-forge	decoy\nkeybound-keys: user=root result=ok	2
cr	decoy\r	2
esc	\x1b[31mdecoy	2
del	decoy\x7f	2
soh	\x01	2
invalid-utf8	decoy\xff	2
truncated-utf8	decoy\xc3	2
overlong-utf8	\xc0\xafdecoy	2
surrogate-utf8	\xed\xa0\x80	2
EOF
)

base_searches=$(slapd_count_searches)
valid_searches=0
run_case() {
	local label=$1 name=$2 want=$3 hk_want
	kk_run "$conf" "$name"
	check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "$want:0" "user $label: exit $want, nothing printed"
	hk_want=$([ "$want" = 0 ] && echo 3 || echo "$want")
	kk_run "$conf" --has-keys "$name"
	check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "$hk_want:0" "--has-keys $label: exit $hk_want"
	[ "$want" = 0 ] && valid_searches=$((valid_searches + 2))
}

n=0
while IFS=$'\t' read -r label spec want; do
	[ -n "$label" ] || continue
	name=$(printf '%b_' "$spec")
	name=${name%_}
	run_case "$label" "$name" "$want"
	n=$((n + 1))
done <<<"$cases"
run_case "empty" "" 2
run_case "256B" "$(long 256)" 0
run_case "256B-multibyte" "$(long 85 x)$(printf '\xc3\xa9')" 0
run_case "257B" "$(long 257)" 2
run_case "4KiB" "$(long 4096)" 2
run_case "64KiB" "$(long 65536)" 2
run_case "64KiB-stars" "$(long 65536 '*')" 2
n=$((n + 7))
[ "$n" -ge 40 ]
check_eq "$?" 0 "at least 40 hostile names ($n)"

# each lookup is two searches: this instance's host groups, then the keys
check_eq "$(($(slapd_count_searches) - base_searches))" "$((2 * valid_searches))" \
    "only valid names reached the directory"
grep "SRCH base=\"$SLAPD_BASE\"" "$SLAPD_LOG" |
    grep -Ev "filter=\"\(&\(objectClass=keyboundKeyPair\)\(\??keyboundAttachment=" |
    grep -v 'filter="(&(objectClass=keyboundHostGroup)(keyboundMember=test-host))"$' |
    grep -c . | grep -qx 0
check_eq "$?" 0 "every filter kept its shape"
grep "SRCH base=" "$SLAPD_LOG" | sed -n 's/.*keyboundAttachment=\(.*\)@test-host))"$/\1/p' |
    grep '[*()]' | grep -c . | grep -qx 0
check_eq "$?" 0 "no unescaped metacharacter reached a filter"

# Logs: names are escaped; no raw control byte, no forged line or field.
kb_syslog_wait 'keybound-keys\[[0-9]+\]: user="decoy\\\\x0akeybound-keys: user=root result=ok" result=invalid-user' ||
    not_ok "newline in a user name not escaped in the log"
grep 'keybound-keys\[' "$KB_SYSLOG" | grep -E '(^|[^\\])\\x[0-9a-f]{2}' | grep -c . | grep -qx 0
check_eq "$?" 0 "no raw control byte in any keybound-keys log line"
grep -E 'keybound-keys\[[0-9]+\]: keybound-keys:|^keybound-keys: user=root' "$KB_SYSLOG" | grep -c . | grep -qx 0
check_eq "$?" 0 "no forged log line"
maxlen=$(grep 'keybound-keys\[' "$KB_SYSLOG" | awk '{ if (length($0) > m) m = length($0) } END { print m }')
[ "$maxlen" -lt 1200 ]
check_eq "$?" 0 "log lines stay bounded (longest $maxlen)"

kk_run "$conf" decoy
check_eq "$KK_RC:$(grep -c "$decoy_b64" "$KK_OUT")" "0:1" "the decoy is still served"

kb_done
