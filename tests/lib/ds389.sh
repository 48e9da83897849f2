# tests/lib/ds389.sh - a throwaway 389 Directory Server for integration
# tests (sourced after tests/lib/common.sh and tests/lib/slapd.sh).
#
#   ds389_available
#	0 if 389-ds-base's dscreate, dsconf and ns-slapd are installed.
#
#   ds389_start
#	Create an instance with `dscreate from-file` and a generated .inf,
#	with every file under a private directory: lib389 takes its default
#	paths from $PREFIX/share/dirsrv/inf/defaults.inf when PREFIX is set
#	(what `dscreate ds-root` prepares for unprivileged users), so a copy
#	of the packaged defaults.inf with the paths moved under the
#	directory and with_systemd = 0 keeps systemd and /etc, /var, /run out
#	of it.  The copied template-dse.ldif makes the server listen on
#	127.0.0.1 only (nsslapd-listenhost, nsslapd-securelistenhost), also
#	during dscreate's own start.  dscreate leaves the instance stopped
#	(start = False); ns-slapd is then run in the foreground (-d) as a
#	child of this script and stopped by PID at exit.  Suffix
#	dc=example,dc=test with 389-ds's sample entries (ou=people,
#	ou=groups, ou=services, as a new instance has them); the keybound
#	schema is not loaded (that is the test's business).
#	Exports DS389_DIR DS389_PREFIX DS389_NAME DS389_PID DS389_PORT
#	DS389_SECURE_PORT DS389_LDAPI DS389_ERRORS DS389_ACCESS
#	DS389_CREATE_MS, and the SLAPD_* variables tests/lib/slapd.sh's
#	helpers read (SLAPD_URI, SLAPD_LDAPI_URI, SLAPD_ROOTDN,
#	SLAPD_ROOTPW_FILE, SLAPD_PID, ...) so that kb_write_config and the
#	kk_* helpers of tests/lib/keycmd.sh work against it.
#
#   ds389_restart
#	Stop ns-slapd by PID and start it again on the same ports (for
#	settings that need a restart, such as nsslapd-security).
#
#   ds389_dsconf ARGS... / ds389_dsctl ARGS...
#	dsconf / dsctl INSTANCE ARGS... for this instance (dsconf over its
#	ldapi socket, where root autobinds as the Directory Manager).
#
#   ds389_tls
#	Give the instance a server certificate for 127.0.0.1/localhost
#	signed by the test CA ($KB_CA_CERT), turn nsslapd-security on and
#	restart it: StartTLS on $SLAPD_URI, LDAPS on 127.0.0.1:$DS389_SECURE_PORT.

DS389_NAME=keybound
: "${DS389_DSCREATE:=/usr/sbin/dscreate}"
: "${DS389_DSCONF:=/usr/sbin/dsconf}"
: "${DS389_DSCTL:=/usr/sbin/dsctl}"
: "${DS389_NS_SLAPD:=/usr/sbin/ns-slapd}"
# The error log level dscontainer uses: SLAPD_DEFAULT_ERRORLOG_LEVEL.
DS389_LOGLEVEL=266354688

ds389_available() {
	[ -x "$DS389_DSCREATE" ] && [ -x "$DS389_DSCONF" ] &&
	    [ -x "$DS389_NS_SLAPD" ] && [ -x "$DS389_DSCTL" ] &&
	    [ -f /usr/share/dirsrv/inf/defaults.inf ] &&
	    [ -f /usr/share/dirsrv/data/template-dse.ldif ]
}

ds389_dsctl() {
	PREFIX=$DS389_PREFIX "$DS389_DSCTL" "$DS389_NAME" "$@"
}

ds389_dsconf() {
	PREFIX=$DS389_PREFIX "$DS389_DSCONF" "$DS389_NAME" "$@"
}

# _ds389_defaults SRC PREFIX: the packaged defaults.inf with every
# instance path under PREFIX; programs, plugins and system schema stay.
_ds389_defaults() {
	awk -v P="$2" '
	/^(prefix|bin_dir|sbin_dir|lib_dir|plugin_dir|system_schema_dir|product|version) / { print; next }
	/^with_systemd / { print "with_systemd = 0"; next }
	/^with_selinux / { print "with_selinux ="; next }
	/^data_dir / { print "data_dir = " P "/share"; next }
	/^[a-z_]+ = \// { sub(/ = \//, " = " P "/"); print; next }
	{ print }' "$1"
}

