#!/bin/bash
# bench/run.sh - `make bench`: keybound-keys against its peers, side by side,
# in one run on this machine.
#
# A throwaway slapd on loopback (10,000 users, 20,000 key pairs in the
# keybound schema plus the same keys as openssh-lpk entries for the peers,
# bulk-loaded with slapadd), a second one with 1,000,000 key pairs, a
# throwaway sssd against the first, then every row timed by bench/timer
# (fork/exec, interleaved round by round, as the AuthorizedKeysCommandUser
# with the environment sshd gives the command), then a login storm, then
# ssh logins through three real sshds.  Prints a table with the target
# ratios and writes bench/results.json.
#
# Knobs (environment):
#   BENCH_CALLS=300     calls per row
#   BENCH_LOGINS=300    ssh logins per login row
#   BENCH_USERS=10000   users (two key pairs each) in the main directory
#   BENCH_BIG=1000000   key pairs in the big directory; BENCH_1M=0 skips it
#   BENCH_STORM=200     concurrent calls in the storm; BENCH_STORM_WAVES=5
#   BENCH_TPUT="1 8 32 128"  concurrency levels of the throughput phase;
#   BENCH_TPUT_CALLS=512     calls at each level
#   BENCH_OUT=bench/results.json
#   BENCH_DNS=0         skip the unreachable-resolver probes (about 25 s)
#   BENCH_NO_DEPS=1     do not run tests/deps.sh bench
#   BENCH_SMOKE=1       the harness check: small directory, few calls
#
# Needs root (sshd, the command user, sssd).  Everything started is stopped
# by PID and everything created is removed at exit.  sssd only talks to
# clients through its compiled-in /var/lib/sss, so the whole run happens in
# a private mount namespace where a temporary directory is mounted over it;
# nothing outside the namespace sees it.
# Sizing, from the throughput phase. `make bench` ends with a throughput
# table: waves of K concurrent keybound-keys calls (`cache_ttl 0`) against
# one slapd. On the 2-core test machine, shared with other jobs (load 4-9)
# and with clients and server on the same cores, one slapd answered 32-44
# calls per second at every K from 1 to 64, p99 42 ms alone and 1.4 s at
# 64 at a time, no call failed. That ceiling is the clients': each call is
# a process that starts, loads libldap and exits, while slapd's own time
# per search (`srv ms`) was 0.44 ms there and 0.1-0.2 ms in the quiet run
# under Performance; on paper, about 5,000 searches per second per core. A
# login costs at most one search (sshd's second call is a cache hit), and
# none when that user logged in on that instance within `cache_ttl`. So,
# on paper: 10,000 instances at one login per minute each are 170 searches
# per second, a few percent of one core; 100,000 instances are 1,700
# searches and as many TCP connections per second (each call connects
# anew), still one server's work but worth spreading over consumers, so
# that a lost server or a fleet-wide burst (an orchestration run logging
# into every instance at once: 100,000 searches, some 20 core-seconds)
# lands on several. Reads scale with the number of consumers; writes reach
# every server but are administrators' commands, few. A longer `cache_ttl`
# only absorbs repeated logins of one user on one instance (automation
# loops), at the price of revocation delayed by as much.

set -u

KB_SRC=$(cd "$(dirname "$0")/.." && pwd)
: "${KB_BUILD:=$KB_SRC/build}"
case "$KB_BUILD" in /*) ;; *) KB_BUILD=$KB_SRC/$KB_BUILD ;; esac
export KB_SRC KB_BUILD

if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	: "${BENCH_CALLS:=5}" "${BENCH_LOGINS:=3}" "${BENCH_USERS:=200}"
	: "${BENCH_1M:=1}" "${BENCH_BIG:=2000}" "${BENCH_STORM:=20}"
	: "${BENCH_STORM_WAVES:=2}" "${BENCH_WARMUP:=1}" "${BENCH_DNS:=0}"
	: "${BENCH_TPUT:=1 4}" "${BENCH_TPUT_CALLS:=16}"
fi
: "${BENCH_CALLS:=300}" "${BENCH_LOGINS:=300}" "${BENCH_USERS:=10000}"
: "${BENCH_1M:=1}" "${BENCH_BIG:=1000000}" "${BENCH_STORM:=200}"
: "${BENCH_STORM_WAVES:=5}" "${BENCH_WARMUP:=3}"
: "${BENCH_TPUT:=1 8 32 128}" "${BENCH_TPUT_CALLS:=512}"
: "${BENCH_OUT:=$KB_SRC/bench/results.json}"
export BENCH_CALLS BENCH_LOGINS BENCH_USERS BENCH_1M BENCH_BIG BENCH_STORM \
    BENCH_STORM_WAVES BENCH_WARMUP BENCH_OUT BENCH_TPUT BENCH_TPUT_CALLS

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

if [ "$(id -u)" != 0 ]; then
	say "needs root (sshd, a command user, sssd)"
	exit 77
fi

if [ -z "${KB_BENCH_NS:-}" ]; then
	if [ "${BENCH_NO_DEPS:-0}" != 1 ]; then
		"$KB_SRC/tests/deps.sh" bench || die "tests/deps.sh bench failed"
	fi
	if unshare --mount --propagation private true 2>/dev/null; then
		export KB_BENCH_NS=1
		exec unshare --mount --propagation private "$0" "$@"
	fi
	export KB_BENCH_NS=none	# no mount namespace here: no sssd rows
fi

# shellcheck source=tests/lib/common.sh
. "$KB_SRC/tests/lib/common.sh"
# shellcheck source=tests/lib/slapd.sh
. "$KB_SRC/tests/lib/slapd.sh"
# shellcheck source=tests/lib/sshd.sh
. "$KB_SRC/tests/lib/sshd.sh"

kb_tmpdir
BB=$KB_BUILD/bench
INSTANCE=benchhost
ROWS=$KB_T/rows
mkdir -p "$ROWS"
T0=$(kb_ms)

make -s -f "$KB_SRC/bench/Makefile" -C "$KB_SRC" B="$KB_BUILD" >&2 ||
    die "building the bench programs failed"
have_kb=0
[ -x "$KB_BUILD/keybound-keys" ] && have_kb=1
have_sssd=0
if [ -x /usr/sbin/sssd ] && [ -x /usr/bin/sss_ssh_authorizedkeys ] &&
    ls /usr/lib/*/sssd/libsss_ldap.so >/dev/null 2>&1; then
	have_sssd=1
