#!/bin/bash
# keycmd_lpk: the openssh-lpk profile.  A user entry with two sshPublicKey
# values serves both; two entries for one uid are an error (nothing
# printed, exit 1, logged), not a merge; uid is re-checked byte for byte;
# %f is filtered on our side (no fingerprint attribute).
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
conf=$KB_T/lpk.conf
kb_write_config "$conf" "schema openssh-lpk" "base $SLAPD_PEOPLE" \
    "cache_dir $KB_CACHE_DIR" "cache_ttl 0"

person() {	# person RDN UID KEY...
	local rdn=$1 uid=$2 k
	shift 2
	{
		echo "dn: $rdn,$SLAPD_PEOPLE"
		echo "objectClass: inetOrgPerson"
		echo "objectClass: ldapPublicKey"
		echo "cn: $uid"
		echo "sn: $uid"
		echo "uid: $uid"
		for k in "$@"; do
			printf 'sshPublicKey:: %s\n' "$(printf '%s' "$k" | base64 -w0)"
		done
	} | kk_ldap add
}

kk_keygen l1 && l1_pub=$KK_PUB
kk_keygen l2 ecdsa 384 && l2_pub=$KK_PUB && l2_fp=$KK_FP
person "uid=lpkalice" lpkalice "$l1_pub alice@laptop" \
    "$l2_pub" || fail "add lpkalice"
kk_run "$conf" lpkalice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:2" "two sshPublicKey values: both served"
check_eq "$(grep -c "^$l1_pub keybound:key-" "$KK_OUT"):$(grep -c "^$l2_pub keybound:key-" "$KK_OUT")" \
    "1:1" "both keys, canonical lines, comment replaced"
kk_lines_valid "$KK_OUT"
check_eq "$?" 0 "every line passes ssh-keygen -l"
grep -q 'alice@laptop' "$KK_OUT"
check_eq "$?" 1 "the stored comment is not printed"

before=$(slapd_count_searches)
kk_run "$conf" lpkalice "$l2_fp"
check_eq "$KK_RC:$(grep -c . "$KK_OUT"):$(grep -c "^$l2_pub " "$KK_OUT")" "0:1:1" \
    "%f without a fingerprint attribute: filtered to the one key"
check_eq "$(($(slapd_count_searches) - before))" 1 "%f: one search"
kk_run "$conf" --has-keys lpkalice
check_eq "$KK_RC" 0 "--has-keys lpkalice: 0"

# Two entries for one uid: an error, not a merge.
kk_keygen b1 && b1_pub=$KK_PUB
kk_keygen b2 && b2_pub=$KK_PUB
person "uid=lpkbob" lpkbob "$b1_pub" || fail "add lpkbob"
person "cn=shadow" lpkbob "$b2_pub" || fail "add a second entry for lpkbob"
kk_run "$conf" lpkbob
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "two entries for one uid: exit 1, nothing printed"
kk_run "$conf" --has-keys lpkbob
check_eq "$KK_RC" 1 "two entries for one uid: --has-keys exit 1"
kb_syslog_wait "user=lpkbob instance=test-host source=directory .*result=error error=\"more than one entry matched\"" ||
    not_ok "ambiguous uid not logged"

# uid matching folds case; our re-check does not.
kk_keygen c1
person "uid=LPKCarol" LPKCarol "$KK_PUB" || fail "add LPKCarol"
kk_run "$conf" lpkcarol
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "0:0" "uid differing in case: nothing served"
kk_run "$conf" LPKCarol
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:1" "the exact uid is served"

# Hostile values in sshPublicKey: refused whole.
kk_keygen d1 && d1_pub=$KK_PUB
kk_keygen d2 && d2_pub=$KK_PUB
person "uid=lpkdave" lpkdave "$(printf '%s\ncommand="/bin/sh" %s' "$d1_pub" "$d2_pub")" \
    "command=\"/bin/sh\" $d2_pub" "$d1_pub" || fail "add lpkdave"
kk_run "$conf" lpkdave
check_eq "$KK_RC:$(grep -c . "$KK_OUT"):$(grep -c "^$d1_pub keybound:key-" "$KK_OUT")" "0:1:1" \
    "hostile sshPublicKey values refused, the clean one served"

# The whole path through sshd, with the lpk profile.
u=lpke$$
kb_make_user "$u" || fail "useradd"
kk_keygen e1
person "uid=$u" "$u" "$KK_PUB" || fail "add $u"
sshd_start "$conf" || fail "sshd did not start"
out=$(kb_ssh_key_login "$u" "$KB_T/e1" id -un)
check_eq "$?:$out" "0:$u" "openssh-lpk key logs in through sshd"
kb_ssh_key_login "$u" "$KB_T/l1" 2>/dev/null
check_eq "$?" 255 "another user's lpk key is refused"

kb_done
