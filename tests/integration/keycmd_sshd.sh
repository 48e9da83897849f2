#!/bin/bash
# keycmd_sshd: keybound-keys as a real sshd's AuthorizedKeysCommand against a
# throwaway slapd.  Attached keys log in; after an ldapmodify that removes
# the attachment the next login (after cache_ttl) is refused with nothing
# restarted; keys attached to another user or instance never log in; %f
# narrows the answer to one key with one indexed search; --has-keys exit
# codes 0/3/1/2.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 3"
conf0=$KB_T/kb0.conf
kb_write_config "$conf0" "cache_dir $KB_CACHE_DIR" "cache_ttl 0"

alice=kba$$
bob=kbb$$
kb_make_user "$alice" || fail "useradd"
kb_make_user "$bob" || fail "useradd"

kk_keygen ka && ka_fp=$KK_FP && kk_add_keypair ka "$KK_PUB" "$KK_FP" \
    "$alice@test-host" || fail "add ka"
kk_keygen ka2 ecdsa 256 && ka2_fp=$KK_FP && ka2_pub=$KK_PUB &&
    kk_add_keypair ka2 "$KK_PUB" "$KK_FP" "$alice@test-host" ||
    fail "add ka2"
kk_keygen kbob && kk_add_keypair kbob "$KK_PUB" "$KK_FP" \
    "$bob@test-host" || fail "add kbob"
kk_keygen kother && kk_add_keypair kother "$KK_PUB" "$KK_FP" \
    "$alice@other-host" "$alice@test-host2" "$alice@test-hos" ||
    fail "add kother"
# An attachment differing only in case or spaces must not match either.
kk_keygen kcase && kk_add_keypair kcase "$KK_PUB" "$KK_FP" \
    "${alice^^}@test-host" "$alice@TEST-HOST" ||
    fail "add kcase"

sshd_start "$conf" || fail "sshd did not start"
sshd_pid=$SSHD_PID
slapd_pid=$SLAPD_PID

# --- attached keys log in, and only they ---------------------------------
out=$(kb_ssh_key_login "$alice" "$KB_T/ka" id -un)
check_eq "$?:$out" "0:$alice" "attached ed25519 key logs in"
out=$(kb_ssh_key_login "$alice" "$KB_T/ka2" id -un)
check_eq "$?:$out" "0:$alice" "second attached (ecdsa) key logs in"
kb_ssh_key_login "$alice" "$KB_T/kbob" 2>/dev/null
check_eq "$?" 255 "key attached to another user is refused"
kb_ssh_key_login "$bob" "$KB_T/ka" 2>/dev/null
check_eq "$?" 255 "alice's key does not log in as bob"
kb_ssh_key_login "$alice" "$KB_T/kother" 2>/dev/null
check_eq "$?" 255 "key attached to other instances is refused"
kb_ssh_key_login "$alice" "$KB_T/kcase" 2>/dev/null
check_eq "$?" 255 "case-folded attachment is refused"
out=$(kb_ssh_key_login "$bob" "$KB_T/kbob" id -un)
check_eq "$?:$out" "0:$bob" "bob's key logs in as bob"

# sshd asks twice per key (query, then signature); cache_ttl absorbs it.
# (Ages are whole seconds: cache_ttl 3 leaves at least 2 s between them.)
sleep 3.1
before=$(slapd_count_searches)
kb_ssh_key_login "$alice" "$KB_T/ka" true
after=$(slapd_count_searches)
# one lookup = two searches on one connection: host groups, then keys
check_eq "$((after - before))" 2 "one login costs one lookup (cache absorbs the second call)"
kb_syslog_wait "keybound-keys\[[0-9]+\]: user=$alice instance=test-host fingerprint=$(kk_re "$ka_fp") source=cache count=1 .*result=ok" ||
    not_ok "cache hit not logged"

# --- %f: one key, one indexed search -------------------------------------
grep -rqs "olcDbIndex: keyboundFingerprint eq" "$SLAPD_DIR/slapd.d" ||
    grep -rqs "olcDbIndex:.*keyboundFingerprint.*eq" "$SLAPD_DIR/slapd.d"
check_eq "$?" 0 "keyboundFingerprint has an equality index"
before=$(slapd_count_searches)
conns=$(grep -c ' ACCEPT from' "$SLAPD_LOG")
kk_run "$conf0" "$alice" "$ka2_fp"
after=$(slapd_count_searches)
check_eq "$(( $(grep -c ' ACCEPT from' "$SLAPD_LOG") - conns ))" 1 \
    "%f: one connection"