fi
have_python=0
/usr/bin/python3 -c 'import ldap' 2>/dev/null && have_python=1

# skipped NAME REASON: a row that cannot be measured here.
skipped() {
	printf '%s\t%s\n' "$1" "$2" >>"$KB_T/skipped"
	say "skipping $1: $2"
}
: >"$KB_T/skipped"

# --- the directories --------------------------------------------------------

# load_directory USERS FILLER: start a slapd bulk-loaded with gen-ldif's
# output through a pipe (no LDIF file on disk); sets LOAD_MS.
load_directory() {
	local users=$1 filler=$2 t gen
	t=$(kb_ms)
	rm -f "$KB_T/load.fifo"
	mkfifo "$KB_T/load.fifo" || return 1
	"$BB/gen-ldif" -n "$users" -k 2 -P -f "$filler" -i "$INSTANCE" \
	    -b "$SLAPD_BASE" -p "$SLAPD_PEOPLE" >"$KB_T/load.fifo" &
	gen=$!
	slapd_start --load "$KB_T/load.fifo" || return 1
	wait "$gen" || return 1
	LOAD_MS=$(( $(kb_ms) - t ))
}

say "loading $BENCH_USERS users, $((2 * BENCH_USERS)) key pairs"
load_directory "$BENCH_USERS" 0 || die "slapd did not start"
main_load_ms=$LOAD_MS
MAIN_URI=$SLAPD_URI MAIN_LOG=$SLAPD_LOG MAIN_PID=$SLAPD_PID
MAIN_ROOTPW=$SLAPD_ROOTPW_FILE MAIN_LDAPI=$SLAPD_LDAPI_URI
say "main directory ready in $main_load_ms ms"

big_load_ms=0
BIG_URI=
if [ "$BENCH_1M" = 1 ]; then
	say "loading $BENCH_BIG key pairs (BENCH_1M=0 skips this)"
	load_directory "$BENCH_USERS" $((BENCH_BIG - 2 * BENCH_USERS)) ||
	    die "big slapd did not start"
	big_load_ms=$LOAD_MS
	BIG_URI=$SLAPD_URI BIG_LOG=$SLAPD_LOG
	say "big directory ready in $big_load_ms ms"
	# The harness's variables describe the last one started.
	SLAPD_URI=$MAIN_URI SLAPD_LOG=$MAIN_LOG SLAPD_PID=$MAIN_PID
	SLAPD_ROOTPW_FILE=$MAIN_ROOTPW SLAPD_LDAPI_URI=$MAIN_LDAPI
fi

# fingerprint_of USER: the keyboundFingerprint of USER's first key pair.
fingerprint_of() {
	LDAPNOINIT=1 ldapsearch -x -LLL -o ldif-wrap=no -H "$MAIN_URI" \
	    -b "cn=$1-k0,$SLAPD_BASE" -s base keyboundFingerprint |
	    sed -n 's/^keyboundFingerprint: //p'
}

# --- the command user, keybound configs, the login user -------------------

if [ $have_kb = 1 ]; then
	kb_install_keys_cmd || die "installing keybound-keys failed"
	CMD_USER=$KB_CMD_USER
else
	CMD_USER=nobody
fi

