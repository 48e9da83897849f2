# tests/lib/slapd.sh - a throwaway slapd for integration tests (sourced
# after tests/lib/common.sh).
#
#   slapd_start [--tls-other-ca] [--load FILE] [--empty] [--rootpw FILE]
#	Start a private slapd as a child of this script: a fresh cn=config
#	built from config-examples/schema/keybound.ldif, /etc/ldap/schema's
#	core, cosine, nis and inetorgperson and tests/fixtures/openssh-lpk.ldif;
#	an mdb database for dc=example,dc=test with equality indexes on
#	keyboundAttachment, keyboundFingerprint, uid and objectClass; the
#	containers ou=keypairs and ou=people; stats logging to $SLAPD_LOG.
#	It listens on ldap://127.0.0.1:PORT, ldaps://127.0.0.1:PORT2 and an
#	ldapi:// socket in its own directory, with a server certificate for
#	127.0.0.1/localhost signed by the test CA ($KB_CA_CERT), or with
#	--tls-other-ca by an unrelated CA ($KB_OTHER_CA_CERT).  --load FILE
#	bulk-loads an LDIF file into the database with slapadd before start
#	(the containers are already there).  --empty leaves the database
#	without even the suffix and containers (a replica that pulls them).
#	--rootpw FILE gives the root DN the password in FILE instead of a
#	fresh random one (providers of one replicated tree share it; see
#	tests/lib/replication.sh).  It is stopped at exit.  Exports:
#	SLAPD_DIR SLAPD_PID SLAPD_PORT SLAPD_LDAPS_PORT SLAPD_URI
#	SLAPD_LDAPS_URI SLAPD_LDAPI_URI SLAPD_SUFFIX SLAPD_BASE SLAPD_PEOPLE
#	SLAPD_ROOTDN SLAPD_ROOTPW_FILE SLAPD_LOG KB_CA_CERT KB_OTHER_CA_CERT.
#	Several instances may run at once; the variables describe the last.
#   slapd_ldapadd FILE|-	ldapadd as the root DN over ldapi://
#   slapd_ldapmodify FILE|-	ldapmodify as the root DN over ldapi://
#   slapd_stop			stop the last started slapd (SIGCONT first)
#   slapd_count_searches	SRCH operations in $SLAPD_LOG so far
#   kb_write_config FILE [LINE...]
#	Write a keybound.conf (mode 0644) for the running slapd: uri, base,
#	starttls no, tls_cacert, cache_dir $KB_T/cache (0700), instance
#	test-host, timeout 3, network_timeout 1.  Each extra "keyword value"
#	LINE replaces the default line of the same keyword; several extra lines
#	with one keyword are all kept (e.g. two uri lines append).

# shellcheck source=tests/lib/ca.sh
. "$KB_SRC/tests/lib/ca.sh"

SLAPD_SUFFIX=dc=example,dc=test
SLAPD_BASE=ou=keypairs,$SLAPD_SUFFIX
SLAPD_PEOPLE=ou=people,$SLAPD_SUFFIX
SLAPD_ROOTDN=cn=admin,$SLAPD_SUFFIX
export SLAPD_SUFFIX SLAPD_BASE SLAPD_PEOPLE SLAPD_ROOTDN

: "${SLAPD_BIN:=/usr/sbin/slapd}"
: "${SLAPADD_BIN:=/usr/sbin/slapadd}"
: "${SLAPD_MODULE_DIR:=/usr/lib/ldap}"
: "${SLAPD_SCHEMA_DIR:=/etc/ldap/schema}"
# mdb reserves this much address space (sparse); bulk loads need room.
: "${SLAPD_DB_MAXSIZE:=8589934592}"

kb_slapd_ca_dir=

# One CA pair per test script, shared by all its slapd instances.
_slapd_make_cas() {
	[ -n "$kb_slapd_ca_dir" ] && [ -f "$kb_slapd_ca_dir/other-ca.crt" ] &&
	    return 0
	kb_slapd_ca_dir=$(mktemp -d "${TMPDIR:-/tmp}/kbca.XXXXXX") || return 1
	chmod 0755 "$kb_slapd_ca_dir"
	kb_on_exit "rm -rf '$kb_slapd_ca_dir'"
	kb_make_ca "$kb_slapd_ca_dir" test-ca || return 1
	kb_make_ca "$kb_slapd_ca_dir" other-ca || return 1
	KB_CA_CERT=$kb_slapd_ca_dir/test-ca.crt
	KB_OTHER_CA_CERT=$kb_slapd_ca_dir/other-ca.crt
	export KB_CA_CERT KB_OTHER_CA_CERT
}

