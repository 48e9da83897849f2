#!/bin/bash
# bench_smoke.sh - `make bench` in miniature, so the harness cannot rot: a
# small directory, a few calls per row.  It checks that every row is
# produced with sane numbers and that the JSON parses; it asserts nothing
# about performance.
. "$KB_SRC/tests/lib/common.sh"

[ "$(id -u)" = 0 ] || skip "needs root (sshd, sssd, a command user)"
[ -x "$KB_BUILD/keybound-keys" ] || skip "keybound-keys not built"
kb_tmpdir

out=$KB_T/results.json
start=$(kb_ms)
BENCH_SMOKE=1 BENCH_NO_DEPS=1 BENCH_OUT=$out "$KB_SRC/bench/run.sh" \
    >"$KB_T/bench.log" 2>&1
rc=$?
cat "$KB_T/bench.log"
check_eq "$rc" 0 "bench/run.sh (smoke) exits 0"
[ -s "$out" ] || fail "no results file"
elapsed=$(( $(kb_ms) - start ))
if [ "$elapsed" -lt 120000 ]; then
	ok "smoke run took ${elapsed} ms"
else
	not_ok "smoke run took ${elapsed} ms (over 2 minutes)"
fi

# Rows whose peer tool is missing here may be skipped with a reason; every
# other row must be measured.
optional=""
{ [ -x /usr/sbin/sssd ] && ls /usr/lib/*/sssd/libsss_ldap.so >/dev/null 2>&1 &&
    unshare --mount --propagation private true 2>/dev/null; } ||
    optional="$optional sssd-warm sssd-expired ssh-login-sssd"
/usr/bin/python3 -c 'import ldap' 2>/dev/null || optional="$optional python-ldap"

/usr/bin/python3 - "$out" "$optional" <<'EOF'
import json
import sys

rows = json.load(open(sys.argv[1], encoding="ascii"))
optional = set(sys.argv[2].split())
names = [
    "true", "c-floor", "c-floor-starttls", "keybound", "keybound-starttls",
    "keybound-cached", "keybound-fingerprint", "keybound-1m",
    "ldapsearch-script", "ldapsearch-script-starttls", "python-ldap",
    "sssd-warm", "sssd-expired", "pam-keybound", "ssh-login-keybound",
    "ssh-login-sssd", "ssh-login-file", "storm",
]
bad = 0


def check(cond, msg):
    global bad
    print(("ok - " if cond else "not ok - ") + msg)
    if not cond:
        bad += 1


check(isinstance(rows, list), "results.json is a list of rows")
by = {r.get("name"): r for r in rows}
check(len(by) == len(rows), "row names are unique")
for name in names:
    r = by.get(name)
    if r is None:
        check(False, "%s: row present" % name)
        continue
    if "skipped" in r:
        check(name in optional, "%s: skipped only if its tool is missing "
              "(%s)" % (name, r["skipped"]))
        continue
    num = ("median_ms", "p95_ms", "p99_ms", "max_rss_kb", "n")
    check(all(isinstance(r.get(k), (int, float)) for k in num),
          "%s: numeric fields present" % name)
    if not all(isinstance(r.get(k), (int, float)) for k in num):
        continue
    check(r["n"] >= 3, "%s: n = %d >= 3" % (name, r["n"]))
    check(0 < r["median_ms"] <= r["p95_ms"] <= r["p99_ms"] < 30000,
          "%s: 0 < median %.2f <= p95 %.2f <= p99 %.2f < 30 s" % (
              name, r["median_ms"], r["p95_ms"], r["p99_ms"]))
    check(100 < r["max_rss_kb"] < 1024 * 1024,
          "%s: peak RSS %d KiB is plausible" % (name, r["max_rss_kb"]))
    check(r.get("failures") == 0, "%s: no failed calls (%s)" % (
        name, r.get("failures")))
s = by.get("storm", {})
check("failures" in s, "storm reports failures")
check(s.get("n", 0) >= 20, "storm ran its concurrent calls")
k = by.get("keybound", {})
check(k.get("ldap_searches_per_call") is not None,
      "searches per call read from slapd's stats log")
c = by.get("keybound-cached", {})
check(c.get("ldap_searches_per_call") == 0,
      "the cache hit asks the directory nothing")
sys.exit(1 if bad else 0)
EOF
check_eq "$?" 0 "every row present with sane numbers"

# Nothing of the run is left behind.
check_eq "$(ls -d /run/kbbench.* 2>/dev/null | wc -l)" 0 \
    "no authorized_keys directory left in /run"
if [ -e /run/sssd.pid ] && ! pgrep -x sssd >/dev/null; then
	not_ok "a stale /run/sssd.pid is left"
else
	ok "no stale sssd pid file"
fi
kb_done
