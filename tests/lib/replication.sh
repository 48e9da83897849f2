# tests/lib/replication.sh - a replicated directory for integration tests
# (sourced after tests/lib/common.sh and tests/lib/slapd.sh): two providers
# in multi-provider replication and one read-only consumer, all on
# loopback, each a slapd_start instance (keybound schema, same indexes),
# configured by loading exactly config-examples/replication/*.ldif with
# their @NAME@ placeholders filled in.
#
#   repl_start
#	Start provider A (holding the base entries and the replicator),
#	provider B and consumer C (both empty: they pull the tree), apply
#	provider.ldif to A (serverID 1, peer B) and B (serverID 2, peer A)
#	and consumer.ldif to C (following A and B), and wait until a write on
#	each provider has reached the two other servers.  Replication runs
#	over ldaps:// with the test CA demanded.  Exports for X in A B C:
#	REPL_X_URI (ldap://), REPL_X_LDAPI, REPL_X_PID, REPL_X_LOG; and
#	REPL_ROOTPW_FILE, the root DN's password on all three.
#   repl_kill X			SIGKILL server X and reap it
#   repl_restart X		start server X again on the same ports and
#				database (after repl_kill)
#   repl_dump X [FILTER]	the entries of X under the suffix, sorted, one
#				"dn attr: value" line per value
#				(objectClass, cn, keyboundAttachment,
#				keyboundFingerprint, keyboundPublicKey,
#				entryUUID), read over ldapi://
#   repl_wait_same SECS		wait until A, B and C dump alike (0) or not
#   repl_wait_attr X DN ATTR VALUE present|absent SECS [PAUSE]
#				wait until X holds (or no longer holds)
#				ATTR: VALUE on DN, searching every PAUSE
#				seconds (0.02); prints the milliseconds it
#				took

REPL_EXAMPLES=$KB_SRC/config-examples/replication
declare -A repl_dir repl_port repl_lport repl_ldapi repl_pid

# _repl_ldif FILE SED-ARGS...: an example with its placeholders filled;
# fails if one is left.
_repl_ldif() {
	local f=$1 out
	shift
	out=$(sed "$@" "$f") || return 1
	if printf '%s\n' "$out" | grep -v '^#' | grep -q '@[A-Z_]*@'; then
		echo "replication.sh: placeholder left in $f:" >&2
		printf '%s\n' "$out" | grep -v '^#' | grep '@[A-Z_]*@' >&2
		return 1
	fi
	printf '%s\n' "$out"
}

# _repl_config X FILE: ldapmodify cn=config of X as root over ldapi://.
_repl_config() {
	_slapd_ldap_tool ldapmodify -Q -Y EXTERNAL -H "${repl_ldapi[$1]}" \
	    -f "$2" >"$KB_T/repl-$1-config.out" 2>&1 || {
		echo "replication.sh: loading $2 into $1 failed:" >&2
		cat "$KB_T/repl-$1-config.out" >&2
		return 1
	}
}

# _repl_keep X: remember the instance slapd_start just started as X.
_repl_keep() {
	repl_dir[$1]=$SLAPD_DIR
	repl_port[$1]=$SLAPD_PORT
	repl_lport[$1]=$SLAPD_LDAPS_PORT
	repl_ldapi[$1]=$SLAPD_LDAPI_URI
	repl_pid[$1]=$SLAPD_PID
	eval "REPL_$1_URI=\$SLAPD_URI REPL_$1_LDAPI=\$SLAPD_LDAPI_URI"
	eval "REPL_$1_PID=\$SLAPD_PID REPL_$1_LOG=\$SLAPD_LOG"
	export "REPL_$1_URI" "REPL_$1_LDAPI" "REPL_$1_PID" "REPL_$1_LOG"
}

_repl_ldaps() { echo "ldaps://127.0.0.1:${repl_lport[$1]}"; }