# kb_conf NAME URI [LINE...]: a keybound.conf with its own cache directory.
kb_conf() {
	local name=$1 uri=$2
	shift 2
	mkdir -p "$KB_T/cache-$name" || return 1
	chown "$CMD_USER:" "$KB_T/cache-$name" && chmod 0700 "$KB_T/cache-$name"
	kb_write_config "$KB_T/$name.conf" "uri $uri" "instance $INSTANCE" \
	    "cache_dir $KB_T/cache-$name" "$@"
}
kb_conf direct "$MAIN_URI" "cache_ttl 0"
kb_conf starttls "$MAIN_URI" "cache_ttl 0" "starttls yes"
kb_conf cached "$MAIN_URI" "cache_ttl 86400"
kb_conf storm "$MAIN_URI" "cache_ttl 0" "timeout 10" "network_timeout 5"
# As deployed: the default cache_ttl (10 s) absorbs sshd's second call.
kb_conf login "$MAIN_URI"
kb_conf login-nocache "$MAIN_URI" "cache_ttl 0"
kb_conf pam "$MAIN_URI" "cache_ttl 0"
[ -n "$BIG_URI" ] && kb_conf big "$BIG_URI" "cache_ttl 0"
# The same with the cache on tmpfs, where fsync costs nothing: what
# storing each answer costs on this machine's disk.
if [ $have_kb = 1 ] && [ -d /dev/shm ]; then
	shm_cache=$(mktemp -d /dev/shm/kbbench.XXXXXX) || die "mktemp failed"
	kb_on_exit "rm -rf '$shm_cache'"
	chown "$CMD_USER:" "$shm_cache" && chmod 0700 "$shm_cache"
	kb_write_config "$KB_T/shm.conf" "uri $MAIN_URI" "instance $INSTANCE" \
	    "cache_dir $shm_cache" "cache_ttl 0"
fi

LOGIN=kbb$$
kb_make_user "$LOGIN" || die "cannot create the login user"
ssh-keygen -q -t ed25519 -N '' -C '' -f "$KB_T/login_key" ||
    die "ssh-keygen failed"
read -r _ login_b64 _ <"$KB_T/login_key.pub"
login_fp=$(ssh-keygen -lf "$KB_T/login_key.pub" | awk '{print $2}')
LDAPNOINIT=1 ldapadd -x -H "$MAIN_LDAPI" -D "$SLAPD_ROOTDN" \
    -y "$MAIN_ROOTPW" >/dev/null <<EOF || die "adding the login user failed"
dn: cn=$LOGIN-k0,$SLAPD_BASE
objectClass: keyboundKeyPair
cn: $LOGIN-k0
keyboundPublicKey: ssh-ed25519 $login_b64
keyboundFingerprint: $login_fp
keyboundAttachment: $LOGIN@$INSTANCE

dn: uid=$LOGIN,$SLAPD_PEOPLE
objectClass: account
objectClass: posixAccount
objectClass: ldapPublicKey
uid: $LOGIN
cn: $LOGIN
uidNumber: $(id -u "$LOGIN")
gidNumber: $(id -g "$LOGIN")
homeDirectory: /
sshPublicKey: ssh-ed25519 $login_b64
EOF

# Host groups: this instance is in three of them, and GROUP_USERS users
# have their two key pairs attached only through one ("gN@+bench-web"),
# for the keybound-group row (a login granted through a group).
GROUP_USERS=200
{
	for g in bench-web bench-all bench-eu; do
		echo "dn: cn=$g,$SLAPD_BASE"
		echo "objectClass: keyboundHostGroup"
		echo "cn: $g"
		echo "keyboundMember: $INSTANCE"
		for ((i = 0; i < 50; i++)); do echo "keyboundMember: other-$i"; done
		echo
	done
	for ((i = 0; i < GROUP_USERS; i++)); do
		for k in 0 1; do
			echo "dn: cn=g$i-k$k,$SLAPD_BASE"
			echo "objectClass: keyboundKeyPair"
			echo "cn: g$i-k$k"
			echo "keyboundPublicKey: ssh-ed25519 $login_b64"
			echo "keyboundFingerprint: $login_fp"
			echo "keyboundAttachment: g$i@+bench-web"
			echo
		done
	done
} | LDAPNOINIT=1 ldapadd -x -H "$MAIN_LDAPI" -D "$SLAPD_ROOTDN" \
    -y "$MAIN_ROOTPW" >/dev/null || die "adding the host groups failed"

# Signed entries: SIGNED_USERS users' key pairs (from u21, where the
# rotating rows start) and the three host groups, signed by the CLI with a
# key from `keybound signer create`; the signed rows run over the same
# users with trusted_signers naming that key, keybound-same without it.
# As many users as a row makes calls (each call a user not yet cached),
# at most 500.
SIGNED_USERS=$(( BENCH_CALLS + BENCH_WARMUP ))
[ "$SIGNED_USERS" -gt 500 ] && SIGNED_USERS=500
[ "$SIGNED_USERS" -gt $((BENCH_USERS - 21)) ] &&
    SIGNED_USERS=$((BENCH_USERS - 21))
if [ $have_kb = 1 ] && [ -x "$KB_BUILD/keybound" ]; then
	"$KB_BUILD/keybound" signer create -o "$KB_T/signer" \
	    >"$KB_T/signer.pub" || die "keybound signer create failed"
	read -r st sb _ <"$KB_T/signer.pub"
	echo "bench $st $sb" >"$KB_T/trusted_signers"
	chmod 0644 "$KB_T/trusted_signers"
	kb_write_config "$KB_T/admin.conf" "uri $MAIN_URI" || die "admin.conf"
	t=$(kb_ms)
	{
		for ((i = 21; i < 21 + SIGNED_USERS; i++)); do
			echo "u$i-k0"
			echo "u$i-k1"
		done
	} | xargs "$KB_BUILD/keybound" -c "$KB_T/admin.conf" \
	    -D "$SLAPD_ROOTDN" -y "$MAIN_ROOTPW" -S "$KB_T/signer" resign \
	    bench-web bench-all bench-eu >/dev/null ||
	    die "signing the bench entries failed"
	say "signed $((2 * SIGNED_USERS + 3)) entries in $(( $(kb_ms) - t )) ms"
	kb_conf signed "$MAIN_URI" "cache_ttl 0" \
	    "trusted_signers $KB_T/trusted_signers"
	kb_conf signed-cached "$MAIN_URI" "cache_ttl 86400" \
	    "trusted_signers $KB_T/trusted_signers"
	have_signed=1
