#!/bin/bash
# keycmd_config_trust: configs keybound-keys must refuse with exit 2 and a
# clear message, and the ones it must accept.
#   - key_filter with %u or %i in a ~=, >=, <= or extensible-match item
#     (never re-checked byte for byte) -> exit 2, also for --has-keys;
#   - run as the command user (setpriv, as sshd does): a keybound.conf
#     owned by that user -> exit 2 ("owned by uid N, not by root"); the
#     same file owned by root -> keys served; group/world-writable ->
#     exit 2;
#   - a bindpw_file owned by the command user -> exit 2 ("bindpw_file:
#     ... not by root"), whether keybound-keys runs as that user or is
#     started as root (and drops to it); owned by root, 0640 in the
#     command user's group -> keys served.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

command -v setpriv >/dev/null || skip "setpriv not installed"
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
kk_keygen ka || fail "keygen"
kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add ka"
cmd_uid=$(id -u "$KB_CMD_USER")
cmd_gid=$(id -g "$KB_CMD_USER")

# as_cmd_user CONF ARGS...: keybound-keys as sshd runs it (kk_as_cmd);
# stdout in $KK_OUT, status in KK_RC.
as_cmd_user() {
	local conf=$1
	shift
	KK_OUT=$KB_T/kk.out
	kk_as_cmd -c "$conf" "$@" </dev/null >"$KK_OUT" 2>"$KB_T/kk.err"
	KK_RC=$?
}

# --- key_filter items the re-check cannot cover ---------------------------
base_filter='(&(objectClass=keyboundKeyPair)(keyboundAttachment=%u@%i)'
conf=$KB_T/filter-ok.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "key_filter $base_filter)"
kk_run "$conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:1" "plain equality key_filter: key served"
n=0
for item in '(cn~=%u)' '(cn>=%i)' '(cn<=%u)' '(cn:caseExactMatch:=%i)' \
    '(:dn:2.5.13.5:=%u)'; do
	n=$((n + 1))
	conf=$KB_T/filter-$n.conf
	kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
	    "key_filter $base_filter$item)"
	kk_run "$conf" alice
	check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "key_filter with $item: exit 2, nothing printed"
	kk_run "$conf" --has-keys alice
	check_eq "$KK_RC" 2 "key_filter with $item: --has-keys exit 2"
	kb_syslog_wait "$(kk_re "$conf"):[0-9]+: key_filter: %u and %i only in 1 to 4 attr=value items" ||
	    not_ok "key_filter with $item: no config message in syslog"
done

# --- who may own keybound.conf --------------------------------------------
conf=$KB_T/owner.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0"
chown root:root "$conf"
as_cmd_user "$conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:1" "root-owned config, run as the command user: key served"
as_cmd_user "$conf" --has-keys alice
check_eq "$KK_RC" 0 "root-owned config, run as the command user: --has-keys 0"

chown "$KB_CMD_USER:" "$conf"
as_cmd_user "$conf" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "config owned by the command user, run as it: exit 2, nothing printed"
as_cmd_user "$conf" --has-keys alice
check_eq "$KK_RC" 2 "config owned by the command user: --has-keys exit 2"
kb_syslog_wait "$(kk_re "$conf"): owned by uid $cmd_uid, not by root" ||
    not_ok "config owned by the command user: no clear message"
kk_run "$conf" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "config owned by the command user, started as root: exit 2"

chown root:root "$conf" && chmod 0664 "$conf"
as_cmd_user "$conf" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "root-owned group-writable config: exit 2"
kb_syslog_wait "$(kk_re "$conf"): writable by group or others \(mode 0664\)" ||
    not_ok "group-writable config: no clear message"
chmod 0644 "$conf"

# --- who may own bindpw_file ----------------------------------------------
pw=$KB_T/bindpw
install -m 0640 -o root -g "$cmd_gid" "$SLAPD_ROOTPW_FILE" "$pw"
conf=$KB_T/bindpw.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "binddn $SLAPD_ROOTDN" "bindpw_file $pw"
as_cmd_user "$conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:1" "bindpw_file 0640 root:<command group>: key served"
kk_run "$conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:1" "bindpw_file 0640 root:<command group>, started as root: key served"

chown "$KB_CMD_USER:" "$pw" && chmod 0600 "$pw"
as_cmd_user "$conf" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "bindpw_file owned by the command user, run as it: exit 2, nothing printed"
as_cmd_user "$conf" --has-keys alice
check_eq "$KK_RC" 2 "bindpw_file owned by the command user: --has-keys exit 2"
kb_syslog_wait "$(kk_re "$conf"):[0-9]+: bindpw_file: owned by uid $cmd_uid, not by root" ||
    not_ok "bindpw_file owned by the command user: no clear message"
kk_run "$conf" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "bindpw_file owned by the command user, started as root: exit 2"

kb_done
