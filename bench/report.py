#!/usr/bin/python3
"""report.py - merge the bench timer's phase results into results.json and
print the table with the target ratios.

    report.py --out FILE [--ops FILE] [--skipped FILE] [--tput FILE]
              [--meta K=V ...] -- PHASE.json ...
"""
import argparse
import json
import os
import sys

ORDER = [
    "true", "c-floor", "c-floor-starttls", "keybound", "keybound-starttls",
    "keybound-cached", "keybound-fingerprint", "keybound-1m",
    "ldapsearch-script", "ldapsearch-script-starttls", "python-ldap",
    "sssd-warm", "sssd-expired", "pam-keybound", "ssh-login-keybound",
    "ssh-login-sssd", "ssh-login-file", "storm",
    "ssh-login-keybound-nocache", "c-floor-1m", "sssd-first",
    "keybound-same", "keybound-signed", "keybound-signed-cached",
]

# (label, numerator row, denominator row, limit): ratio of medians <= limit
RATIOS = [
    ("keybound / sssd-warm", "keybound", "sssd-warm", 1.0),
    ("keybound / c-floor", "keybound", "c-floor", 0.8),
    ("keybound-cached / sssd-warm", "keybound-cached", "sssd-warm", 0.5),
    ("keybound-cached / true", "keybound-cached", "true", 2.0),
    ("keybound-starttls / c-floor-starttls", "keybound-starttls",
     "c-floor-starttls", 0.85),
    ("keybound / ldapsearch-script", "keybound", "ldapsearch-script", 0.6),
    ("keybound-1m / keybound", "keybound-1m", "keybound", 1.1),
    ("keybound-group / keybound", "keybound-group", "keybound", 1.15),
]

# (label, row, minus row, limit): difference of medians in ms <= limit
DIFFS = [
    ("keybound-signed - keybound-same (ms): verifying",
     "keybound-signed", "keybound-same", 0.3),
]

# Not targets: context for the ones above.
CONTEXT = [
    ("c-floor-1m / c-floor (the server's share)", "c-floor-1m", "c-floor"),
    ("keybound-cached - true (ms)", "keybound-cached", "true"),
    ("keybound-signed-cached - keybound-cached (ms)",
     "keybound-signed-cached", "keybound-cached"),
]


def load_rows(paths):
    rows = {}
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, encoding="ascii") as f:
            for r in json.load(f):
                rows[r["name"]] = r
    return rows


def read_tsv(path):
    out = []
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    out.append(line.split("\t"))
    return out


def targets(rows):
    """Yield (label, value text, limit text, met: True/False/None)."""
    def med(name):
        r = rows.get(name)
        return r["median_ms"] if r and "median_ms" in r else None

    for label, num, den, limit in RATIOS:
        a, b = med(num), med(den)
        if a is None or b is None or b <= 0:
            yield label, "n/a", "<= %.2f" % limit, None
        else:
            v = a / b
            # met or missed as printed: 0.754 against 0.75 reads 0.75
            v = round(v, 2)
            yield label, "%.2f" % v, "<= %.2f" % limit, v <= limit
    for label, num, den, limit in DIFFS:
        a, b = med(num), med(den)
        if a is None or b is None:
            yield label, "n/a", "<= %.2f" % limit, None
        else:
            v = round(a - b, 2)
            yield label, "%+.2f" % v, "<= %.2f" % limit, v <= limit
    for label, num, den in CONTEXT:
        a, b = med(num), med(den)
        if a is not None and b:
            v = a - b if "(ms)" in label else a / b
            yield label, "%.2f" % v, "", None
    storm = rows.get("storm")
    if storm and "median_ms" in storm:
        yield ("storm failures", str(storm["failures"]), "= 0",
               storm["failures"] == 0)
        s = storm.get("ldap_searches_per_call")
        if s is not None:
            # one lookup: this instance's host groups, then the keys
            yield ("storm LDAP searches per call (groups, keys)",
                   "%.2f" % s, "= 2", abs(s - 2.0) < 0.05)
        b = storm.get("ldap_binds_per_call")
        if b is not None:
            yield ("storm LDAP binds per call (anonymous config)",
                   "%.2f" % b, "<= 1", b <= 1.0)
        rss = round(storm["max_rss_kb"] / 1024, 1)
        yield ("storm peak RSS", "%.1f MiB" % rss, "<= 8 MiB", rss <= 8.0)
    else:
        yield "storm", "n/a", "", None
    k, s, f = med("ssh-login-keybound"), med("ssh-login-sssd"), \
        med("ssh-login-file")
    if None in (k, s, f):
        yield "ssh login: keybound - file <= sssd - file", "n/a", "", None
    else:
        yield ("ssh login: (keybound - file) vs (sssd-warm - file)",
               "%+.1f ms vs %+.1f ms" % (k - f, s - f), "<=", k - f <= s - f)
        n = med("ssh-login-keybound-nocache")
        if n is not None:
            yield ("  same, keybound with cache_ttl 0",
                   "%+.1f ms vs %+.1f ms" % (n - f, s - f), "", None)


