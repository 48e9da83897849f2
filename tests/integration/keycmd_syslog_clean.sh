#!/bin/bash
# keycmd_syslog_clean: one lookup sends syslog nothing but keybound-keys'
# own decision lines: no line from the libraries it loads (Cyrus SASL
# logs "failed to open directory" when its plugin path is not a
# directory), on a cache miss, a cache hit, a fingerprint query and
# --has-keys, as the command user.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
kk_keygen ka && ka_fp=$KK_FP
kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add ka"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 60"

as_cmd() {
	kk_as_cmd -c "$conf" "$@" </dev/null >"$KB_T/out" 2>/dev/null
	RC=$?
}

# only what the runs below send counts (useradd and slapd log here too)
skip_lines=$(wc -l <"$KB_SYSLOG")
runs_log() { tail -n +"$((skip_lines + 1))" "$KB_SYSLOG"; }
n=0
for args in "alice" "alice" "alice $ka_fp" "--has-keys alice" "--has-keys bob"; do
	# shellcheck disable=SC2086
	as_cmd $args
	n=$((n + 1))
	kb_syslog_wait "keybound-keys.*result=" || not_ok "$args: no decision line"
	check_eq "$(runs_log | grep -c 'result=')" "$n" "$args: one decision line"
done
check_eq "$(runs_log | grep -c 'source=directory'):$(runs_log | grep -c 'source=cache')" \
    "2:3" "two lookups asked the directory, three the cache"
# Libraries log under the program's ident, so every keybound-keys line
# must be one of its own key=value lines.  (The throwaway slapd logs to
# the same socket; its lines are its own.)
others=$(runs_log | grep -v -e 'keybound-keys\[[0-9]*\]: user=' \
    -e ' slapd\[[0-9]*\]: ')
check_eq "$others" "" "every line is one of keybound-keys' own (user=...)"
runs_log | grep -qi 'sasl\|plugin' && not_ok "a SASL line reached syslog" ||
    ok "no SASL line reached syslog"

kb_done
