#!/bin/bash
# deploy_readme.sh - the README's deployment, followed literally, works.
#
# Every fenced block of README.md whose info string is "sh deploy-..." is
# run as written, in README order, as root, from the top of the source
# tree, against a stock-Debian-layout slapd (cn=config built from the
# slapd package's own /usr/share/slapd/slapd.init.ldif, suffix
# dc=example,dc=com, ldapi:/// at its default path) and the system's own
# sshd with Debian's /etc/ssh/sshd_config and /etc/pam.d/sshd.  The only
# change made to the blocks: the directory's name "ldap1.example.com"
# becomes "127.0.0.1:PORT" (the test's slapd; its certificate is for
# that address).  The deployment then has to work: anonymous clients see no
# key pair, the CLI writes as the README's admin identity, key login
# works, password login is refused while attached and works after detach.
#
# Nothing of this touches the host: the script runs in a private mount
# namespace (kb_private_syslog) in which /etc, /usr/local, the PAM module
# directory and /var/cache are overlays whose changes live in $KB_T, and
# /run and /var/lib/ldap are fresh tmpfs.  The syslog lines the run
# produced (sshd, pam_keybound, keybound-keys) are then fed to fail2ban-
# regex with config-examples/fail2ban/: the filter must match exactly the
# refusals that carry a client address, and nothing else.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/ca.sh"

[ "$(id -u)" = 0 ] || skip "needs root (slapd, sshd, users, mounts)"
for t in slapd slapadd slappasswd ldapadd ldapmodify ldappasswd sshd \
    sshpass systemd-sysusers; do
	command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
	    skip "$t not installed (make deps)"
done
[ -f /usr/share/slapd/slapd.init.ldif ] ||
    skip "no /usr/share/slapd/slapd.init.ldif (Debian's slapd package)"
[ -f /etc/pam.d/sshd ] && [ -f /etc/ssh/sshd_config ] ||
    skip "no Debian sshd configuration (openssh-server)"
kb_private_syslog "$@"
# sshpass needs a pty: terminals of our own in the private /dev.
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 kbpts /dev/pts &&
    mount --bind /dev/pts/ptmx /dev/ptmx || fail "no private devpts"

README=$KB_SRC/README.md
PAMDIR=$(pkg-config --variable=libdir pam 2>/dev/null || echo /lib)/security

# --- the throwaway Debian machine ---------------------------------------------
n_ov=0
overlay() {	# overlay DIR: writes to DIR land in $KB_T, the host's stay
	n_ov=$((n_ov + 1))
	mkdir -p "$KB_T/ov$n_ov/up" "$KB_T/ov$n_ov/work" || return 1
	mount -t overlay "kbov$n_ov" -o "lowerdir=$1,upperdir=$KB_T/ov$n_ov/up,workdir=$KB_T/ov$n_ov/work" "$1" ||
	    return 1
	kb_on_exit "umount -l '$1'"
}
for d in /etc /usr/local "$PAMDIR" /var/cache; do
	overlay "$d" || fail "cannot overlay $d"
done
for d in /run /var/lib/ldap; do
	mount -t tmpfs -o mode=0755 kbtmp "$d" || fail "cannot mount tmpfs on $d"
	kb_on_exit "umount -l '$d'"
done
mkdir -m 0755 /run/sshd /run/slapd || fail "no /run/sshd, /run/slapd"
export HOME=$KB_T/home PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -m 0700 "$HOME" || fail "no home"
cp /etc/pam.d/sshd "$KB_T/pam-sshd.orig"

# The slapd package's own initial cn=config and base entry, as its
# postinst makes them (debconf: domain example.com, an admin password).
rm -rf /etc/ldap/slapd.d && mkdir -m 0755 /etc/ldap/slapd.d ||
    fail "no /etc/ldap/slapd.d"
(umask 077 && openssl rand -hex 16 >"$KB_T/admin.pw")
hash=$(slappasswd -T "$KB_T/admin.pw") || fail "slappasswd failed"
sed -e 's/@SUFFIX@/dc=example,dc=com/g' -e "s|@PASSWORD@|$hash|g" \
    /usr/share/slapd/slapd.init.ldif >"$KB_T/init.ldif"
grep -q '@[A-Z_]*@' "$KB_T/init.ldif" &&
    fail "slapd.init.ldif has placeholders this test does not know"