# _slapd_write_config_ldif DIR CA: the cn=config tree as one LDIF stream.
_slapd_write_config_ldif() {
	local dir=$1 ca=$2 pw s
	pw=$(cat "$dir/rootpw")
	cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $dir/slapd.pid
olcArgsFile: $dir/slapd.args
olcLogLevel: stats
olcTLSCACertificateFile: $kb_slapd_ca_dir/test-ca.crt
olcTLSCertificateFile: $kb_slapd_ca_dir/$ca-server-$(basename "$dir").crt
olcTLSCertificateKeyFile: $kb_slapd_ca_dir/$ca-server-$(basename "$dir").key
olcTLSVerifyClient: try
olcSizeLimit: unlimited
olcTimeLimit: unlimited

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $SLAPD_MODULE_DIR
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

EOF
	for s in "$SLAPD_SCHEMA_DIR/core.ldif" "$SLAPD_SCHEMA_DIR/cosine.ldif" \
	    "$SLAPD_SCHEMA_DIR/nis.ldif" "$SLAPD_SCHEMA_DIR/inetorgperson.ldif" \
	    "$KB_SRC/config-examples/schema/keybound.ldif" \
	    "$KB_SRC/tests/fixtures/openssh-lpk.ldif"; do
		cat "$s"
		echo
	done
	cat <<EOF
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact=gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $SLAPD_SUFFIX
olcRootDN: $SLAPD_ROOTDN
olcRootPW: $pw
olcDbDirectory: $dir/db
olcDbMaxSize: $SLAPD_DB_MAXSIZE
olcDbNoSync: TRUE
olcSizeLimit: unlimited
olcDbIndex: objectClass eq
olcDbIndex: keyboundAttachment eq
olcDbIndex: keyboundFingerprint eq
olcDbIndex: keyboundMember eq
olcDbIndex: keyboundTombstone eq
olcDbIndex: uid eq
olcDbIndex: cn eq
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by * read

EOF
}

_slapd_base_ldif() {
	cat <<EOF
dn: $SLAPD_SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: keybound tests

dn: $SLAPD_BASE
objectClass: organizationalUnit
ou: keypairs

dn: $SLAPD_PEOPLE
objectClass: organizationalUnit
ou: people

EOF
}

# _slapd_stop_pid PID: stop one instance we started (idempotent).
_slapd_stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -CONT "$pid" 2>/dev/null
	kill "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# _slapd_ready PID LDAPI: wait until slapd answers a WhoAmI on ldapi.
_slapd_ready() {
	local pid=$1 uri=$2 i
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || return 1
		if ldapwhoami -x -H "$uri" -o nettimeout=1 >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.01
	done
	return 1
}