else
	have_signed=0
fi

# --- sssd, in this namespace only -----------------------------------------

SSSD_PID=
start_sssd() {
	local s=$KB_T/sss d i
	if [ -e /run/sssd.pid ]; then
		skipped sssd "a system sssd is running (/run/sssd.pid)"
		return 1
	fi
	for d in db pipes/private mc pubconf gpo_cache secrets keytabs \
	    deskprofile conf; do
		mkdir -p "$s/$d" || return 1
	done
	chmod 0700 "$s/pipes/private"
	mount --bind "$s" /var/lib/sss || return 1
	mkdir -p "$KB_T/sssd"
	# Two domains on the same directory: one keeps answers for an hour,
	# the other lets them expire after a second.
	cat >"$KB_T/sssd/sssd.conf" <<EOF
[sssd]
services = nss, ssh
domains = warm, expired

[nss]

[ssh]

[domain/warm]
id_provider = ldap
auth_provider = none
ldap_uri = $MAIN_URI
ldap_search_base = $SLAPD_PEOPLE
ldap_schema = rfc2307
ldap_tls_cacert = $KB_CA_CERT
ldap_tls_reqcert = demand
cache_credentials = false
enumerate = false
entry_cache_timeout = 3600

[domain/expired]
id_provider = ldap
auth_provider = none
ldap_uri = $MAIN_URI
ldap_search_base = $SLAPD_PEOPLE
ldap_schema = rfc2307
ldap_tls_cacert = $KB_CA_CERT
ldap_tls_reqcert = demand
cache_credentials = false
enumerate = false
entry_cache_timeout = 1
refresh_expired_interval = 0
EOF
	chmod 0600 "$KB_T/sssd/sssd.conf"
	/usr/sbin/sssd -i -c "$KB_T/sssd/sssd.conf" --logger=stderr \
	    >"$KB_T/sssd/sssd.log" 2>&1 </dev/null &
	SSSD_PID=$!
	kb_on_exit "kill $SSSD_PID; sleep 0.5; kill -9 $SSSD_PID; wait $SSSD_PID; grep -qx $SSSD_PID /run/sssd.pid && rm -f /run/sssd.pid"
	for ((i = 0; i < 100; i++)); do
		[ -S "$s/pipes/ssh" ] && sss_ssh_authorizedkeys u1 \
		    >/dev/null 2>&1 && return 0
		kill -0 "$SSSD_PID" 2>/dev/null || break
		sleep 0.1
	done
	skipped sssd "sssd did not answer: $(tail -n 3 "$KB_T/sssd/sssd.log")"
	return 1
}
if [ $have_sssd = 1 ] && [ "$KB_BENCH_NS" = none ]; then
	skipped sssd "no private mount namespace (unshare --mount failed)"
	have_sssd=0
elif [ $have_sssd = 1 ]; then
	start_sssd || have_sssd=0
else
	skipped sssd "sssd, sssd-ldap not installed (tests/deps.sh bench)"
fi

# --- the PAM module, built to run this keybound-keys -----------------------

have_pam=0
if [ $have_kb = 1 ] && [ -d "$KB_SRC/pam_module" ]; then
	if make -s -C "$KB_SRC" B="$KB_T/pambuild" KB_HELPER="$KB_KEYS_CMD" \
	    "$KB_T/pambuild/pam_keybound.so" >"$KB_T/pambuild.log" 2>&1; then
		mkdir -p "$KB_T/pam.d"
		echo "auth required $KB_T/pambuild/pam_keybound.so" \
		    "config=$KB_T/pam.conf" >"$KB_T/pam.d/kbbench"
		have_pam=1
	else
		skipped pam-keybound "building pam_keybound.so failed"
	fi
fi

# --- rows -------------------------------------------------------------------

U=$BENCH_USERS
# Users the rotating rows walk through; the first few are kept for the
# fixed-user rows.
ROT="rot=$((U - 20)),off=21"
GROUPF="(&(objectClass=keyboundHostGroup)(keyboundMember=$INSTANCE))"
FP3=$(fingerprint_of u3)
[ -n "$FP3" ] || die "no fingerprint for u3"
install -m 0755 "$KB_SRC/bench/ldapsearch-keys.sh" "$KB_T/ldapsearch-keys.sh"
install -m 0755 "$KB_SRC/bench/python-ldap-keys.py" "$KB_T/python-ldap-keys.py"

row() { local IFS=$'\t'; echo "$*"; }

