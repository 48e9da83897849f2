# tests/lib/pam.sh - pam_keybound.so test helpers (sourced after
# tests/lib/common.sh).
#
#   pam_build_module
#	Build a copy of pam_keybound.so into $KB_T/pambuild whose helper
#	path (fixed at build time, never taken from the environment) is
#	$KB_T/pambin/keybound-keys, a symlink the test points at the real
#	keybound-keys or at tests/tools/pam-fake-helper.  Exports
#	KB_PAM_MODULE, KB_PAM_HELPER, KB_PAM_BIN.
#   pam_helper_real PATH	the helper symlink -> PATH (e.g. $KB_KEYS_CMD)
#   pam_helper_fake MODE	the helper -> pam-fake-helper doing MODE
#				("exit N", "sleep N", "signal", "check")
#   pam_helper_missing		no helper at all
#   pam_write_service DIR NAME ARGS [LINE...]
#	Write the PAM service file DIR/NAME: the auth line of
#	config-examples/pam.d-sshd (so the example cannot rot) with the
#	module path made absolute and ARGS appended, then each LINE.
#   pam_auth CONFDIR SERVICE USER [PASSWORD]
#	One pam_authenticate through real libpam (kb-pamtest); prints the
#	result name, e.g. PAM_AUTH_ERR (conversation text on earlier lines).
#   pam_wrapper_cleanup_at_exit
#	At exit, remove pam_wrapper's per-process copies of the service
#	directory (/tmp/pam.X) that name this test's module; sshd's children
#	leave them behind.

KB_PAM_EXAMPLE=$KB_SRC/config-examples/pam.d-sshd
KB_PAMTEST=$KB_BUILD/tests/tools/kb-pamtest
KB_PAM_FAKE=$KB_BUILD/tests/tools/pam-fake-helper

pam_build_module() {
	[ -n "${KB_T:-}" ] || kb_tmpdir
	KB_PAM_BIN=$KB_T/pambin
	KB_PAM_HELPER=$KB_PAM_BIN/keybound-keys
	KB_PAM_MODULE=$KB_T/pambuild/pam_keybound.so
	mkdir -p "$KB_PAM_BIN" && chmod 0755 "$KB_PAM_BIN" || return 1
	[ -x "$KB_PAMTEST" ] && [ -x "$KB_PAM_FAKE" ] || {
		echo "pam.sh: test tools not built (make tests)" >&2
		return 1
	}
	# A fresh make: nothing inherited from a make check above us.
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -j4 -C "$KB_SRC" \
	    B="$KB_T/pambuild" \
	    KB_HELPER="$KB_PAM_HELPER" "$KB_PAM_MODULE" >&2 || return 1
	# A private copy: a concurrent rebuild must not swap it mid-test.
	install -m 0755 "$KB_PAM_FAKE" "$KB_PAM_BIN/pam-fake-helper" ||
	    return 1
	strings "$KB_PAM_MODULE" | grep -qxF "$KB_PAM_HELPER" || {
		echo "pam.sh: test module does not name $KB_PAM_HELPER" >&2
		return 1
	}
	export KB_PAM_BIN KB_PAM_HELPER KB_PAM_MODULE
}

pam_helper_real() {
	ln -sfn "$1" "$KB_PAM_HELPER"
}

pam_helper_fake() {
	printf '%s\n' "$1" >"$KB_PAM_BIN/fake-mode"
	ln -sfn "$KB_PAM_BIN/pam-fake-helper" "$KB_PAM_HELPER"
}

pam_helper_missing() {
	rm -f "$KB_PAM_HELPER"
}

pam_write_service() {
	local dir=$1 name=$2 args=$3 line
	shift 3
	line=$(grep -E '^[[:space:]]*auth[[:space:]]' "$KB_PAM_EXAMPLE" |
	    grep -F pam_keybound.so) || {
		echo "pam.sh: no auth line in $KB_PAM_EXAMPLE" >&2
		return 1
	}
	[ "$(printf '%s\n' "$line" | wc -l)" = 1 ] || return 1
	mkdir -p "$dir" || return 1
	{
		printf '%s %s\n' "${line/pam_keybound.so/$KB_PAM_MODULE}" \
		    "$args"
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$dir/$name"
}

pam_auth() {
	if [ $# -ge 4 ]; then
		"$KB_PAMTEST" -d "$1" -s "$2" -p "$4" -- "$3"
	else
		"$KB_PAMTEST" -d "$1" -s "$2" -- "$3"
	fi
}

pam_wrapper_cleanup() {
	local dir
	for dir in /tmp/pam.?; do
		[ -f "$dir/sshd" ] && grep -qF "$KB_PAM_MODULE" "$dir/sshd" ||
		    continue
		rm -rf -- "$dir"
	done
}

pam_wrapper_cleanup_at_exit() { kb_on_exit pam_wrapper_cleanup; }