# (label, row, minus row): what one piece of start-up costs
STARTUP = [
    ("exec of /bin/true", "startup-true", None),
    ("loading libcrypto (not used)", "startup-libcrypto", "startup-true"),
    ("OpenSSL initialisation + one SHA256", "startup-libcrypto-sha256",
     "startup-libcrypto"),
    ("  of which reading openssl.cnf", "startup-libcrypto-sha256",
     "startup-libcrypto-sha256-noconf"),
    ("  + one Ed25519 key from raw bytes", "startup-libcrypto-ed25519",
     "startup-libcrypto-sha256"),
    ("NSS host name lookup (gethostbyname_r of own name)",
     "startup-nss-hostname", "startup-libcrypto"),
    ("loading libldap's dependency tree", "startup-libldap-load",
     "startup-true"),
    ("  extra for BIND_NOW (-z now)", "startup-libldap-load-bindnow",
     "startup-libldap-load"),
    ("libldap global init + ldap_initialize", "startup-libldap-init",
     "startup-libldap-load"),
    ("  of which Cyrus SASL plugin loading", "startup-libldap-init",
     "startup-libldap-init-nosasl"),
    ("  of which ldap.conf/ldaprc/env (LDAPNOINIT)", "startup-libldap-init",
     "startup-libldap-init-noinit"),
    ("  what is left without both", "startup-libldap-init-nosasl-noinit",
     "startup-libldap-load"),
    ("c-floor search: saved by no SASL plugins", "startup-c-floor",
     "startup-c-floor-nosasl"),
    ("keybound: saved by no SASL plugins", "startup-keybound",
     "startup-keybound-nosasl"),
    ("keybound: storing the answer on disk, not tmpfs",
     "startup-keybound", "startup-keybound-cache-tmpfs"),
    ("keybound-keys start-up, no lookup (invalid user name)",
     "startup-keybound-usage", None),
]


def print_targets(rows):
    """The ratios with the target beside each; a missed one is marked."""
    print("%-52s %20s %10s  %s" % ("target (ratios of medians)", "value",
                                   "target", "met"))
    missed = []
    for label, value, limit, met in targets(rows):
        mark = {True: "yes", False: "NO  <-- MISSED",
                None: "" if not limit else "n/a"}[met]
        print("%-52s %20s %10s  %s" % (label, value, limit, mark))
        if met is False:
            missed.append(label)
    if missed:
        print("%d target(s) missed: %s" % (len(missed), "; ".join(missed)))
    else:
        print("every measured target met")
    print()


def print_throughput(tput):
    if not tput:
        return
    print("throughput: one slapd, concurrent keybound-keys calls "
          "(cache_ttl 0, waves of K)")
    hdr = "%11s %7s %9s %9s %9s %9s %5s" % (
        "concurrency", "calls", "wall ms", "calls/s", "median ms", "p99 ms",
        "fail")
    print(hdr)
    print("-" * len(hdr))
    for r in tput:
        print("%11d %7d %9d %9.1f %9.2f %9.2f %5d" % (
            r["concurrency"], r["n"], r["wall_ms"], r["calls_per_s"],
            r["median_ms"], r["p99_ms"], r["failures"]))
    print()