{
	row true - /bin/true
	# c-floor asks what keybound-keys asks: the host groups, then keys
	row c-floor "lines=2,$ROT" "$BB/c-floor" search -G "$GROUPF" \
	    "$MAIN_URI" "$SLAPD_BASE" "(keyboundAttachment=u%R@$INSTANCE)" \
	    keyboundPublicKey
	row c-floor-starttls "lines=2,$ROT" "$BB/c-floor" search -Z \
	    -C "$KB_CA_CERT" -G "$GROUPF" "$MAIN_URI" "$SLAPD_BASE" \
	    "(keyboundAttachment=u%R@$INSTANCE)" keyboundPublicKey
	if [ $have_kb = 1 ]; then
		row keybound "lines=2,$ROT" "$KB_KEYS_CMD" -c "$KB_T/direct.conf" u%R
		row keybound-group "lines=2,rot=$GROUP_USERS,off=0" \
		    "$KB_KEYS_CMD" -c "$KB_T/direct.conf" g%R
		row keybound-starttls "lines=2,$ROT" "$KB_KEYS_CMD" \
		    -c "$KB_T/starttls.conf" u%R
		row keybound-cached "lines=2" "$KB_KEYS_CMD" -c "$KB_T/cached.conf" u2
		if [ $have_signed = 1 ]; then
			row keybound-same "lines=2,rot=$SIGNED_USERS,off=21" \
			    "$KB_KEYS_CMD" -c "$KB_T/direct.conf" u%R
			row keybound-signed "lines=2,rot=$SIGNED_USERS,off=21" \
			    "$KB_KEYS_CMD" -c "$KB_T/signed.conf" u%R
			row keybound-signed-cached "lines=2" "$KB_KEYS_CMD" \
			    -c "$KB_T/signed-cached.conf" u21
		fi
		row keybound-fingerprint "lines=1" "$KB_KEYS_CMD" \
		    -c "$KB_T/direct.conf" u3 "$FP3"
		[ -n "$BIG_URI" ] && row keybound-1m "lines=2,$ROT" \
		    "$KB_KEYS_CMD" -c "$KB_T/big.conf" u%R
	fi
	# The floor against the big directory: the server's share of the
	# difference, apart from the client's.
	[ -n "$BIG_URI" ] && row c-floor-1m "lines=2,$ROT" "$BB/c-floor" \
	    search "$BIG_URI" "$SLAPD_BASE" \
	    "(keyboundAttachment=u%R@$INSTANCE)" keyboundPublicKey
	row ldapsearch-script "lines=2,$ROT" "$KB_T/ldapsearch-keys.sh" \
	    "$MAIN_URI" "$SLAPD_PEOPLE" u%R
	row ldapsearch-script-starttls "lines=2,$ROT" \
	    "$KB_T/ldapsearch-keys.sh" -Z "$KB_CA_CERT" "$MAIN_URI" \
	    "$SLAPD_PEOPLE" u%R
	[ $have_python = 1 ] && row python-ldap "lines=2,$ROT" \
	    "$KB_T/python-ldap-keys.py" "$MAIN_URI" "$SLAPD_PEOPLE" u%R
	if [ $have_sssd = 1 ]; then
		row sssd-warm "lines=2" /usr/bin/sss_ssh_authorizedkeys u7
		row sssd-expired "lines=2,rot=8,off=11" \
		    /usr/bin/sss_ssh_authorizedkeys -d expired u%R
		# A user sssd has never seen, every call.
		row sssd-first "lines=2,rot=$((U / 2 - 1)),off=$((U / 2))" \
		    /usr/bin/sss_ssh_authorizedkeys u%R
	fi
	[ $have_pam = 1 ] && row pam-keybound "root,self" "$BB/pam-once" \
	    "$KB_T/pam.d" kbbench "$LOGIN"
} >"$ROWS/main"
[ $have_kb = 1 ] || skipped keybound "build/keybound-keys not built"
[ -n "$BIG_URI" ] || skipped keybound-1m "BENCH_1M=0"
[ "${have_signed:-0}" = 1 ] || skipped keybound-signed "build/keybound not built"
[ $have_python = 1 ] || skipped python-ldap "python3-ldap not installed"

# Warm what the warm rows need: the cache hit, SSSD's cache of u7 and the
# expired domain's users (which then expire before their turn comes).
if [ $have_kb = 1 ]; then
	su -s /bin/sh "$CMD_USER" -c \
	    "'$KB_KEYS_CMD' -c '$KB_T/cached.conf' u2" >/dev/null 2>&1
	[ $have_signed = 1 ] && su -s /bin/sh "$CMD_USER" -c \
	    "'$KB_KEYS_CMD' -c '$KB_T/signed-cached.conf' u21" >/dev/null 2>&1
fi
if [ $have_sssd = 1 ]; then
	sss_ssh_authorizedkeys u7 >/dev/null 2>&1
	for i in $(seq 11 18); do
		sss_ssh_authorizedkeys -d expired "u$i" >/dev/null 2>&1
	done
	sleep 1.1
fi

# timer_run PHASE ROWFILE [timer options]: run the driver, keep stderr.
timer_run() {
	local phase=$1 rows=$2
	shift 2
	"$BB/timer" -u "$CMD_USER" -e "$KB_T/$phase.stderr" "$@" \
	    -o "$KB_T/$phase.json" "$rows" || die "timer failed in $phase"
}

