#!/bin/bash
# keycmd_dns: DNS unreachable.  libldap's initialisation looks up the
# host's own name through NSS; with a host name missing from /etc/hosts and
# a resolver that never answers, keybound-keys and --has-keys must still
# answer (from the directory or the cache) within timeout + 0.5 s.
#
# A test network namespace (ip netns exec reads /etc/netns/NAME/resolv.conf)
# whose only name server is a silent UDP listener on its loopback port 53;
# unshare -u sets a host name that is not in /etc/hosts; slapd is reached
# through its ldapi:// socket.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/sshd.sh"
. "$KB_SRC/tests/lib/slapd.sh"
. "$KB_SRC/tests/lib/keycmd.sh"
kb_private_syslog "$@"

command -v ip >/dev/null || skip "ip (iproute2) not installed"
slapd_start || fail "slapd did not start"
kb_install_keys_cmd || fail "cannot install keybound-keys"
kk_keygen ka && ka_pub=$KK_PUB
kk_add_keypair ka "$KK_PUB" "$KK_FP" "alice@test-host" || fail "add ka"

ns=kbdns$$
host=kbnohost$$
ip netns add "$ns" || skip "cannot create a network namespace"
kb_on_exit "ip netns del '$ns'"
[ -d /etc/netns ] || kb_on_exit "rmdir /etc/netns"
mkdir -p "/etc/netns/$ns" || fail "mkdir /etc/netns/$ns"
kb_on_exit "rm -rf '/etc/netns/$ns'"
printf 'nameserver 127.0.0.1\n' >"/etc/netns/$ns/resolv.conf"
ip netns exec "$ns" ip link set lo up || fail "lo up"
ip netns exec "$ns" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
while True:
    s.recvfrom(4096)	# read and never answer
' &
kb_kill_at_exit $!
for _ in $(seq 1 50); do
	ip netns exec "$ns" ss -Hlun 'sport = :53' | grep -q . && break
	sleep 0.05
done
grep -qw "$host" /etc/hosts && fail "$host is in /etc/hosts"

# in_ns ARGS...: keybound-keys in the namespace under the unknown host name
in_ns() {
	local t0
	t0=$(kb_ms)
	ip netns exec "$ns" unshare -u sh -c \
	    'hostname "$1" && shift && exec "$@"' sh "$host" \
	    "$KB_KEYS_CMD" "$@" >"$KB_T/ns.out" 2>"$KB_T/ns.err"
	NS_RC=$?
	NS_MS=$(($(kb_ms) - t0))
}

# The resolver really hangs in there: a plain lookup of the host name.
t0=$(kb_ms)
ip netns exec "$ns" unshare -u sh -c 'hostname "$1" && exec timeout 4 getent hosts "$1"' sh "$host" >/dev/null
rc=$?
ms=$(($(kb_ms) - t0))
[ "$rc" = 124 ] || [ "$ms" -ge 1500 ]
check_eq "$?" 0 "DNS does not answer in the namespace (getent: rc $rc, ${ms} ms)"

cache=$(mktemp -d "$KB_T/cache.XXXXXX")
chown "$KB_CMD_USER:" "$cache" && chmod 0700 "$cache"

# --- no cache: the directory answers within timeout + 0.5 s ------------------
conf=$KB_T/dns3.conf
kb_write_config "$conf" "uri $SLAPD_LDAPI_URI" "cache_dir $cache" \
    "timeout 3" "network_timeout 1" "cache_ttl 0"
in_ns -c "$conf" alice
check_eq "$NS_RC:$(grep -c "$ka_pub keybound:ka" "$KB_T/ns.out")" "0:1" \
    "DNS unreachable, no cache: keys from the directory"
[ "$NS_MS" -lt 3500 ]
check_eq "$?" 0 "DNS unreachable, no cache: within timeout + 0.5 s (${NS_MS} ms)"
in_ns -c "$conf" --has-keys alice
check_eq "$NS_RC" 0 "DNS unreachable: --has-keys from the directory: 0"
[ "$NS_MS" -lt 3500 ]
check_eq "$?" 0 "DNS unreachable: --has-keys within timeout + 0.5 s (${NS_MS} ms)"
in_ns -c "$conf" --has-keys bob
check_eq "$NS_RC" 3 "DNS unreachable: --has-keys for bob: 3"

# --- a hang longer than the deadline: the watchdog answers from the cache ---
# Three silent servers: even with keybound-keys' bounded resolver options
# (one attempt of network_timeout each) the lookup outlasts timeout 1.
printf 'nameserver 127.0.0.1\nnameserver 127.0.0.2\nnameserver 127.0.0.3\n' \
    >"/etc/netns/$ns/resolv.conf"
conf=$KB_T/dns1.conf
kb_write_config "$conf" "uri $SLAPD_LDAPI_URI" "cache_dir $cache" \
    "timeout 1" "network_timeout 1" "cache_ttl 0"
for i in 1 2 3; do
	in_ns -c "$conf" alice
	check_eq "$NS_RC:$(grep -c "$ka_pub keybound:ka" "$KB_T/ns.out")" "0:1" \
	    "timeout 1, run $i: keys answered"
	[ "$NS_MS" -lt 1500 ]
	check_eq "$?" 0 "timeout 1, run $i: within timeout + 0.5 s (${NS_MS} ms)"
	in_ns -c "$conf" --has-keys alice
	check_eq "$NS_RC" 0 "timeout 1, run $i: --has-keys answered"
	[ "$NS_MS" -lt 1500 ]
	check_eq "$?" 0 "timeout 1, run $i: --has-keys within timeout + 0.5 s (${NS_MS} ms)"
done
grep -Eq "keybound-keys\[[0-9]+\]: user=alice instance=test-host source=cache count=1 age_s=[0-9]+ elapsed_ms=1[0-9]{3} result=offline error=\"directory timed out\" detail=deadline" "$KB_SYSLOG"
check_eq "$?" 0 "the watchdog served the cache at the deadline, logged"

# Nothing cached and a deadline shorter than the hang: a bounded failure.
in_ns -c "$conf" --has-keys "never$$"
case "$NS_RC" in 1|3) r=0 ;; *) r=1 ;; esac
check_eq "$r" 0 "no cache: --has-keys fails or answers (exit $NS_RC)"
[ "$NS_MS" -lt 1500 ]
check_eq "$?" 0 "no cache: --has-keys within timeout + 0.5 s (${NS_MS} ms)"
in_ns -c "$conf" "never$$"
check_eq "$(wc -c <"$KB_T/ns.out")" 0 "no cache: nothing printed"
[ "$NS_MS" -lt 1500 ]
check_eq "$?" 0 "no cache: within timeout + 0.5 s (${NS_MS} ms)"

kb_done
