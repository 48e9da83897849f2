#!/bin/bash
# keycmd_max_keys: 5,000 key pairs attached to one user, each entry
# carrying ~3.6 KB of attachment values (18 MB in all, more than the
# 16 MiB a search may hand over at once), loaded in shuffled name order.
# keybound-keys streams the entries and keeps only the first max_keys by
# key pair name:
#   exit 0, exactly max_keys (100) lines, the names m0000..m0099 in order,
#   every line valid for ssh-keygen, an error line event=max-keys with
#   count=4900 in syslog, --has-keys exit 0, and peak RSS (from
#   /usr/bin/time -v) under a bound far below the answer's size;
#   with max_keys 1000 the first 1000 names, in order.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

command -v python3 >/dev/null || skip "python3 missing (tests/deps.sh)"
[ -x /usr/bin/time ] || skip "/usr/bin/time missing"

python3 - "$SLAPD_BASE" >"$KB_T/many.ldif" <<'PY'
import base64, os, random, struct, sys
base = sys.argv[1]
def s(b): return struct.pack(">I", len(b)) + b
names = ["m%04d" % i for i in range(5000)]
random.Random(4242).shuffle(names)
for name in names:
    blob = s(b"ssh-ed25519") + s(os.urandom(32))
    print("dn: cn=%s,%s" % (name, base))
    print("objectClass: keyboundKeyPair")
    print("cn: " + name)
    print("keyboundPublicKey: ssh-ed25519 " + base64.b64encode(blob).decode())
    print("keyboundFingerprint: SHA256:" + name)
    print("keyboundAttachment: many@test-host")
    # a pair attached across a fleet: long instance ids, ~3.6 KB
    for j in range(36):
        print("keyboundAttachment: u%02d@i%02d-%s-%s" % (j, j, name, "x" * 84))
    print()
PY
[ "$(stat -c %s "$KB_T/many.ldif")" -gt $((17 * 1024 * 1024)) ] ||
    fail "the generated LDIF is smaller than the 16 MiB search bound"
slapd_start --load "$KB_T/many.ldif" || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
conf=$KB_T/kb.conf
kb_write_config "$conf" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "timeout 20" "network_timeout 20"

# run_timed CONF ARGS...: keybound-keys under /usr/bin/time -v; stdout in
# $KK_OUT, status in KK_RC, peak RSS in KB in RSS_KB.
run_timed() {
	local conf=$1
	shift
	KK_OUT=$KB_T/kk.out
	/usr/bin/time -v -o "$KB_T/time.out" "$KB_KEYS_CMD" -c "$conf" "$@" \
	    >"$KK_OUT" 2>"$KB_T/kk.err"
	KK_RC=$?
	RSS_KB=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' \
	    "$KB_T/time.out")
	WALL=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time.*: //p' \
	    "$KB_T/time.out")
}

run_timed "$conf" many
check_eq "$KK_RC" 0 "5,000 pairs, 18 MB of entries: exit 0"
check_eq "$(grep -c . "$KK_OUT")" 100 "exactly max_keys (100) lines"
seq -f 'keybound:m%04g' 0 99 >"$KB_T/want"
awk '{print $NF}' "$KK_OUT" >"$KB_T/got"
cmp -s "$KB_T/want" "$KB_T/got"
check_eq "$?" 0 "the first max_keys names by key pair name, in order"
kk_lines_valid "$KK_OUT"
check_eq "$?" 0 "every line passes ssh-keygen -l"
kb_syslog_wait "<[0-9]+>.* user=many instance=test-host event=max-keys .*count=4900" ||
    not_ok "max_keys overflow not logged"
prio=$(grep -E "^<[0-9]+>.* user=many .*event=max-keys" "$KB_SYSLOG" |
    head -1 | sed -E 's/^<([0-9]+)>.*/\1/')
# priority = facility authpriv (10) * 8 + severity; LOG_ERR is 3
check_eq "${prio:-none}" $((10 * 8 + 3)) "the max-keys line is logged as an error"
rss_many=$RSS_KB
echo "5,000 pairs: wall clock $WALL"
# the same run for a user with nothing attached: libraries, TLS, one search
run_timed "$conf" nobody-here
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "0:0" "a user with nothing attached: exit 0, no lines"
rss_base=$RSS_KB
echo "peak RSS: ${rss_many} KB for 5,000 pairs, ${rss_base} KB for none"
[ -n "$rss_many" ] && [ -n "$rss_base" ] &&
    [ "$rss_many" -lt $((rss_base + 4096)) ]
check_eq "$?" 0 "peak RSS for 5,000 pairs (${rss_many} KB) within 4 MiB of none (${rss_base} KB); entries in all: 18 MB"

run_timed "$conf" --has-keys many
check_eq "$KK_RC:$(wc -c <"$KK_OUT")" "0:0" "--has-keys: exit 0, nothing printed"

conf1000=$KB_T/kb1000.conf
kb_write_config "$conf1000" "cache_dir $KB_CACHE_DIR" "cache_ttl 0" \
    "timeout 20" "network_timeout 20" "max_keys 1000"
run_timed "$conf1000" many
seq -f 'keybound:m%04g' 0 999 >"$KB_T/want"
awk '{print $NF}' "$KK_OUT" >"$KB_T/got"
cmp -s "$KB_T/want" "$KB_T/got"
check_eq "$KK_RC:$?" "0:0" "max_keys 1000: the first 1000 names, in order"
echo "peak RSS with max_keys 1000: ${RSS_KB} KB"

kb_done