# The signed rows measure logins of users the host has seen before: the
# first sight of an entry also writes its serial floor (once per entry
# and host, ever), so each signed user is looked up once first, by both
# configurations alike.
if [ "${have_signed:-0}" = 1 ]; then
	grep -P '^keybound-(same|signed)\t' "$ROWS/main" >"$ROWS/warm-signed"
	timer_run warm-signed "$ROWS/warm-signed" -n "$SIGNED_USERS" -w 0
fi

say "main phase: $(wc -l <"$ROWS/main") rows x $BENCH_CALLS calls, interleaved"
t=$(kb_ms)
timer_run main "$ROWS/main" -n "$BENCH_CALLS" -w "$BENCH_WARMUP"
say "main phase took $(( $(kb_ms) - t )) ms"

# --- what start-up costs, piece by piece -------------------------------------

mkdir -p "$KB_T/no-sasl-plugins"
NOPLUG=SASL_PATH=$KB_T/no-sasl-plugins
INIT_URI=ldap://127.0.0.1:1
{
	row startup-true - /bin/true
	row startup-libcrypto - "$BB/startup-probe" none
	row startup-libcrypto-sha256 - "$BB/startup-probe" sha256
	row startup-libcrypto-sha256-noconf - "$BB/startup-probe" sha256-noconf
	row startup-libcrypto-ed25519 - "$BB/startup-probe" ed25519
	row startup-nss-hostname "lines=1" "$BB/startup-probe" hostname
	row startup-libldap-load - "$BB/c-floor" load
	row startup-libldap-load-bindnow - "$BB/c-floor-now" load
	row startup-libldap-init - "$BB/c-floor" init "$INIT_URI"
	row startup-libldap-init-nosasl - "$NOPLUG" "$BB/c-floor" init "$INIT_URI"
	row startup-libldap-init-noinit - LDAPNOINIT=1 "$BB/c-floor" init \
	    "$INIT_URI"
	row startup-libldap-init-nosasl-noinit - "$NOPLUG" LDAPNOINIT=1 \
	    "$BB/c-floor" init "$INIT_URI"
	row startup-c-floor "lines=2,$ROT" "$BB/c-floor" \
	    search "$MAIN_URI" "$SLAPD_BASE" \
	    "(keyboundAttachment=u%R@$INSTANCE)" keyboundPublicKey
	row startup-c-floor-nosasl "lines=2,$ROT" "$NOPLUG" "$BB/c-floor" \
	    search "$MAIN_URI" "$SLAPD_BASE" \
	    "(keyboundAttachment=u%R@$INSTANCE)" keyboundPublicKey
	if [ $have_kb = 1 ]; then
		row startup-keybound "lines=2,$ROT" "$KB_KEYS_CMD" \
		    -c "$KB_T/direct.conf" u%R
		[ -f "$KB_T/shm.conf" ] && row startup-keybound-cache-tmpfs \
		    "lines=2,$ROT" "$KB_KEYS_CMD" -c "$KB_T/shm.conf" u%R
		row startup-keybound-nosasl "lines=2,$ROT" "$NOPLUG" \
		    "$KB_KEYS_CMD" -c "$KB_T/direct.conf" u%R
		row startup-keybound-usage anyexit "$KB_KEYS_CMD" -c \
		    "$KB_T/direct.conf" -bad-user-name
	fi
} >"$ROWS/startup"
say "start-up phase: $(wc -l <"$ROWS/startup") rows x $BENCH_CALLS calls"
timer_run startup "$ROWS/startup" -n "$BENCH_CALLS" -w "$BENCH_WARMUP"

