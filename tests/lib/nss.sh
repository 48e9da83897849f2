# tests/lib/nss.sh - a user database that folds case, for one test (sourced
# after tests/lib/common.sh and sshd.sh; call after kb_private_syslog, whose
# private mount namespace it needs).
#
#   nss_fold_start
#	Compile tests/lib/nss_kbfold.c into $KB_T/nss/libnss_kbfold.so.2,
#	reading $KB_T/nss/passwd and $KB_T/nss/shadow (domain kb.test), and
#	bind-mount over /etc/nsswitch.conf (in this mount namespace only) a
#	copy whose passwd and shadow lines read "files kbfold".  Exports
#	LD_LIBRARY_PATH, so every process started from here on with this
#	environment (kb-pamtest, sshd) finds the module; processes started
#	with a clean environment see "files" only.  Nothing outside $KB_T
#	and the namespace changes.  Exports NSS_FOLD_DIR.
#   nss_fold_user NAME PASSWORD [GECOS]
#	Add NAME to the folding database only (not /etc/passwd): a uid no
#	one has, group nogroup, home /, shell /bin/sh, and a SHA-512 crypt
#	hash of PASSWORD in its shadow file.

nss_fold_start() {
	local dir=$KB_T/nss
	[ -n "${KB_SYSLOG_NS:-}" ] || {
		echo "nss.sh: needs the private namespace (kb_private_syslog)" >&2
		return 1
	}
	command -v cc >/dev/null || { echo "nss.sh: no cc" >&2; return 1; }
	mkdir -p "$dir" && chmod 0755 "$dir" || return 1
	: >"$dir/passwd" && : >"$dir/shadow" && chmod 0600 "$dir/shadow" ||
	    return 1
	cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -fPIC -shared \
	    -Wl,-soname,libnss_kbfold.so.2 \
	    -DKBFOLD_PASSWD="\"$dir/passwd\"" \
	    -DKBFOLD_SHADOW="\"$dir/shadow\"" \
	    -DKBFOLD_DOMAIN='"kb.test"' \
	    -o "$dir/libnss_kbfold.so.2" "$KB_SRC/tests/lib/nss_kbfold.c" ||
	    return 1
	sed -E -e 's/^(passwd|shadow):.*/\1: files kbfold/' \
	    /etc/nsswitch.conf >"$dir/nsswitch.conf" || return 1
	grep -q '^passwd: files kbfold$' "$dir/nsswitch.conf" ||
	    echo 'passwd: files kbfold' >>"$dir/nsswitch.conf"
	grep -q '^shadow: files kbfold$' "$dir/nsswitch.conf" ||
	    echo 'shadow: files kbfold' >>"$dir/nsswitch.conf"
	mount --bind "$dir/nsswitch.conf" /etc/nsswitch.conf || return 1
	kb_on_exit "umount /etc/nsswitch.conf"
	LD_LIBRARY_PATH=$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	NSS_FOLD_DIR=$dir
	export LD_LIBRARY_PATH NSS_FOLD_DIR
}

nss_fold_user() {
	local name=$1 pw=$2 gecos=${3:-} uid hash
	getent passwd "$name" >/dev/null && {
		echo "nss.sh: user $name already exists" >&2
		return 1
	}
	# A uid no one has: 2100000000 and up, from the pid.
	for ((uid = 2100000000 + $$ * 8; ; uid++)); do
		getent passwd "$uid" >/dev/null || break
	done
	hash=$(printf '%s\n' "$pw" | openssl passwd -6 -stdin) || return 1
	printf '%s:x:%s:65534:%s:/:/bin/sh\n' "$name" "$uid" "$gecos" \
	    >>"$NSS_FOLD_DIR/passwd" &&
	    printf '%s:%s:19000:0:99999:7:::\n' "$name" "$hash" \
	    >>"$NSS_FOLD_DIR/shadow"
}
