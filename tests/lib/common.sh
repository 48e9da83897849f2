# tests/lib/common.sh - shared helpers for integration scripts (sourced).
#
#   kb_tmpdir                  a private temp dir, removed at exit ($KB_T)
#   kb_free_port               print a free TCP port in 20000-32767
#   kb_on_exit CMD...          run CMD at exit (LIFO)
#   kb_kill_at_exit PID        kill PID (and wait) at exit
#   kb_wait_port PORT [SECS]   wait until 127.0.0.1:PORT accepts
#   ok / fail / skip MSG       report; fail and skip exit the script
#   check_eq A B MSG           assert equality
#   kb_ms                      monotonic milliseconds
set -u

: "${KB_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${KB_BUILD:=$KB_SRC/build}"
export KB_SRC KB_BUILD

kb_exit_cmds=()
kb_failures=0
kb_checks=0

kb_run_exit_cmds() {
	local i
	for ((i = ${#kb_exit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${kb_exit_cmds[$i]}" >/dev/null 2>&1 || true
	done
}
trap kb_run_exit_cmds EXIT
trap 'exit 130' INT TERM

kb_on_exit() { kb_exit_cmds+=("$*"); }

kb_kill_at_exit() {
	kb_on_exit "kill -CONT $1; kill $1; for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 $1 || break; sleep 0.1; done; kill -9 $1; wait $1"
}

kb_tmpdir() {
	KB_T=$(mktemp -d "${TMPDIR:-/tmp}/kbtest.XXXXXX")
	chmod 0755 "$KB_T"
	kb_on_exit "rm -rf '$KB_T'"
	# the CLI remembers the serials it signed below XDG_STATE_HOME
	XDG_STATE_HOME=$KB_T/state
	export KB_T XDG_STATE_HOME
}

kb_free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

kb_wait_port() {
	local port=$1 secs=${2:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

kb_ms() { echo $(( $(date +%s%N) / 1000000 )); }

ok() { kb_checks=$((kb_checks + 1)); echo "ok - $*"; }

fail() {
	echo "FAIL - $*" >&2
	exit 1
}

# Record a failed assertion and go on; kb_done exits non-zero.
not_ok() {
	kb_checks=$((kb_checks + 1)); kb_failures=$((kb_failures + 1))
	echo "not ok - $*" >&2
}

skip() {
	echo "skip: $*"
	exit 77
}

check_eq() {
	if [ "$1" = "$2" ]; then ok "$3"; else not_ok "$3: got [$1], expected [$2]"; fi
}

kb_done() {
	echo "$kb_checks checks, $kb_failures failed"
	[ "$kb_failures" -eq 0 ]
}