check_eq "$KK_RC" 0 "%f lookup exits 0"
check_eq "$(grep -c . "$KK_OUT")" 1 "%f prints exactly one line"
check_eq "$(cut -d' ' -f1,2 "$KK_OUT")" "$ka2_pub" "%f prints the key asked for"
check_eq "$(awk '{print $NF}' "$KK_OUT")" "keybound:ka2" "line carries keybound:NAME"
check_eq "$((after - before))" 2 "%f costs one lookup: the group search and one key search"
grep -F "keyboundFingerprint=$ka2_fp" "$SLAPD_LOG" | grep -q SRCH
check_eq "$?" 0 "the search asks the fingerprint attribute"
kk_run "$conf0" "$alice" "$(ssh-keygen -l -f "$KB_T/kbob.pub" | awk '{print $2}')"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "0:0" "%f of another user's key prints nothing"
kk_run "$conf0" "$alice"
check_eq "$(grep -c . "$KK_OUT")" 2 "all keys: both of alice's keys"
kk_lines_valid "$KK_OUT"
check_eq "$?" 0 "every line passes ssh-keygen -l"

# --- detach: refused at the next login, nothing restarted ----------------
kk_detach ka "$alice@test-host" || fail "ldapmodify detach"
sleep 3.1
kb_ssh_key_login "$alice" "$KB_T/ka" 2>/dev/null
check_eq "$?" 255 "detached key refused after cache_ttl"
out=$(kb_ssh_key_login "$alice" "$KB_T/ka2" id -un)
check_eq "$?:$out" "0:$alice" "the other key still logs in"
kk_attach ka "$alice@test-host" || fail "ldapmodify attach"
sleep 3.1
out=$(kb_ssh_key_login "$alice" "$KB_T/ka" id -un)
check_eq "$?:$out" "0:$alice" "re-attached key logs in again"
check_eq "$SSHD_PID:$SLAPD_PID" "$sshd_pid:$slapd_pid" "no restart"
kill -0 "$sshd_pid" && kill -0 "$slapd_pid"
check_eq "$?" 0 "sshd and slapd kept running"

# --- --has-keys exit codes ------------------------------------------------
kk_run "$conf0" --has-keys "$alice"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "0:0" "--has-keys attached: 0, prints nothing"
kk_run "$conf0" --has-keys "nobody-here$$"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "3:0" "--has-keys nothing attached: 3"
kk_run "$conf0" --has-keys "-rf"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "--has-keys invalid user: 2"
kk_run "$conf0" --has-keys "$alice" "$ka_fp"
check_eq "$KK_RC" 2 "--has-keys with a fingerprint: usage error 2"
kk_run "$conf0"
check_eq "$KK_RC" 2 "no user: usage error 2"
kk_run "$conf0" "$alice" "SHA256:short"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "malformed fingerprint: 2"
kk_run "$conf0" "$alice" "$ka_fp" extra
check_eq "$KK_RC" 2 "too many arguments: 2"
printf 'uri %s\nbase %s\nbogus_keyword 1\n' "$SLAPD_URI" "$SLAPD_BASE" \
    >"$KB_T/bad.conf"
kk_run "$KB_T/bad.conf" "$alice"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "bad config: 2, nothing printed"
grep -q "bad.conf:3: bogus_keyword" "$KB_T/kk.err"
check_eq "$?" 0 "config error names file:line: keyword"
kk_run "$KB_T/missing.conf" "$alice"
check_eq "$KK_RC" 2 "missing config: 2"
chmod 0666 "$conf0"
kk_run "$conf0" "$alice"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "2:0" "world-writable config refused: 2"
chmod 0644 "$conf0"

slapd_stop
kk_run "$conf0" --has-keys "never-cached$$"
check_eq "$KK_RC" 1 "--has-keys directory down, no cache: 1"
kk_run "$conf0" "never-cached$$"
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "1:0" "keys, directory down, no cache: 1"
kb_syslog_wait "user=never-cached$$ instance=test-host .*result=unavailable" ||
    not_ok "unavailable not logged"
kk_run "$conf0" --has-keys "$alice"
check_eq "$KK_RC" 0 "--has-keys directory down, cached attached: 0"

kb_done