# _ds389_wait PID LINES: until a simple bind as the Directory Manager
# works.  A port taken meanwhile does not stop ns-slapd: it logs PR_Bind()
# or PR_Listen() failing (on stderr or in its errors log, after the first
# LINES lines) and runs on without that listener.
_ds389_wait() {
	local pid=$1 from=$(($2 + 1)) i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		{ cat "$DS389_DIR/ns-slapd.log"
		  tail -n "+$from" "$DS389_ERRORS"; } 2>/dev/null |
		    grep -Eq 'PR_(Bind|Listen)\(\) on .* failed' && return 1
		# bounded: whoever else took the port may never answer
		if timeout 5 env -u LDAPTLS_REQCERT -u LDAPTLS_CACERT \
		    -u LDAPRC -u LDAPCONF LDAPNOINIT=1 ldapwhoami -x \
		    -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" \
		    -o nettimeout=1 >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# _ds389_stop_pid PID: SIGTERM and wait for the clean shutdown (a few
# seconds: ns-slapd flushes its database); SIGKILL only after 60 s.
_ds389_stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -CONT "$pid" 2>/dev/null
	kill "$pid" 2>/dev/null
	for ((i = 0; i < 1200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# _ds389_run: start ns-slapd in the foreground, as a child.
_ds389_run() {
	local lines
	lines=$(cat "$DS389_ERRORS" 2>/dev/null | wc -l)
	"$DS389_NS_SLAPD" -D "$DS389_PREFIX/etc/dirsrv/slapd-$DS389_NAME" \
	    -i "$DS389_PREFIX/run/dirsrv/slapd-$DS389_NAME.pid" \
	    -d "$DS389_LOGLEVEL" </dev/null >"$DS389_DIR/ns-slapd.log" 2>&1 &
	DS389_PID=$!
	SLAPD_PID=$DS389_PID
	kb_on_exit "_ds389_stop_pid $DS389_PID"
	export DS389_PID SLAPD_PID
	if ! _ds389_wait "$DS389_PID" "$lines"; then
		echo "ds389_start: ns-slapd did not answer; its logs:" >&2
		tail -n 20 "$DS389_DIR/ns-slapd.log" "$DS389_ERRORS" >&2
		# still starting, it does not heed SIGTERM; nothing to save
		kill -9 "$DS389_PID" 2>/dev/null
		wait "$DS389_PID" 2>/dev/null
		return 1
	fi
}

ds389_start() {
	local dir p d t0 pw
	_slapd_make_cas || return 1
	dir=$(mktemp -d "${TMPDIR:-/tmp}/kbds.XXXXXX") || return 1
	chmod 0755 "$dir"
	kb_on_exit "rm -rf '$dir'"
	p=$dir/root
	DS389_DIR=$dir
	DS389_PREFIX=$p
	# ns-slapd drops to the dirsrv user: every parent it must pass is
	# 0755 (dscreate would create the missing ones 0770 root).
	for d in share/dirsrv etc/dirsrv run/dirsrv run/lock/dirsrv \
	    var/log/dirsrv "var/lib/dirsrv/slapd-$DS389_NAME" tmp; do
		install -d -m 0755 "$p/$d" || return 1
	done
	cp -r /usr/share/dirsrv/data /usr/share/dirsrv/inf "$p/share/dirsrv/" &&
	    cp -r /etc/dirsrv/config /etc/dirsrv/schema "$p/etc/dirsrv/" ||
	    return 1
	_ds389_defaults /usr/share/dirsrv/inf/defaults.inf "$p" \
	    >"$p/share/dirsrv/inf/defaults.inf" || return 1
	sed -i 's/^nsslapd-port: %ds_port%$/&\nnsslapd-listenhost: 127.0.0.1\nnsslapd-securelistenhost: 127.0.0.1/' \
	    "$p/share/dirsrv/data/template-dse.ldif" &&
	    grep -q '^nsslapd-listenhost: 127.0.0.1$' \
	    "$p/share/dirsrv/data/template-dse.ldif" || {
		echo "ds389_start: cannot confine the listener to loopback" >&2
		return 1
	}
	DS389_PORT=$(kb_free_port) && DS389_SECURE_PORT=$(kb_free_port) ||
	    return 1
	(umask 077 && openssl rand -hex 16 | tr -d '\n' >"$dir/rootpw") ||
	    return 1
	pw=$(cat "$dir/rootpw")
	(umask 077 && cat >"$dir/instance.inf") <<EOF || return 1
[general]
config_version = 2
full_machine_name = localhost
strict_host_checking = False
selinux = False
systemd = False
start = False

[slapd]
instance_name = $DS389_NAME
port = $DS389_PORT
secure_port = $DS389_SECURE_PORT
root_dn = cn=Directory Manager
root_password = $pw
self_sign_cert = False
db_home_dir = $p/var/lib/dirsrv/slapd-$DS389_NAME/db

[backend-userroot]
suffix = $SLAPD_SUFFIX
sample_entries = yes
EOF
	pw=
	t0=$(kb_ms)
	# lib389 waits up to 60 s for the server it starts itself.
	if ! PREFIX=$p timeout -k 5 150 "$DS389_DSCREATE" -v from-file \
	    "$dir/instance.inf" >"$dir/dscreate.log" 2>&1; then
		echo "ds389_start: dscreate failed:" >&2
		grep -v '^DEBUG' "$dir/dscreate.log" | tail -n 20 >&2
		tail -n 20 "$p/var/log/dirsrv/slapd-$DS389_NAME/errors" >&2
		return 1
	fi
	DS389_CREATE_MS=$(($(kb_ms) - t0))
	DS389_LDAPI=$p/run/slapd-$DS389_NAME.socket
	DS389_ERRORS=$p/var/log/dirsrv/slapd-$DS389_NAME/errors
	DS389_ACCESS=$p/var/log/dirsrv/slapd-$DS389_NAME/access
	SLAPD_URI=ldap://127.0.0.1:$DS389_PORT
	SLAPD_PORT=$DS389_PORT
	SLAPD_LDAPI_URI="ldapi://$(printf '%s' "$DS389_LDAPI" | sed 's,/,%2F,g')"
	SLAPD_ROOTDN="cn=Directory Manager"
	SLAPD_ROOTPW_FILE=$dir/rootpw
	SLAPD_DIR=$dir
	SLAPD_LOG=$DS389_ACCESS
	export DS389_DIR DS389_PREFIX DS389_NAME DS389_PORT DS389_SECURE_PORT \
	    DS389_LDAPI DS389_ERRORS DS389_ACCESS DS389_CREATE_MS SLAPD_URI \
	    SLAPD_PORT SLAPD_LDAPI_URI SLAPD_ROOTDN SLAPD_ROOTPW_FILE \
	    SLAPD_DIR SLAPD_LOG
	_ds389_start_free
}

ds389_restart() {
	_ds389_stop_pid "$DS389_PID"
	_ds389_run
}

# _ds389_start_free: _ds389_run, on fresh ports if another test took ours
# since dscreate (ns-slapd exits when it cannot bind).
_ds389_start_free() {
	local try dse=$DS389_PREFIX/etc/dirsrv/slapd-$DS389_NAME/dse.ldif
	for try in 1 2 3; do
		_ds389_run 2>>"$DS389_DIR/start.log" && return 0
		DS389_PORT=$(kb_free_port) && DS389_SECURE_PORT=$(kb_free_port) ||
		    return 1
		sed -i -e "s/^nsslapd-port: .*/nsslapd-port: $DS389_PORT/I" \
		    -e "s/^nsslapd-secureport: .*/nsslapd-secureport: $DS389_SECURE_PORT/I" \
		    "$dse" || return 1
		SLAPD_URI=ldap://127.0.0.1:$DS389_PORT
		SLAPD_PORT=$DS389_PORT
		export DS389_PORT DS389_SECURE_PORT SLAPD_URI SLAPD_PORT
	done
	cat "$DS389_DIR/start.log" >&2
	return 1
}

ds389_tls() {
	local name=ds389-server-$(basename "$DS389_DIR")
	kb_make_cert "$kb_slapd_ca_dir" test-ca "$name" \
	    "IP:127.0.0.1,DNS:localhost" || return 1
	{
		ds389_dsctl tls import-ca "$KB_CA_CERT" test-ca &&
		ds389_dsctl tls import-server-key-cert \
		    "$kb_slapd_ca_dir/$name.crt" "$kb_slapd_ca_dir/$name.key" &&
		ds389_dsconf config replace nsslapd-security=on
	} >>"$DS389_DIR/tls.log" 2>&1 || {
		echo "ds389_tls: cannot set up TLS:" >&2
		tail -n 20 "$DS389_DIR/tls.log" >&2
		return 1
	}
	ds389_restart
}