repl_start() {
	local pw=$KB_T/repl-replicator.pw hash sed_common x t0
	[ -n "${KB_T:-}" ] || kb_tmpdir
	REPL_ROOTPW_FILE=$KB_T/repl-rootpw
	(umask 077 && openssl rand -hex 16 | tr -d '\n' >"$REPL_ROOTPW_FILE" &&
	    openssl rand -hex 16 | tr -d '\n' >"$pw") || return 1
	export REPL_ROOTPW_FILE
	hash=$(/usr/sbin/slappasswd -h '{SSHA}' -T "$pw") || return 1

	slapd_start --rootpw "$REPL_ROOTPW_FILE" || return 1
	_repl_keep A
	slapd_start --rootpw "$REPL_ROOTPW_FILE" --empty || return 1
	_repl_keep B
	slapd_start --rootpw "$REPL_ROOTPW_FILE" --empty || return 1
	_repl_keep C

	sed_common=(-e "s|@SUFFIX@|$SLAPD_SUFFIX|g"
	    -e "s|@REPLICATOR_PASSWORD@|$(cat "$pw")|g"
	    -e "s|@CA_CERT@|$KB_CA_CERT|g")
	# The replicator, with the data, on the first provider only.
	_repl_ldif "$REPL_EXAMPLES/replicator.ldif" "${sed_common[@]}" \
	    -e "s|@REPLICATOR_PASSWORD_HASH@|$hash|" \
	    >"$KB_T/repl-replicator.ldif" || return 1
	_slapd_ldap_tool ldapadd -x -H "${repl_ldapi[A]}" -D "$SLAPD_ROOTDN" \
	    -y "$REPL_ROOTPW_FILE" -f "$KB_T/repl-replicator.ldif" \
	    >/dev/null || return 1
	# Provider A first (its pulls from the still empty B fail and are
	# retried), then B, which pulls the tree from A.
	_repl_ldif "$REPL_EXAMPLES/provider.ldif" "${sed_common[@]}" \
	    -e "s|@SERVER_ID@|1|" -e "s|@PEER_URI@|$(_repl_ldaps B)|" \
	    >"$KB_T/repl-A.ldif" || return 1
	_repl_ldif "$REPL_EXAMPLES/provider.ldif" "${sed_common[@]}" \
	    -e "s|@SERVER_ID@|2|" -e "s|@PEER_URI@|$(_repl_ldaps A)|" \
	    >"$KB_T/repl-B.ldif" || return 1
	_repl_ldif "$REPL_EXAMPLES/consumer.ldif" "${sed_common[@]}" \
	    -e "s|@PROVIDER1_URI@|$(_repl_ldaps A)|" \
	    -e "s|@PROVIDER2_URI@|$(_repl_ldaps B)|" \
	    -e "s|@UPDATE_URI@|$(_repl_ldaps A)|" \
	    >"$KB_T/repl-C.ldif" || return 1
	for x in A B C; do
		_repl_config "$x" "$KB_T/repl-$x.ldif" || return 1
	done

	# Ready when a write on each provider has reached both others.
	# A pulls from B on its next retry (every 5 s, provider.ldif).
	for x in A B; do
		printf 'dn: %s\nchangetype: modify\nreplace: description\ndescription: ready-%s\n' \
		    "$SLAPD_PEOPLE" "$x" |
		    _slapd_ldap_tool ldapmodify -x -H "${repl_ldapi[$x]}" \
		    -D "$SLAPD_ROOTDN" -y "$REPL_ROOTPW_FILE" >/dev/null ||
		    return 1
		t0=$(kb_ms)
		for y in A B C; do
			repl_wait_attr "$y" "$SLAPD_PEOPLE" description \
			    "ready-$x" present 30 >/dev/null || {
				echo "replication.sh: a write on $x did not reach $y" >&2
				return 1
			}
		done
	done
}

repl_kill() {
	kill -KILL "${repl_pid[$1]}" 2>/dev/null
	wait "${repl_pid[$1]}" 2>/dev/null
	return 0
}

repl_restart() {
	local x=$1 dir=${repl_dir[$1]} pid
	"$SLAPD_BIN" -d stats -F "$dir/slapd.d" \
	    -h "ldap://127.0.0.1:${repl_port[$x]}/ ldaps://127.0.0.1:${repl_lport[$x]}/ ${repl_ldapi[$x]}" \
	    </dev/null >>"$dir/slapd.log" 2>&1 &
	pid=$!
	kb_on_exit "_slapd_stop_pid $pid"
	repl_pid[$x]=$pid
	eval "REPL_${x}_PID=$pid"
	_slapd_ready "$pid" "${repl_ldapi[$x]}" || {
		echo "replication.sh: $x did not start again:" >&2
		tail -n 20 "$dir/slapd.log" >&2
		return 1
	}
	# The ldap:// listener too: that is the one keybound uses.
	kb_wait_port "${repl_port[$x]}" 10
}

repl_dump() {
	_slapd_ldap_tool ldapsearch -LLL -o ldif-wrap=no -x \
	    -H "${repl_ldapi[$1]}" -b "$SLAPD_SUFFIX" "${2:-(objectClass=*)}" \
	    objectClass cn description keyboundAttachment keyboundFingerprint \
	    keyboundPublicKey entryUUID 2>/dev/null |
	    awk '/^dn: / { dn = substr($0, 5); next }
		/^$/ { next }
		{ print dn "\t" $0 }' | LC_ALL=C sort
}

repl_wait_same() {
	local secs=$1 i
	for ((i = 0; i < secs * 10; i++)); do
		repl_dump A >"$KB_T/repl-same.A"
		repl_dump B >"$KB_T/repl-same.B"
		repl_dump C >"$KB_T/repl-same.C"
		if [ -s "$KB_T/repl-same.A" ] &&
		    cmp -s "$KB_T/repl-same.A" "$KB_T/repl-same.B" &&
		    cmp -s "$KB_T/repl-same.A" "$KB_T/repl-same.C"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

repl_wait_attr() {
	local x=$1 dn=$2 attr=$3 value=$4 want=$5 secs=$6 pause=${7:-0.02}
	local t0 have
	t0=$(kb_ms)
	while [ $(($(kb_ms) - t0)) -lt $((secs * 1000)) ]; do
		have=absent
		_slapd_ldap_tool ldapsearch -LLL -o ldif-wrap=no -x \
		    -H "${repl_ldapi[$x]}" -b "$dn" -s base "$attr" \
		    2>/dev/null | grep -qxF "$attr: $value" && have=present
		if [ "$have" = "$want" ]; then
			echo $(($(kb_ms) - t0))
			return 0
		fi
		sleep "$pause"
	done
	return 1
}
