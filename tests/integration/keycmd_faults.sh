#!/bin/bash
# keycmd_faults: keybound-keys under directory faults, each timed, and the
# cache's trust rules.
#   all URIs refused -> exit 1 in < 1 s; a first URI that accepts TCP and
#   never answers, then a healthy one -> keys within timeout; SIGSTOPped
#   slapd only -> exit 1 within timeout + 0.5 s; directory down with a
#   fresh cache -> keys from the cache, logged; offline_max_age honoured;
#   a cache file planted as a symlink, with the wrong mode or owner, or in
#   a group-writable directory is not followed or trusted.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
kk_keygen ka && ka_pub=$KK_PUB && ka_fp=$KK_FP
kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add ka"
kk_keygen kb2 && kb2_pub=$KK_PUB
kk_add_keypair kb2 "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add kb2"

# A cache dir of its own for each scenario, owned by the command user.
newcache() {
	local d
	d=$(mktemp -d "$KB_T/cache.XXXXXX")
	chown "$KB_CMD_USER:" "$d" && chmod 0700 "$d"
	echo "$d"
}
timeout_s=2

# --- all URIs refused ------------------------------------------------------
p1=$(kb_free_port) && p2=$(kb_free_port)
conf=$KB_T/refused.conf
kb_write_config "$conf" "uri ldap://127.0.0.1:$p1 ldap://127.0.0.1:$p2" \
    "cache_dir $(newcache)" "timeout $timeout_s"
kk_run "$conf" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "all URIs refused: exit 1, nothing printed"
[ "$KK_MS" -lt 1000 ]
check_eq "$?" 0 "all URIs refused: answered in < 1 s (${KK_MS} ms)"
kk_run "$conf" --has-keys alice
check_eq "$KK_RC" 1 "all URIs refused: --has-keys exit 1"

# --- a black hole first, then a healthy server ----------------------------
bh=$(kb_free_port)
"$KB_BUILD/tests/tools/kb-blackhole" "$bh" >"$KB_T/bh.out" 2>&1 &
kb_kill_at_exit $!
kb_wait_port "$bh" 5 || fail "blackhole did not start"
conf=$KB_T/blackhole.conf
kb_write_config "$conf" "uri ldap://127.0.0.1:$bh $SLAPD_URI" \
    "cache_dir $(newcache)" "timeout $timeout_s" "network_timeout 1" \
    "cache_ttl 0"
kk_run "$conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:2" "black hole then healthy: keys served"
[ "$KK_MS" -lt $((timeout_s * 1000)) ]
check_eq "$?" 0 "black hole then healthy: within timeout (${KK_MS} ms)"
kb_syslog_wait "user=alice instance=test-host source=directory count=2 .*uri=$(kk_re "$SLAPD_URI") .*result=ok" ||
    not_ok "the answering URI not logged"
conf_bh_only=$KB_T/blackhole-only.conf
kb_write_config "$conf_bh_only" "uri ldap://127.0.0.1:$bh" \
    "cache_dir $(newcache)" "timeout $timeout_s" "network_timeout 1"
kk_run "$conf_bh_only" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "black hole only: exit 1"
[ "$KK_MS" -lt $((timeout_s * 1000 + 500)) ]
check_eq "$?" 0 "black hole only: within timeout + 0.5 s (${KK_MS} ms)"

# --- fresh cache, then the directory goes away ------------------------------
cdir=$(newcache)
conf=$KB_T/cached.conf
kb_write_config "$conf" "cache_dir $cdir" "timeout $timeout_s" \
    "cache_ttl 0" "offline_max_age 3600"
kk_run "$conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:2" "directory up: keys served and cached"
cp "$KK_OUT" "$KB_T/expected"
files=$(ls "$cdir" | grep -c '^u-')
check_eq "$files" 1 "one cache file written"
cfile=$cdir/$(ls "$cdir" | grep '^u-')
check_eq "$(stat -c '%U %a %F' "$cfile")" "$KB_CMD_USER 600 regular file" \
    "cache file owned by the command user, 0600"
grep -qF "$ka_pub" "$cfile" && ! grep -q 'keybound:' "$cfile"
check_eq "$?" 0 "cache holds structured fields, not rendered lines"

kill -STOP "$SLAPD_PID"
kk_run "$conf" alice
check_eq "$KK_RC" 0 "SIGSTOPped slapd with a fresh cache: exit 0"
cmp -s "$KK_OUT" "$KB_T/expected"
check_eq "$?" 0 "SIGSTOPped slapd: the cached keys are served"
[ "$KK_MS" -lt $((timeout_s * 1000 + 500)) ]
check_eq "$?" 0 "SIGSTOPped slapd, cache: within timeout + 0.5 s (${KK_MS} ms)"
kb_syslog_wait "user=alice instance=test-host source=cache count=2 age_s=[0-9]+ .*result=offline" ||
    not_ok "offline fallback not logged"