slapd_start() {
	local other=0 ca=test-ca load= empty=0 rootpw= dir try port lport ldapi
	local pid
	while [ $# -gt 0 ]; do
		case "$1" in
		--tls-other-ca) other=1 ;;
		--load) load=$2; shift ;;
		--empty) empty=1 ;;
		--rootpw) rootpw=$2; shift ;;
		*) echo "slapd_start: unknown argument $1" >&2; return 2 ;;
		esac
		shift
	done
	[ $other = 1 ] && ca=other-ca
	_slapd_make_cas || return 1

	dir=$(mktemp -d "${TMPDIR:-/tmp}/kbslapd.XXXXXX") || return 1
	chmod 0755 "$dir"
	kb_on_exit "rm -rf '$dir'"
	mkdir -p "$dir/slapd.d" "$dir/db" || return 1
	if [ -n "$rootpw" ]; then
		(umask 077 && tr -d '\n' <"$rootpw" >"$dir/rootpw") || return 1
	else
		(umask 077 && openssl rand -hex 16 | tr -d '\n' >"$dir/rootpw") ||
		    return 1
	fi
	kb_make_cert "$kb_slapd_ca_dir" "$ca" \
	    "$ca-server-$(basename "$dir")" "IP:127.0.0.1,DNS:localhost" ||
	    return 1
	_slapd_write_config_ldif "$dir" "$ca" >"$dir/config.ldif"
	if ! "$SLAPADD_BIN" -n 0 -F "$dir/slapd.d" -l "$dir/config.ldif" \
	    >"$dir/slapadd.log" 2>&1; then
		echo "slapd_start: slapadd of cn=config failed:" >&2
		cat "$dir/slapadd.log" >&2
		return 1
	fi
	_slapd_base_ldif >"$dir/base.ldif"
	if [ $empty = 0 ] && ! "$SLAPADD_BIN" -q -F "$dir/slapd.d" \
	    -b "$SLAPD_SUFFIX" -l "$dir/base.ldif" >>"$dir/slapadd.log" 2>&1
	then
		echo "slapd_start: slapadd of the base entries failed:" >&2
		cat "$dir/slapadd.log" >&2
		return 1
	fi
	if [ -n "$load" ] && ! "$SLAPADD_BIN" -q -F "$dir/slapd.d" \
	    -b "$SLAPD_SUFFIX" -l "$load" >>"$dir/slapadd.log" 2>&1; then
		echo "slapd_start: slapadd of $load failed:" >&2
		tail -n 20 "$dir/slapadd.log" >&2
		return 1
	fi

	ldapi="ldapi://$(printf '%s' "$dir/ldapi" | sed 's,/,%2F,g')"
	# Another test may take a port between the probe and the bind:
	# try again with fresh ports.
	for try in 1 2 3 4 5; do
		port=$(kb_free_port) && lport=$(kb_free_port) || return 1
		[ "$port" = "$lport" ] && continue
		"$SLAPD_BIN" -d stats -F "$dir/slapd.d" \
		    -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$lport/ $ldapi" \
		    </dev/null >"$dir/slapd.log" 2>&1 &
		pid=$!
		kb_on_exit "_slapd_stop_pid $pid"
		if _slapd_ready "$pid" "$ldapi"; then
			break
		fi
		_slapd_stop_pid "$pid"
		pid=
	done
	if [ -z "$pid" ]; then
		echo "slapd_start: slapd did not start; its log:" >&2
		tail -n 20 "$dir/slapd.log" >&2
		return 1
	fi

	SLAPD_DIR=$dir
	SLAPD_PID=$pid
	SLAPD_PORT=$port
	SLAPD_LDAPS_PORT=$lport
	SLAPD_URI=ldap://127.0.0.1:$port
	SLAPD_LDAPS_URI=ldaps://127.0.0.1:$lport
	SLAPD_LDAPI_URI=$ldapi
	SLAPD_ROOTPW_FILE=$dir/rootpw
	SLAPD_LOG=$dir/slapd.log
	export SLAPD_DIR SLAPD_PID SLAPD_PORT SLAPD_LDAPS_PORT SLAPD_URI \
	    SLAPD_LDAPS_URI SLAPD_LDAPI_URI SLAPD_ROOTPW_FILE SLAPD_LOG
}

slapd_stop() {
	[ -n "${SLAPD_PID:-}" ] || return 0
	_slapd_stop_pid "$SLAPD_PID"
}

# The ldap-utils read ldaprc files and LDAP* variables; tests that plant
# hostile ones must not break the harness itself.
_slapd_ldap_tool() {
	env -u LDAPTLS_REQCERT -u LDAPTLS_CACERT -u LDAPRC -u LDAPCONF \
	    LDAPNOINIT=1 "$@"
}

slapd_ldapadd() {
	local f=${1:--}
	local -a from=()
	[ "$f" = - ] || from=(-f "$f")
	_slapd_ldap_tool ldapadd -x -H "$SLAPD_LDAPI_URI" \
	    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" "${from[@]}" \
	    >/dev/null || {
		echo "slapd_ldapadd: ldapadd of $f failed" >&2
		return 1
	}
}

slapd_ldapmodify() {
	local f=${1:--}
	local -a from=()
	[ "$f" = - ] || from=(-f "$f")
	_slapd_ldap_tool ldapmodify -x -H "$SLAPD_LDAPI_URI" \
	    -D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE" "${from[@]}" \
	    >/dev/null || {
		echo "slapd_ldapmodify: ldapmodify of $f failed" >&2
		return 1
	}
}

slapd_count_searches() {
	grep -c ' SRCH base=' "$SLAPD_LOG" 2>/dev/null || true
}

kb_write_config() {
	local file=$1 line kw d keep
	local -a defaults extra_kws
	shift
	[ -n "${KB_T:-}" ] || kb_tmpdir
	mkdir -p "$KB_T/cache" && chmod 0700 "$KB_T/cache" || return 1
	defaults=(
		"uri $SLAPD_URI"
		"base $SLAPD_BASE"
		"starttls no"
		"tls_cacert $KB_CA_CERT"
		"cache_dir $KB_T/cache"
		"instance test-host"
		"timeout 3"
		"network_timeout 1"
	)
	extra_kws=()
	for line in "$@"; do
		kw=${line%%[[:space:]]*}
		extra_kws+=("${kw,,}")
	done
	{
		echo "# keybound.conf written by tests/lib/slapd.sh"
		for d in "${defaults[@]}"; do
			keep=1
			for kw in "${extra_kws[@]}"; do
				[ "${d%% *}" = "$kw" ] && keep=0
			done
			[ $keep = 1 ] && echo "$d"
		done
		for line in "$@"; do
			echo "$line"
		done
	} >"$file" || return 1
	chmod 0644 "$file"
}