# What the host name lookup does when DNS does not answer: a private UTS
# and network namespace whose host name is in no hosts file and whose
# resolver (a loopback UDP/TCP port 53 that never replies) is silent.
dns_probe() {
	local what=$1
	shift
	timeout 60 unshare --uts --net --mount --propagation private \
	    /bin/bash -c '
		hostname kb-nodns-probe
		ip link set lo up
		printf "nameserver 127.0.0.1\n" >"$1/resolv.conf"
		mount --bind "$1/resolv.conf" /etc/resolv.conf
		/usr/bin/python3 -c "
import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((\"127.0.0.1\", 53))
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((\"127.0.0.1\", 53)); t.listen(16)
time.sleep(120)" &
		silent=$!
		sleep 0.3
		shift
		s=$(date +%s%N)
		"$@" >/dev/null 2>&1
		rc=$?
		e=$(date +%s%N)
		kill $silent
		echo "$(( (e - s) / 1000000 )) $rc"
	    ' dns-probe "$KB_T" "$@" 2>/dev/null || echo "timeout -"
}
: >"$KB_T/dns"
if [ "${BENCH_DNS:-1}" = 1 ]; then
	say "start-up with an unreachable resolver (BENCH_DNS=0 skips this)"
	read -r ms rc < <(dns_probe x "$BB/startup-probe" hostname)
	printf 'nss-hostname\t%s\t%s\n' "$ms" "$rc" >>"$KB_T/dns"
	read -r ms rc < <(dns_probe x "$BB/c-floor" init "$INIT_URI")
	printf 'libldap-init\t%s\t%s\n' "$ms" "$rc" >>"$KB_T/dns"
	if [ $have_kb = 1 ]; then
		read -r ms rc < <(dns_probe x setpriv --reuid="$CMD_USER" \
		    --regid="$(id -g "$CMD_USER")" --clear-groups \
		    "$KB_KEYS_CMD" -c "$KB_T/cached.conf" u2)
		printf 'keybound-cached\t%s\t%s\n' "$ms" "$rc" >>"$KB_T/dns"
		read -r ms rc < <(dns_probe x setpriv --reuid="$CMD_USER" \
		    --regid="$(id -g "$CMD_USER")" --clear-groups \
		    "$KB_KEYS_CMD" -c "$KB_T/direct.conf" u21)
		printf 'keybound-directory-down\t%s\t%s\n' "$ms" "$rc" \
		    >>"$KB_T/dns"
	fi
fi

# --- LDAP operations per call, from slapd's stats log ----------------------

# ops_count LOG: "SEARCHES BINDS" so far.
ops_count() {
	echo "$(grep -c ' SRCH base=' "$1") $(grep -c ' BIND dn=' "$1")"
}
: >"$KB_T/ops"
# search_etime LOG FROM: slapd's mean etime (ms) of the searches logged
# after line FROM: the server's share of a call.
search_etime() {
	tail -n "+$(($2 + 1))" "$1" | awk '/ SEARCH RESULT / {
		for (i = 1; i <= NF; i++)
			if ($i ~ /^etime=/) { n++; t += substr($i, 7) }
	} END { if (n) printf "%.3f", t / n * 1000; else printf "-" }'
}
ops_row() {
	local name=$1 log=$2 n=10 s0 b0 s1 b1 l0
	grep -P "^\Q$name\E\t" "$ROWS/main" >"$ROWS/ops-$name" || return 0
	read -r s0 b0 < <(ops_count "$log")
	l0=$(wc -l <"$log")
	# -s: users the main phase did not use, where rows rotate.
	"$BB/timer" -u "$CMD_USER" -n $n -w 0 -s $((BENCH_CALLS + 100)) \
	    -o "$KB_T/ops-$name.json" "$ROWS/ops-$name" || return 1
	sleep 0.2	# the stats log lags the answer a little
	read -r s1 b1 < <(ops_count "$log")
	printf '%s\t%s\t%s\t%s\n' "$name" \
	    "$(awk "BEGIN{printf \"%.2f\", ($s1 - $s0) / $n}")" \
	    "$(awk "BEGIN{printf \"%.2f\", ($b1 - $b0) / $n}")" \
	    "$(search_etime "$log" "$l0")" >>"$KB_T/ops"
}
for r in c-floor c-floor-starttls keybound keybound-starttls keybound-cached \
    keybound-fingerprint ldapsearch-script ldapsearch-script-starttls \
    python-ldap sssd-warm sssd-expired sssd-first pam-keybound; do
	ops_row "$r" "$MAIN_LOG"
done
if [ -n "$BIG_URI" ]; then
	ops_row keybound-1m "$BIG_LOG"
	ops_row c-floor-1m "$BIG_LOG"
fi

# --- login storm -------------------------------------------------------------

if [ $have_kb = 1 ]; then
	row storm "lines=2,$ROT" "$KB_KEYS_CMD" -c "$KB_T/storm.conf" u%R \
	    >"$ROWS/storm"
	say "storm: $BENCH_STORM concurrent calls x $BENCH_STORM_WAVES waves"
	read -r s0 b0 < <(ops_count "$MAIN_LOG")
	timer_run storm "$ROWS/storm" -c "$BENCH_STORM" \
	    -n "$BENCH_STORM_WAVES" -w 0
	sleep 0.3
	read -r s1 b1 < <(ops_count "$MAIN_LOG")
	n=$((BENCH_STORM * BENCH_STORM_WAVES))
	printf 'storm\t%s\t%s\n' \
	    "$(awk "BEGIN{printf \"%.2f\", ($s1 - $s0) / $n}")" \
	    "$(awk "BEGIN{printf \"%.2f\", ($b1 - $b0) / $n}")" >>"$KB_T/ops"
else
	skipped storm "build/keybound-keys not built"
fi

# --- throughput: one slapd, many concurrent keybound-keys --------------------

# At each concurrency level K, waves of K calls at once (cache_ttl 0: every
# call asks the directory), for BENCH_TPUT_CALLS calls in all; calls per
# second is calls / wall time of the level, so a wave waits for its
# slowest call and the figure is a lower bound of what the server sustains.
: >"$KB_T/tput"
if [ $have_kb = 1 ]; then
	: >"$ROWS/tput"
	for k in $BENCH_TPUT; do
		waves=$(( (BENCH_TPUT_CALLS + k - 1) / k ))
		row "throughput-c$k" "lines=2,$ROT" "$KB_KEYS_CMD" \
		    -c "$KB_T/storm.conf" u%R >"$ROWS/tput-$k"
		read -r s0 b0 < <(ops_count "$MAIN_LOG")
		t=$(kb_ms)
		timer_run "tput-$k" "$ROWS/tput-$k" -c "$k" -n "$waves" -w 0
		wall=$(( $(kb_ms) - t ))
		sleep 0.3
		read -r s1 b1 < <(ops_count "$MAIN_LOG")
		n=$((k * waves))
		printf 'throughput-c%s\t%s\t%s\t%s\n' "$k" "$k" "$n" "$wall" \
		    >>"$KB_T/tput"
		printf 'throughput-c%s\t%s\t%s\n' "$k" \
		    "$(awk "BEGIN{printf \"%.2f\", ($s1 - $s0) / $n}")" \
		    "$(awk "BEGIN{printf \"%.2f\", ($b1 - $b0) / $n}")" \
		    >>"$KB_T/ops"
		say "throughput: $n calls, $k at a time, in $wall ms"
	done
else
	skipped throughput "build/keybound-keys not built"
fi

# --- ssh logins through real sshds ------------------------------------------

ssh_row() {
	local name=$1 port=$2
	row "$name" root /usr/bin/ssh -F /dev/null -o BatchMode=yes \
	    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	    -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR \
	    -o IdentitiesOnly=yes -o IdentityAgent=none \
	    -o PreferredAuthentications=publickey \
	    -o KexAlgorithms=curve25519-sha256 -i "$KB_T/login_key" \
	    -p "$port" "$LOGIN@127.0.0.1" true
}
: >"$ROWS/login"
if [ $have_kb = 1 ]; then
	sshd_start "$KB_T/login.conf" || die "sshd (keybound) did not start"
	ssh_row ssh-login-keybound "$SSHD_PORT" >>"$ROWS/login"
	sshd_start "$KB_T/login-nocache.conf" ||
	    die "sshd (keybound, cache_ttl 0) did not start"
	ssh_row ssh-login-keybound-nocache "$SSHD_PORT" >>"$ROWS/login"
else
	skipped ssh-login-keybound "build/keybound-keys not built"
fi
if [ $have_kb = 1 ] && [ $have_sssd = 1 ]; then
	sshd_start "$KB_T/login.conf" \
	    "AuthorizedKeysCommand /usr/bin/sss_ssh_authorizedkeys %u" ||
	    die "sshd (sssd) did not start"
	ssh_row ssh-login-sssd "$SSHD_PORT" >>"$ROWS/login"
	sss_ssh_authorizedkeys "$LOGIN" >/dev/null 2>&1	# warm
else
	skipped ssh-login-sssd "needs sssd and keybound-keys"
fi
if [ $have_kb = 1 ]; then
	# sshd checks every directory above an authorized_keys file.
	keys_dir=$(mktemp -d /run/kbbench.XXXXXX) || die "mktemp failed"
	kb_on_exit "rm -rf '$keys_dir'"
	chmod 0755 "$keys_dir"
	install -m 0644 "$KB_T/login_key.pub" "$keys_dir/$LOGIN"
	sshd_start "$KB_T/login.conf" "AuthorizedKeysCommand none" \
	    "AuthorizedKeysFile $keys_dir/%u" || die "sshd (file) did not start"
	ssh_row ssh-login-file "$SSHD_PORT" >>"$ROWS/login"
else
	skipped ssh-login-file "the sshd harness needs keybound-keys"
fi
if [ -s "$ROWS/login" ]; then
	say "login phase: $(wc -l <"$ROWS/login") rows x $BENCH_LOGINS logins"
	timer_run login "$ROWS/login" -n "$BENCH_LOGINS" -w 2
	for r in ssh-login-keybound ssh-login-keybound-nocache ssh-login-sssd; do
		grep -P "^$r\t" "$ROWS/login" >"$ROWS/ops-$r" || continue
		read -r s0 b0 < <(ops_count "$MAIN_LOG")
		"$BB/timer" -n 10 -w 0 -o "$KB_T/ops-$r.json" \
		    "$ROWS/ops-$r" || die "timer failed"
		sleep 0.2
		read -r s1 b1 < <(ops_count "$MAIN_LOG")
		printf '%s\t%s\t%s\n' "$r" \
		    "$(awk "BEGIN{printf \"%.2f\", ($s1 - $s0) / 10}")" \
		    "$(awk "BEGIN{printf \"%.2f\", ($b1 - $b0) / 10}")" \
		    >>"$KB_T/ops"
	done
fi

# --- report ------------------------------------------------------------------

elapsed=$(( ($(kb_ms) - T0) / 1000 ))
/usr/bin/python3 "$KB_SRC/bench/report.py" --out "$BENCH_OUT" \
    --ops "$KB_T/ops" --skipped "$KB_T/skipped" --dns "$KB_T/dns" \
    --tput "$KB_T/tput" \
    --meta "users=$BENCH_USERS" "calls=$BENCH_CALLS" \
    "logins=$BENCH_LOGINS" "main_load_ms=$main_load_ms" \
    "big_keypairs=$([ -n "$BIG_URI" ] && echo "$BENCH_BIG" || echo 0)" \
    "big_load_ms=$big_load_ms" "elapsed_s=$elapsed" \
    -- "$KB_T/main.json" "$KB_T/storm.json" "$KB_T/login.json" \
    "$KB_T/startup.json" $(for k in $BENCH_TPUT; do
	echo "$KB_T/tput-$k.json"; done) ||
    die "report failed"
for f in main startup storm login; do
	if [ -s "$KB_T/$f.stderr" ]; then
		say "stderr of failed or chatty calls ($f), first lines:"
		head -n 5 "$KB_T/$f.stderr" >&2
	fi
done
say "done in ${elapsed}s; results in $BENCH_OUT"