kk_run "$conf" alice "$ka_fp"
check_eq "$KK_RC:$(grep -c . "$KK_OUT"):$(grep -c "$ka_pub" "$KK_OUT")" "0:1:1" \
    "SIGSTOPped slapd: %f answered from the all-keys cache"
kk_run "$conf" --has-keys alice
check_eq "$KK_RC" 0 "SIGSTOPped slapd: --has-keys from the cache: 0"
kk_run "$conf" bob
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "SIGSTOPped slapd, no cache for bob: exit 1"
[ "$KK_MS" -lt $((timeout_s * 1000 + 500)) ]
check_eq "$?" 0 "SIGSTOPped slapd, no cache: within timeout + 0.5 s (${KK_MS} ms)"
kk_run "$conf" --has-keys bob
check_eq "$KK_RC" 1 "SIGSTOPped slapd, no cache: --has-keys exit 1"
kill -CONT "$SLAPD_PID"

# "nothing attached" is cached too
kk_run "$conf" carol
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "0:0" "carol: nothing attached"
slapd_stop_soft() { kill -STOP "$SLAPD_PID"; }
slapd_stop_soft
kk_run "$conf" --has-keys carol
check_eq "$KK_RC" 3 "directory down: cached 'nothing attached' answers 3"
kill -CONT "$SLAPD_PID"

# offline_max_age: an answer older than that is not served
conf_old=$KB_T/old.conf
kb_write_config "$conf_old" "cache_dir $cdir" "timeout $timeout_s" \
    "cache_ttl 0" "offline_max_age 1"
sleep 2.1
kill -STOP "$SLAPD_PID"
kk_run "$conf_old" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "cache older than offline_max_age: exit 1"
kill -CONT "$SLAPD_PID"

# cache_ttl: a fresh answer is reused without asking the directory
conf_ttl=$KB_T/ttl.conf
kb_write_config "$conf_ttl" "cache_dir $cdir" "timeout $timeout_s" \
    "cache_ttl 30"
kk_run "$conf_ttl" alice
before=$(slapd_count_searches)
kk_run "$conf_ttl" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT"):$(($(slapd_count_searches) - before))" \
    "0:2:0" "within cache_ttl: served without a search"

# --- cache trust -------------------------------------------------------------
# Each case makes alice's answer file untrustworthy, stops the directory and
# expects no keys: a followed or trusted file would have served them.
kk_run "$conf" alice		# fresh answer on disk
cfile=$cdir/$(ls "$cdir" | grep '^u-' | head -1)
for f in "$cdir"/u-*; do
	grep -q "^user $(printf alice | od -An -tx1 | tr -d ' \n')\$" "$f" &&
	    grep -q '^answer \* ' "$f" && cfile=$f
done
cp -p "$cfile" "$KB_T/good-cache"
untrusted() {
	local what=$1
	kill -STOP "$SLAPD_PID"
	kk_run "$conf" alice
	check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "$what: not trusted"
	kill -CONT "$SLAPD_PID"
	rm -f "$cfile"
	cp -p "$KB_T/good-cache" "$cfile"
}
mv "$cfile" "$cdir/stash" && ln -s stash "$cfile" &&
    chown -h "$KB_CMD_USER:" "$cfile"
untrusted "cache file planted as a symlink"
rm -f "$cdir/stash"
kb_syslog_wait "user=alice instance=test-host event=cache-ignored error=\"cache not trusted\"" ||
    not_ok "ignored cache file not logged"
chmod 0644 "$cfile"
untrusted "cache file mode 0644"
chmod 0640 "$cfile"
untrusted "cache file mode 0640"
chown root: "$cfile"
untrusted "cache file owned by root"
ln "$cfile" "$cdir/hardlink"
untrusted "cache file with a second hard link"
rm -f "$cdir/hardlink"
rm -f "$cfile" && mkfifo -m 0600 "$cfile" && chown "$KB_CMD_USER:" "$cfile"
untrusted "cache file planted as a FIFO"
sed -i 's/^user .*/user 626f62/' "$cfile"
untrusted "cache file for another user"
printf 'garbage\n' >"$cfile"
untrusted "corrupt cache file"
# sanity: the restored good file is trusted
kill -STOP "$SLAPD_PID"
kk_run "$conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:2" "restored cache file is served offline"
kill -CONT "$SLAPD_PID"

chmod 0770 "$cdir"
untrusted "cache in a group-writable directory"
kb_syslog_wait "user=alice instance=test-host event=cache-unusable error=\"cache not trusted\"" ||
    not_ok "unusable cache directory not logged"