slapadd -n 0 -F /etc/ldap/slapd.d -l "$KB_T/init.ldif" >"$KB_T/slapadd.log" 2>&1 ||
    { cat "$KB_T/slapadd.log" >&2; fail "slapadd of Debian's cn=config failed"; }
printf 'dn: dc=example,dc=com\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: example.com\ndc: example\n' |
    slapadd -n 1 -F /etc/ldap/slapd.d >>"$KB_T/slapadd.log" 2>&1 ||
    fail "slapadd of the base entry failed"
port=$(kb_free_port) || fail "no free port"
/usr/sbin/slapd -d stats -F /etc/ldap/slapd.d \
    -h "ldap://127.0.0.1:$port/ ldapi:///" </dev/null >"$KB_T/slapd.log" 2>&1 &
slapd_pid=$!
kb_kill_at_exit "$slapd_pid"
for _ in $(seq 1 200); do
	ldapwhoami -Y EXTERNAL -H ldapi:/// >/dev/null 2>&1 && break
	kill -0 "$slapd_pid" 2>/dev/null || break
	sleep 0.05
done
ldapwhoami -Y EXTERNAL -H ldapi:/// >/dev/null 2>&1 ||
    { tail "$KB_T/slapd.log" >&2; fail "Debian-layout slapd did not start"; }

# What step 2 expects from "your CA": in root's home on the server.
kb_make_ca "$KB_T/ca" ca && kb_make_cert "$KB_T/ca" ca server \
    "DNS:localhost,IP:127.0.0.1" || fail "no certificates"
cp "$KB_T/ca/ca.crt" "$HOME/ca.pem" && cp "$KB_T/ca/server.crt" "$HOME/server.pem" &&
    cp "$KB_T/ca/server.key" "$HOME/server.key" || fail "cannot stage certificates"

# The system's sshd with Debian's configuration, on a free loopback port.
SSHD_PORT=$(kb_free_port) || fail "no free port"
export SSHD_PORT
/usr/sbin/sshd -D -p "$SSHD_PORT" -o ListenAddress=127.0.0.1 </dev/null \
    >"$KB_T/sshd.out" 2>&1 &
sshd_pid=$!
kb_kill_at_exit "$sshd_pid"
kb_syslog_wait "sshd\\[$sshd_pid\\]: Server listening on 127.0.0.1 port $SSHD_PORT" 10 ||
    { cat "$KB_T/sshd.out" >&2; fail "sshd did not start"; }
[ "$(cat /run/sshd.pid 2>/dev/null)" = "$sshd_pid" ] ||
    fail "sshd did not write /run/sshd.pid"

# A real user with a password, as on any machine.
alice_pw="Kb-$$-secret-pw"
# add_user NAME: a login user with $alice_pw.  useradd's lock file
# (/etc/passwd.lock) is the host's, seen through the overlay: another test
# adding a user holds it for a moment.
add_user() {
	local _ hash
	hash=$(printf '%s\n' "$alice_pw" | openssl passwd -6 -stdin) || return 1
	for _ in $(seq 1 100); do
		useradd -M -d / -s /bin/sh -p "$hash" "$1" 2>"$KB_T/useradd.err" &&
		    return 0
		grep -q 'lock' "$KB_T/useradd.err" || break
		sleep 0.1
	done
	cat "$KB_T/useradd.err" >&2
	return 1
}
add_user alice || fail "cannot create alice"

# --- the README's blocks, as written ---------------------------------------------
awk -v dir="$KB_T/blocks" '
	/^```sh deploy-/ { n++; kind = substr($2, 8); f = sprintf("%s/%02d-%s.sh", dir, n, kind); inb = 1; next }
	/^```/ && inb { inb = 0; close(f); next }
	inb { print > f }
' < <(mkdir -p "$KB_T/blocks" && cat "$README")
blocks=$(ls "$KB_T/blocks")
kinds=$(printf '%s\n' "$blocks" | sed 's/^[0-9]*-//; s/\.sh$//' | sort | uniq -c |
    awk '{printf "%s=%s ", $2, $1}')
check_eq "$kinds" "directory=3 instance=5 verify=1 " \
    "README marks its deployment blocks (sh deploy-directory/-instance/-verify)"