def print_startup(rows, dns):
    def stat(name, key):
        r = rows.get(name)
        if not r or key not in r or r.get("failures"):
            return None
        return r[key]

    if not any(n.startswith("startup-") for n in rows):
        return
    # The minimum is the cost without interference; the median shows what
    # a busy machine adds.  Both are differences of two rows of one phase.
    print("%-52s %10s %10s" % ("start-up, piece by piece", "min ms",
                               "median ms"))
    for label, a, b in STARTUP:
        cols = []
        for key in ("min_ms", "median_ms"):
            x = stat(a, key)
            y = stat(b, key) if b else 0.0
            cols.append(None if x is None or y is None else x - y)
        if cols[0] is None:
            continue
        print("%-52s %10.2f %10.2f" % (label, cols[0], cols[1]))
    if dns:
        print()
        print("%-52s %10s %5s" % ("with an unreachable resolver", "ms",
                                  "exit"))
        for name, ms, rc in dns:
            print("%-52s %10s %5s" % (name, ms, rc))
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--ops")
    ap.add_argument("--skipped")
    ap.add_argument("--dns")
    ap.add_argument("--tput")
    ap.add_argument("--meta", nargs="*", default=[])
    ap.add_argument("phases", nargs="*")
    args = ap.parse_args()

    rows = load_rows(args.phases)
    for fields in read_tsv(args.ops):
        name = fields[0]
        if name not in rows:
            continue
        rows[name]["ldap_searches_per_call"] = float(fields[1])
        rows[name]["ldap_binds_per_call"] = float(fields[2])
        if len(fields) > 3 and fields[3] != "-":
            rows[name]["server_ms_per_search"] = float(fields[3])
    # Throughput levels: NAME, concurrency, calls, wall ms.
    tput = []
    for name, conc, calls, wall in read_tsv(args.tput):
        if name not in rows or int(wall) <= 0:
            continue
        rows[name]["concurrency"] = int(conc)
        rows[name]["wall_ms"] = int(wall)
        rows[name]["calls_per_s"] = round(int(calls) * 1000.0 / int(wall), 1)
        tput.append(rows[name])
    skipped = {}
    for fields in read_tsv(args.skipped):
        skipped[fields[0]] = fields[1] if len(fields) > 1 else ""
    meta = dict(kv.split("=", 1) for kv in args.meta)
    dns = read_tsv(args.dns)

    out = []
    extra = sorted(n for n in rows if n not in ORDER and
                   not n.startswith("startup-"))
    startup = [n for n in rows if n.startswith("startup-")]
    for name in ORDER + extra + startup:
        if name in rows:
            out.append(rows[name])
        else:
            reason = skipped.get(name) or skipped.get(
                "sssd" if "sssd" in name else name, "not measured")
            out.append({"name": name, "skipped": reason})
    for name, ms, rc in dns:
        out.append({"name": "dns-unreachable-" + name,
                    "elapsed_ms": None if ms == "timeout" else int(ms),
                    "exit": None if rc == "-" else int(rc)})
    with open(args.out + ".tmp", "w", encoding="ascii") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.replace(args.out + ".tmp", args.out)

    print()
    print("keybound bench: %s" % ", ".join("%s=%s" % kv for kv in
                                            sorted(meta.items())))
    print()
    hdr = "%-28s %9s %9s %9s %8s %5s %5s %6s %7s" % (
        "row", "median ms", "p95 ms", "p99 ms", "RSS MiB", "n", "fail",
        "srch/c", "srv ms")
    print(hdr)
    print("-" * len(hdr))
    for r in out:
        if r["name"].startswith(("startup-", "dns-")):
            continue
        if "median_ms" not in r:
            print("%-28s skipped: %s" % (r["name"], r["skipped"]))
            continue
        s = r.get("ldap_searches_per_call")
        e = r.get("server_ms_per_search")
        print("%-28s %9.2f %9.2f %9.2f %8.1f %5d %5d %6s %7s" % (
            r["name"], r["median_ms"], r["p95_ms"], r["p99_ms"],
            r["max_rss_kb"] / 1024, r["n"], r["failures"],
            "" if s is None else "%.2f" % s,
            "" if e is None else "%.3f" % e))
    print()
    print_targets(rows)
    print_throughput(tput)
    print_startup(rows, dns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