kk_run "$conf" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:2" "group-writable cache dir: directory still answers"
chmod 0700 "$cdir"
ln -s "$cdir" "$KB_T/cachelink"
conf_link=$KB_T/link.conf
kb_write_config "$conf_link" "cache_dir $KB_T/cachelink" "timeout $timeout_s" \
    "cache_ttl 0"
kill -STOP "$SLAPD_PID"
kk_run "$conf_link" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "cache_dir given as a symlink: not trusted"
kill -CONT "$SLAPD_PID"

# A root-owned cache_dir: keybound-keys started as root runs as nobody.
rootcache=$(mktemp -d "$KB_T/rootcache.XXXXXX")
chmod 0755 "$rootcache"
conf_root=$KB_T/rootcache.conf
kb_write_config "$conf_root" "cache_dir $rootcache" "timeout $timeout_s"
kk_run "$conf_root" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:2" "root-owned cache_dir: the directory answers"
check_eq "$(ls -A "$rootcache" | grep -c .)" 0 "root-owned cache_dir: nothing written as root"
kb_syslog_wait "user=alice instance=test-host event=cache-dir-not-owned" ||
    not_ok "root-owned cache_dir not logged"

# Made-up public keys and user names must not grow the cache without
# bound: sshd runs the command for every key a client offers, and PAM
# asks --has-keys for any user name a client sends.
fpcache=$(newcache)
conf_fp=$KB_T/fpcache.conf
kb_write_config "$conf_fp" "cache_dir $fpcache" "timeout $timeout_s"
for i in 1 2 3 4 5; do
	fp=SHA256:$(head -c 32 /dev/urandom | base64 | tr -d '=')
	kk_run "$conf_fp" alice "$fp"
	[ "$KK_RC:$(wc -c <"$KK_OUT")" = "0:0" ] ||
	    not_ok "made-up fingerprint $i: got $KK_RC"
done
userfiles() { ls -A "$fpcache" | grep -c '^u-'; }
check_eq "$(userfiles)" 0 \
    "no cache file for fingerprints that match nothing"
kk_run "$conf_fp" alice "$ka_fp"
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:1" "an attached key's fingerprint is served"
check_eq "$(userfiles)" 1 "and its answer is cached"
# the has-keys answer "none" is cached, but not past the file cap
kk_run "$conf_fp" --has-keys nosuchuser1
check_eq "$KK_RC:$(userfiles)" "3:2" \
    "--has-keys none: answer cached"
# fresh user files up to the cap (named like real ones; pruning keeps them)
(cd "$fpcache" && seq 1 10000 | xargs printf 'u-%064x\n' | xargs touch)
chown "$KB_CMD_USER:" "$fpcache"/u-*
kk_run "$conf_fp" --has-keys nosuchuser2
check_eq "$KK_RC:$(userfiles)" "3:10002" \
    "--has-keys none with a full cache: answered, not stored"
kb_syslog_wait "user=nosuchuser2 .*event=cache-store-failed error=\"cache full\"" ||
    not_ok "full cache not logged"
kk_run "$conf_fp" bob
check_eq "$KK_RC:$(userfiles)" "0:10002" \
    "a user with no keys and a full cache: not stored either"

# A cache_dir in group root: the drop must not keep gid 0.  The bind
# password file is 0640 root:root, readable only through group root, so
# keys served here would mean the lookup still ran with root's group.
grootcache=$(mktemp -d "$KB_T/grootcache.XXXXXX")
chown "$KB_CMD_USER:root" "$grootcache" && chmod 0700 "$grootcache"
install -m 0640 -o root -g root "$SLAPD_ROOTPW_FILE" "$KB_T/rootgroup-pw"
conf_groot=$KB_T/grootcache.conf
kb_write_config "$conf_groot" "cache_dir $grootcache" "timeout $timeout_s" \
    "binddn $SLAPD_ROOTDN" "bindpw_file $KB_T/rootgroup-pw"
kk_run "$conf_groot" alice
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" \
    "cache_dir in group root: runs as nobody, the root:root password is unreadable"
check_eq "$(ls -A "$grootcache" | grep -c .)" 0 \
    "cache_dir in group root: nothing written there"
# the same password file in the command user's group works (control)
chgrp "$(id -gn "$KB_CMD_USER")" "$KB_T/rootgroup-pw"
chgrp "$(id -gn "$KB_CMD_USER")" "$grootcache"
kk_run "$conf_groot" alice
check_eq "$KK_RC:$(grep -c . "$KK_OUT")" "0:2" \
    "cache_dir and password file in the command user's group: keys served"

kb_done