grep -q 'ldap1\.example\.com' "$KB_T"/blocks/*instance.sh ||
    not_ok "no block names ldap1.example.com: the substitution would do nothing"
sed -i "s/ldap1\\.example\\.com/127.0.0.1:$port/g" "$KB_T"/blocks/*.sh
# Every LDIF shipped for the directory is loaded by these blocks.
ldifs="config.ldif entries.ldif tls.ldif"
check_eq "$(cd "$KB_SRC/config-examples/directory" && ls | tr '\n' ' ')" "$ldifs " \
    "config-examples/directory holds $ldifs"
for f in $ldifs; do
	grep -q "config-examples/directory/$f" "$KB_T"/blocks/*directory.sh &&
	    ok "the README loads config-examples/directory/$f" ||
	    not_ok "config-examples/directory/$f is shipped but the README never loads it"
done

# A root shell's environment, nothing of the harness's (no MAKEFLAGS, no
# KB_* variables).
as_root() {
	env -i HOME="$HOME" PATH="$PATH" LANG=C.UTF-8 USER=root LOGNAME=root \
	    SHELL=/bin/bash TERM=dumb "$@"
}
cd "$KB_SRC" || fail "no source tree"
for b in $blocks; do
	case $b in
	*-verify.sh)
		as_root bash "$KB_T/blocks/$b" >"$KB_T/$b.out" 2>&1
		got="$(grep -c '^exit 0$' "$KB_T/$b.out"):$(grep -vc '^exit ' "$KB_T/$b.out")"
		check_eq "$got" "2:0" \
		    "README $b: keybound-keys answers, nothing attached yet"
		[ "$got" = 2:0 ] || sed 's/^/    > /' "$KB_T/$b.out" >&2
		;;
	*)
		if as_root bash -e "$KB_T/blocks/$b" >"$KB_T/$b.out" 2>&1; then
			ok "README $b ran: $(grep -c . "$KB_T/blocks/$b") lines"
		else
			not_ok "README $b failed:"
			sed 's/^/    | /' "$KB_T/blocks/$b" >&2
			sed 's/^/    > /' "$KB_T/$b.out" >&2
			fail "the README's deployment does not work as written"
		fi
		;;
	esac
done

# --- what the deployment must have produced ---------------------------------------
check_eq "$(stat -c '%U:%G %a' /etc/keybound/bindpw)" "root:keybound 640" \
    "bindpw is 0640 root:keybound"
check_eq "$(stat -c '%U:%G %a' /var/cache/keybound)" "keybound:keybound 700" \
    "the cache directory is 0700 keybound"
[ -e "$HOME/keybound-reader.pw" ] && not_ok "the reader's password file was left in ~" ||
    ok "the reader's password file is gone from ~"
check_eq "$(grep -nE '^(auth|@include common-auth)' /etc/pam.d/sshd | head -n 1 | cut -d: -f2-)" \
    "auth       required     pam_keybound.so" "pam_keybound.so is first in sshd's auth stack"
# The PAM block prints what the README says it shows.
pam_out=$(grep -l 'pam_keybound' "$KB_T"/blocks/*instance.sh | tail -n 1)
shows=$(sed -n '/^which shows$/,/^[^ ]/p' "$README" | sed -n 's/^    //p')
check_eq "$(cat "$KB_T/$(basename "$pam_out").out")" "$shows" \
    "the PAM line block prints what the README shows"
kb_syslog_wait "sshd\\[$sshd_pid\\]: Received SIGHUP" 5 &&
    ok "sshd was reloaded through /run/sshd.pid" || not_ok "sshd got no SIGHUP"
# after the re-exec sshd listens again
for _ in $(seq 1 100); do
	[ "$(grep -c "sshd\\[$sshd_pid\\]: Server listening on 127.0.0.1 port $SSHD_PORT" "$KB_SYSLOG")" -ge 2 ] && break
	sleep 0.05
done
kb_wait_port "$SSHD_PORT" 5 || fail "sshd does not listen after the reload"

# Anonymous clients see no key pair (the access rule of step 1).
anon() {
	ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -b ou=keypairs,dc=example,dc=com \
	    dn 2>/dev/null | grep -c '^dn:'
}

# The administrator identity of step 1 writes, through the instance's
# keybound.conf (StartTLS to localhost, verified against ca.pem).
admin="-D cn=keybound-admin,ou=services,dc=example,dc=com -y $HOME/keybound-admin.pw"
inst=$(hostname -s)
# shellcheck disable=SC2086
keybound $admin create alice-key -o "$KB_T/alice.key" >"$KB_T/cli.out" 2>&1 &&
    keybound $admin attach alice-key "alice@$inst" >>"$KB_T/cli.out" 2>&1 &&
    ok "the CLI creates and attaches as cn=keybound-admin" ||
    { cat "$KB_T/cli.out" >&2; grep -i tls "$KB_T/slapd.log" | tail -5 >&2
      fail "the README's admin identity cannot write"; }
check_eq "$(anon)" 0 "anonymous search sees no key pair"
check_eq "$(ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" \
    -D cn=keybound-reader,ou=services,dc=example,dc=com -y /etc/keybound/bindpw \
    -b ou=keypairs,dc=example,dc=com '(objectClass=keyboundKeyPair)' dn 2>/dev/null |
    grep -c '^dn:')" 1 "the reader identity sees the key pair"
keybound -D cn=keybound-reader,ou=services,dc=example,dc=com \
    -y /etc/keybound/bindpw create intruder -o "$KB_T/x.key" >/dev/null 2>&1 &&
    not_ok "the reader identity could write" || ok "the reader identity cannot write"

# Attached: within cache_ttl (10 s) the verify block's cached "nothing
# attached" gives way.
has_keys() { keybound-keys --has-keys alice >/dev/null 2>&1; echo $?; }
wait_has_keys() {	# wait_has_keys STATUS: poll for up to 10 s + margin
	local _
	for _ in $(seq 1 150); do
		[ "$(has_keys)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_has_keys 0 && ok "attached: --has-keys says so within cache_ttl" ||
    not_ok "attached: --has-keys never said 0"
kb_ssh_key_login alice "$KB_T/alice.key" >"$KB_T/ssh.out" 2>&1 &&
    ok "key login as alice works" ||
    { not_ok "key login as alice failed"; cat "$KB_T/ssh.out" >&2; }
for try in 1 2; do
	kb_ssh_password_login alice "$alice_pw" password >"$KB_T/ssh.out" 2>&1 &&
	    not_ok "password login $try worked while attached" ||
	    ok "password login $try refused while attached"
done
kb_ssh_password_login "nosuch$$" whatever password >/dev/null 2>&1 &&
    not_ok "login as a user that does not exist worked" ||
    ok "login as a user that does not exist refused"
# a name no account can have (trailing space): refused before any lookup
kb_ssh_password_login "kbsp$$ " whatever password >/dev/null 2>&1 &&
    not_ok "login as an invalid user name worked" ||
    ok "login as an invalid user name refused"

# shellcheck disable=SC2086
keybound $admin detach alice-key --all >/dev/null 2>&1 ||
    not_ok "detach failed"
wait_has_keys 3 && ok "detached: --has-keys says so within cache_ttl" ||
    not_ok "detached: --has-keys never said 3"
kb_ssh_password_login alice "$alice_pw" password >"$KB_T/ssh.out" 2>&1 &&
    ok "password login works again after detach" ||
    { not_ok "password login refused after detach"; cat "$KB_T/ssh.out" >&2; }
kb_ssh_key_login alice "$KB_T/alice.key" >/dev/null 2>&1 &&
    not_ok "key login works after detach" || ok "key login refused after detach"
# shellcheck disable=SC2086
keybound $admin delete alice-key >/dev/null 2>&1 || not_ok "delete failed"

# The troubleshooting entry for a password file the keybound group cannot
# read: for a user nothing is cached for, keybound-keys says why and the
# PAM module refuses (on_error=deny), which fail2ban must not count.
add_user "kbbob$$" || fail "cannot create kbbob$$"
chgrp root /etc/keybound/bindpw
kb_ssh_password_login "kbbob$$" "$alice_pw" password >/dev/null 2>&1 &&
    not_ok "password login worked with an unreadable bindpw_file" ||
    ok "unreadable bindpw_file: password login refused (on_error=deny)"
chgrp keybound /etc/keybound/bindpw
kb_syslog_wait "pam_keybound\\(sshd:auth\\): user=kbbob$$ decision=unavailable reason=helper-exit=1 " 5 &&
    ok "pam_keybound logs reason=helper-exit=1, as the README says" ||
    not_ok "no decision=unavailable reason=helper-exit=1 line"
line=$(grep "keybound-keys\[[0-9]*\]: user=kbbob$$ .*mode=has-keys" "$KB_SYSLOG" | tail -n 1)
readme_says=$(grep -o 'result=[a-z]* [^`]*cannot read bindpw_file[^`]*' "$README" | head -n 1)
[ -n "$readme_says" ] || not_ok "README's troubleshooting has no bindpw_file entry"
printf '%s\n' "$line" | grep -qF -- "$readme_says" &&
    ok "keybound-keys logs what the README says: ${line#*: }" ||
    not_ok "keybound-keys logs [${line#*: }], README says [$readme_says]"

# --- fail2ban on the lines this run produced --------------------------------------
# As rsyslog writes them to /var/log/auth.log: "DATE HOST TAG[PID]: MSG"
# (no raw control byte reaches the sink here: every value is escaped).
kb_syslog_wait 'pam_keybound\(sshd:auth\): user=alice decision=ignore' 5 ||
    not_ok "no decision=ignore line after the detach"
sed -nE "s/^<[0-9]+>([A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}) /\\1 $inst /p" \
    "$KB_SYSLOG" | grep -E ' (sshd|keybound-keys|keybound)\[' |
    sed 's/\\\\/\\/g' >"$KB_T/auth.log"	# the sink writes a backslash as \\
deny_rhost=$(grep -c 'pam_keybound(sshd:auth): .* decision=deny .*rhost=127\.0\.0\.1$' "$KB_T/auth.log")
check_eq "$deny_rhost" 4 \
    "pam_keybound logged 4 refusals with rhost= (2 attached, 1 unknown user, 1 invalid name)"
grep 'pam_keybound' "$KB_T/auth.log" | sed 's/^/    /'
if ! command -v fail2ban-regex >/dev/null; then
	not_ok "fail2ban-regex not installed (make deps)"
else
	cp -a /etc/fail2ban "$KB_T/f2b" &&
	    cp "$KB_SRC/config-examples/fail2ban/filter.d/keybound.conf" "$KB_T/f2b/filter.d/" &&
	    cp "$KB_SRC/config-examples/fail2ban/jail.d/keybound.conf" "$KB_T/f2b/jail.d/" ||
	    fail "cannot stage the fail2ban configuration"
	fail2ban-regex -c "$KB_T/f2b" --print-all-matched --print-all-missed \
	    "$KB_T/auth.log" keybound >"$KB_T/f2b.out" 2>&1
	check_eq "$?" 0 "fail2ban-regex accepts the filter"
	total=$(grep -c . "$KB_T/auth.log")
	summary=$(grep -E '^Lines: ' "$KB_T/f2b.out")
	matched=$(sed -nE 's/^Lines: [0-9]+ lines, [0-9]+ ignored, ([0-9]+) matched.*/\1/p' <<<"$summary")
	missed=$(sed -nE 's/.* ([0-9]+) missed.*/\1/p' <<<"$summary")
	check_eq "$matched" "$deny_rhost" "fail2ban: $matched of $total lines matched"
	check_eq "$missed" "$((total - deny_rhost))" \
	    "fail2ban: $missed lines not matched (sshd's own, keybound-keys', decision=ignore)"
	# Every address fail2ban found is the client's.
	hosts=$(sed -n '/^|- Matched line(s):/,/^`-/p' "$KB_T/f2b.out" | grep -c 'rhost=127\.0\.0\.1')
	check_eq "$hosts" "$deny_rhost" "every matched line is a refusal with rhost"
	# the lines it must not match are in the log and are not matched
	for must_not in 'decision=ignore' 'decision=unavailable' 'keybound-keys\[' \
	    'Accepted publickey'; do
		n=$(grep -c "$must_not" "$KB_T/auth.log")
		m=$(sed -n '/^|- Matched line(s):/,/^`-/p' "$KB_T/f2b.out" | grep -c "$must_not")
		[ "$n" -gt 0 ] && [ "$m" = 0 ] &&
		    ok "fail2ban: $n '$must_not' lines, none matched" ||
		    not_ok "fail2ban: '$must_not': $n lines in the log, $m matched"
	done
	fail2ban-client -c "$KB_T/f2b" -d 2>/dev/null >"$KB_T/f2b-dump"
	grep -q "\\['add', 'keybound'," "$KB_T/f2b-dump" &&
	    grep -q "\\['set', 'keybound', 'maxretry', 2\\]" "$KB_T/f2b-dump" &&
	    ok "fail2ban-client reads the keybound jail" ||
	    not_ok "fail2ban-client does not read the jail"
fi

kb_done
