#!/bin/bash
# admin_config_owner: which keybound.conf and bindpw_file the admin CLI
# accepts when an unprivileged user runs it (setpriv).
#   - owned by root or by the invoking user, not writable by group or
#     others -> accepted;
#   - owned by another non-root user -> exit 2, "owned by uid N, not by
#     root or uid M";
#   - group- or world-writable, even root-owned -> exit 2 (as strict as
#     the -y password file always was);
#   - a bindpw_file named in the config: the invoking user's own 0600
#     file is used for the bind; another user's is refused (exit 2).
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
kb_private_syslog "$@"

command -v setpriv >/dev/null || skip "setpriv not installed"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
slapd_start || fail "slapd did not start"
admin=kbadm$$
other=kbother$$
kb_add_system_user "$admin" || fail "cannot add $admin"
kb_add_system_user "$other" || fail "cannot add $other"
admin_uid=$(id -u "$admin")
other_uid=$(id -u "$other")
# the build tree may not be reachable for other users: a copy in $KB_T
install -d -m 0755 "$KB_T/bin"
install -m 0755 "$KB_BUILD/keybound" "$KB_T/bin/keybound"

# as_admin CONF ARGS...: the CLI as $admin; status in RC, stderr in ERR.
as_admin() {
	local conf=$1
	shift
	ERR=$(setpriv --reuid="$admin_uid" --regid="$(id -g "$admin")" \
	    --clear-groups "$KB_T/bin/keybound" -c "$conf" "$@" 2>&1 >"$KB_T/out")
	RC=$?
}

conf=$KB_T/admin.conf
kb_write_config "$conf"

chown root:root "$conf" && chmod 0644 "$conf"
as_admin "$conf" list
check_eq "$RC" 0 "root-owned 0644 config: accepted"

chown "$admin:" "$conf"
as_admin "$conf" list
check_eq "$RC" 0 "config owned by the invoking user: accepted"

chown "$other:" "$conf"
as_admin "$conf" list
check_eq "$RC" 2 "config owned by another non-root user: exit 2"
case $ERR in
*"$conf: owned by uid $other_uid, not by root or uid $admin_uid"*)
	ok "another user's config: the message names both uids" ;;
*) not_ok "another user's config: message [$ERR]" ;;
esac

chown "$admin:" "$conf" && chmod 0664 "$conf"
as_admin "$conf" list
check_eq "$RC" 2 "own config, group-writable: exit 2"
case $ERR in
*"$conf: writable by group or others (mode 0664)"*)
	ok "group-writable config: clear message" ;;
*) not_ok "group-writable config: message [$ERR]" ;;
esac

chown root:root "$conf" && chmod 0666 "$conf"
as_admin "$conf" list
check_eq "$RC" 2 "root-owned world-writable config: exit 2"
"$KB_BUILD/keybound" -c "$conf" list >/dev/null 2>&1
check_eq "$?" 2 "root-owned world-writable config, run as root: exit 2"
chmod 0644 "$conf"

# --- bindpw_file named in the config --------------------------------------
pw=$KB_T/admin-pw
install -m 0600 -o "$admin" "$SLAPD_ROOTPW_FILE" "$pw"
conf=$KB_T/bind.conf
kb_write_config "$conf" "binddn $SLAPD_ROOTDN" "bindpw_file $pw"
as_admin "$conf" list
check_eq "$RC" 0 "bindpw_file owned by the invoking user: bind works"
install -m 0600 -o "$other" "$SLAPD_ROOTPW_FILE" "$pw"
as_admin "$conf" list
check_eq "$RC" 2 "bindpw_file owned by another user: exit 2"
case $ERR in
*"bindpw_file: owned by uid $other_uid, not by root or uid $admin_uid"*)
	ok "another user's bindpw_file: clear message" ;;
*) not_ok "another user's bindpw_file: message [$ERR]" ;;
esac

kb_done
