#!/bin/bash
# admin_tty: keybound -W prompts for the bind password on the terminal
# (a pseudo-terminal driven by python3), with echo off; a wrong password
# changes nothing; without a terminal -W fails at once instead of hanging.
# (Not under kb_private_syslog: that namespace's /dev has no usable ptmx.)
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
python3 -c 'import os; os.openpty()' 2>/dev/null ||
    skip "no pseudo-terminals here"
kb_tmpdir
slapd_start || fail "slapd did not start"
conf=$KB_T/kb.conf
kb_write_config "$conf"
K=$KB_T/keys
mkdir -m 0700 "$K"

attr() {
	LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_LDAPI_URI" \
	    -b "cn=$1,$SLAPD_BASE" -s base "$2" 2>/dev/null |
	    sed -n "s/^$2: //p"
}
"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" \
    -y "$SLAPD_ROOTPW_FILE" create kimp1 -o "$K/kimp1" >/dev/null ||
    fail "create"

# --- -W: prompt on the terminal, no echo ------------------------------------
tty_run() {
	python3 - "$@" <<'PY'
import os, pty, sys, time, select
pw = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
out = b""
sent = False
deadline = time.time() + 20
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if not sent and b"Password:" in out:
        lim = os.environ.get("KB_CORE_LIMIT_OUT")
        if lim:
            with open("/proc/%d/limits" % pid) as f, open(lim, "w") as o:
                o.write("".join(l for l in f if l.startswith("Max core")))
        time.sleep(0.1)
        os.write(fd, pw + b"\n")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 99)
PY
}
pw=$(cat "$SLAPD_ROOTPW_FILE")
out=$(KB_CORE_LIMIT_OUT=$KB_T/core-limit tty_run "$pw" "$KB_BUILD/keybound" \
    -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" -W set kimp1 \
    --description via-tty)
check_eq "$?" 0 "-W reads the password from the terminal"
check_eq "$(awk '{print $5, $6}' "$KB_T/core-limit")" "0 0" \
    "no core file while the password is in memory"
case $out in *"$pw"*) not_ok "-W echoed the password" ;; *) ok "-W does not echo" ;; esac
check_eq "$(attr kimp1 description)" via-tty "-W bind could write"
tty_run "wrong-$pw" "$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" \
    -D "$SLAPD_ROOTDN" -W set kimp1 --description nope >/dev/null
check_eq "$?" 5 "-W with a wrong password: bind refused, exit 5"
check_eq "$(attr kimp1 description)" via-tty "wrong password changed nothing"
"$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" -W \
    list </dev/null >/dev/null 2>&1 &
wpid=$!
sleep 3 && kill $wpid 2>/dev/null && not_ok "-W without a terminal hangs"
wait $wpid
check_eq "$?" 1 "-W without a terminal: exit 1"

kb_done
