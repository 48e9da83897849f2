# tests/lib/sshd.sh - a real sshd on loopback for integration tests (sourced
# after tests/lib/common.sh).  Everything started here is stopped by PID and
# everything created is removed at exit.
#
#   kb_install_keys_cmd
#       Install $KB_BUILD/keybound-keys into a fresh root-owned 0755
#       directory under /run (sshd checks the command and every parent
#       directory).  Creates the dedicated AuthorizedKeysCommandUser and a
#       cache directory it owns (0700).  Exports:
#         KB_KEYS_CMD    absolute path of the installed keybound-keys
#         KB_CMD_USER    the command user
#         KB_CACHE_DIR   a cache_dir owned by KB_CMD_USER, for keybound.conf
#
#   kb_make_user NAME [PASSWORD]
#       useradd -M a local login user (shell /bin/sh, home /); with PASSWORD
#       a real SHA-512 crypt hash (openssl passwd -6), without one the
#       account has no usable password but is not locked.  Removed with
#       userdel at exit.  NAME must be unique per run (e.g. "kbalice$$";
#       at most 32 bytes); an existing user is refused.
#
#   sshd_start KEYBOUND_CONF [--pam PAM_SERVICE_DIR] [--breakglass USER FILE]
#              [sshd_config lines...]
#       Run /usr/sbin/sshd -D -e on 127.0.0.1:$(kb_free_port) with a fresh
#       host key and a config built from
#       config-examples/sshd_config.d/40-keybound.conf (command path
#       replaced by "$KB_KEYS_CMD -c KEYBOUND_CONF", AuthorizedKeysCommandUser
#       by $KB_CMD_USER, UsePAM no unless --pam; with --breakglass, its
#       break-glass Match block names USER and FILE instead of breakglass and
#       /etc/ssh/breakglass_authorized_keys).  With --pam, sshd runs
#       under pam_wrapper (LD_PRELOAD=libpam_wrapper.so, PAM_WRAPPER=1,
#       PAM_WRAPPER_SERVICE_DIR=DIR, which must hold a file named "sshd"),
#       so /etc/pam.d is never read.  Extra arguments are appended as
#       sshd_config lines; a PermitRootLogin line among them replaces the
#       default "PermitRootLogin no" (sshd takes the first value it reads).
#       Calls kb_install_keys_cmd if not done yet.
#       Exports SSHD_PORT SSHD_PID SSHD_LOG SSHD_CONFIG.  Stopped at exit.
#
#   sshd_stop
#       Stop the sshd started by sshd_start (also done at exit).
#
#   kb_ssh_key_login USER KEYFILE [COMMAND...]
#       Public key login as USER with KEYFILE only (BatchMode, no agent, no
#       known_hosts); runs COMMAND (default: true).  Returns ssh's status.
#
#   kb_ssh_password_login USER PASSWORD password|keyboard-interactive
#       Password or keyboard-interactive login through sshpass (password in
#       the environment, not argv).  Returns sshpass's status (0 = logged in).
#
#   kb_private_syslog "$@"
#       Call first in a test script, before anything is started: re-runs
#       the script in a private mount namespace (unshare -m) whose /dev is a
#       private tmpfs holding the usual devices and a /dev/log socket served
#       by kb-syslog-sink, so syslog lines from keybound-keys, sshd and PAM
#       modules land in $KB_SYSLOG without touching the host's /dev.
#       Calls kb_tmpdir.  Exports KB_SYSLOG.
#
#   kb_syslog_wait PATTERN [SECS]
#       Wait until a line of $KB_SYSLOG matches the extended regex PATTERN.
#
#   kb_private_etc_file NAME FILE
#       In the private mount namespace of kb_private_syslog only: /etc/NAME
#       reads as a copy of FILE (owner, group and mode of the host's
#       /etc/NAME), every other entry of /etc stays the host's, live.  Do
#       not bind-mount a copy over the file itself: a mount on a file in
#       /etc is dropped without a word when a process in another namespace
#       replaces that file by rename, as useradd, userdel, usermod and
#       passwd do with /etc/passwd, /etc/shadow and /etc/group (any test
#       running in parallel that adds a user), and the host's file shows
#       through again.  Here the mount is on /etc itself, which nothing
#       renames: a read-only tmpfs view of symbolic links into the host's
#       /etc (reached through a bind mount of the directory) plus the
#       private files.  So /etc is read-only in this namespace from the
#       first call on: create users before (useradd here now fails rather
#       than edit the view).  Undone at exit, before the users made
#       earlier are removed.

KB_SSHD_EXAMPLE=$KB_SRC/config-examples/sshd_config.d/40-keybound.conf

kb_install_keys_cmd() {
	local dir
	[ -n "${KB_KEYS_CMD:-}" ] && return 0
	[ "$(id -u)" = 0 ] || { echo "sshd.sh: needs root" >&2; return 1; }
	[ -x "$KB_BUILD/keybound-keys" ] || {
		echo "sshd.sh: $KB_BUILD/keybound-keys not built" >&2
		return 1
	}
	dir=$(mktemp -d /run/kbkeys.XXXXXX) || return 1
	kb_on_exit "rm -rf '$dir'"
	chown root:root "$dir" && chmod 0755 "$dir" || return 1
	install -o root -g root -m 0755 "$KB_BUILD/keybound-keys" \
	    "$dir/keybound-keys" || return 1
	KB_KEYS_CMD=$dir/keybound-keys

	KB_CMD_USER=kbcmd$$
	kb_add_system_user "$KB_CMD_USER" || return 1

	KB_CACHE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kbcache.XXXXXX") || return 1
	kb_on_exit "rm -rf '$KB_CACHE_DIR'"
	chown "$KB_CMD_USER:" "$KB_CACHE_DIR" && chmod 0700 "$KB_CACHE_DIR" ||
	    return 1
	export KB_KEYS_CMD KB_CMD_USER KB_CACHE_DIR
}

# kb_add_system_user NAME: a user with no password and no login shell.
kb_add_system_user() {
	if getent passwd "$1" >/dev/null; then
		echo "sshd.sh: user $1 already exists" >&2
		return 1
	fi
	useradd -M -d / -s /usr/sbin/nologin "$1" || return 1
	kb_on_exit "userdel -f '$1'"
}

kb_make_user() {
	local name=$1 pw=${2:-} hash
	if getent passwd "$name" >/dev/null; then
		echo "sshd.sh: user $name already exists" >&2
		return 1
	fi
	useradd -M -d / -s /bin/sh "$name" || return 1
	kb_on_exit "userdel -f '$name'"
	if [ -n "$pw" ]; then
		hash=$(printf '%s\n' "$pw" | openssl passwd -6 -stdin) ||
		    return 1
	else
		hash='*'	# no password, but not "!" (locked)
	fi
	usermod -p "$hash" "$name"
}

sshd_start() {
	local conf=$1 pamdir="" dir line rootlogin="PermitRootLogin no"
	local bg_user=breakglass bg_file=/etc/ssh/breakglass_authorized_keys
	shift
	while :; do
		case ${1:-} in
		--pam)
			pamdir=$2
			shift 2
			[ -f "$pamdir/sshd" ] || {
				echo "sshd.sh: $pamdir/sshd missing" >&2
				return 1
			} ;;
		--breakglass)
			bg_user=$2 bg_file=$3
			shift 3 ;;
		*)	break ;;
		esac
	done
	kb_install_keys_cmd || return 1
	for line in "$@"; do
		case ${line,,} in permitrootlogin[[:space:]]*) rootlogin= ;; esac
	done
	# sshd's compiled-in privilege separation directory; the package
	# creates it at boot, containers may lack it.  Left in place.
	[ -d /run/sshd ] || install -d -o root -g root -m 0755 /run/sshd

	dir=$(mktemp -d "${TMPDIR:-/tmp}/kbsshd.XXXXXX") || return 1
	kb_on_exit "rm -rf '$dir'"
	ssh-keygen -q -t ed25519 -N '' -C '' -f "$dir/host_ed25519" ||
	    return 1
	SSHD_PORT=$(kb_free_port) || return 1
	SSHD_CONFIG=$dir/sshd_config
	SSHD_LOG=$dir/sshd.log
	{
		echo "Port $SSHD_PORT"
		echo "ListenAddress 127.0.0.1"
		echo "HostKey $dir/host_ed25519"
		echo "PidFile none"
		echo "LogLevel VERBOSE"
		echo "StrictModes yes"
		echo "MaxAuthTries 6"
		echo "LoginGraceTime 30"
		[ -n "$rootlogin" ] && echo "$rootlogin"
		echo "KbdInteractiveAuthentication yes"
		for line in "$@"; do
			echo "$line"
		done
		# The example drop-in, made to point at the test tree.
		sed -e "s|/usr/local/bin/keybound-keys|$KB_KEYS_CMD -c $conf|" \
		    -e "s|^AuthorizedKeysCommandUser .*|AuthorizedKeysCommandUser $KB_CMD_USER|" \
		    -e "s|^UsePAM .*|UsePAM $([ -n "$pamdir" ] && echo yes || echo no)|" \
		    -e "s|^Match User breakglass\$|Match User $bg_user|" \
		    -e "s|^\([[:space:]]*AuthorizedKeysFile\) /etc/ssh/breakglass_authorized_keys\$|\1 $bg_file|" \
		    "$KB_SSHD_EXAMPLE"
	} >"$SSHD_CONFIG"
	grep -q "^AuthorizedKeysCommand $KB_KEYS_CMD -c $conf %u %f\$" \
	    "$SSHD_CONFIG" || {
		echo "sshd.sh: example drop-in has no AuthorizedKeysCommand" >&2
		return 1
	}
	grep -qx "Match User $bg_user" "$SSHD_CONFIG" &&
	    grep -qx "[[:space:]]*AuthorizedKeysFile $bg_file" "$SSHD_CONFIG" || {
		echo "sshd.sh: example drop-in has no break-glass Match block" >&2
		return 1
	}
	/usr/sbin/sshd -t -f "$SSHD_CONFIG" || return 1
	if [ -n "$pamdir" ]; then
		env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 \
		    PAM_WRAPPER_SERVICE_DIR="$pamdir" \
		    /usr/sbin/sshd -D -e -f "$SSHD_CONFIG" \
		    >"$SSHD_LOG" 2>&1 </dev/null &
	else
		/usr/sbin/sshd -D -e -f "$SSHD_CONFIG" \
		    >"$SSHD_LOG" 2>&1 </dev/null &
	fi
	SSHD_PID=$!
	kb_kill_at_exit "$SSHD_PID"
	export SSHD_PORT SSHD_PID SSHD_LOG SSHD_CONFIG
	if ! kb_wait_port "$SSHD_PORT" 10; then
		echo "sshd.sh: sshd did not start:" >&2
		cat "$SSHD_LOG" >&2
		return 1
	fi
}

sshd_stop() {
	local i
	[ -n "${SSHD_PID:-}" ] || return 0
	kill "$SSHD_PID" 2>/dev/null
	for i in $(seq 1 50); do
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$SSHD_PID" 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	SSHD_PID=
}

kb_ssh_opts() {
	echo -F /dev/null -o StrictHostKeyChecking=no \
	    -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
	    -o LogLevel=ERROR -o ConnectTimeout=10 -p "$SSHD_PORT"
}

kb_ssh_key_login() {
	local user=$1 key=$2
	shift 2
	[ $# -gt 0 ] || set -- true
	# shellcheck disable=SC2046
	ssh $(kb_ssh_opts) -i "$key" -o IdentitiesOnly=yes -o BatchMode=yes \
	    -o IdentityAgent=none -o PreferredAuthentications=publickey \
	    "$user@127.0.0.1" "$@" </dev/null
}

kb_ssh_password_login() {
	local user=$1 pw=$2 method=$3
	# shellcheck disable=SC2046
	SSHPASS=$pw sshpass -e ssh $(kb_ssh_opts) -o BatchMode=no \
	    -o IdentityAgent=none -o PubkeyAuthentication=no \
	    -o PreferredAuthentications="$method" \
	    -o NumberOfPasswordPrompts=1 "$user@127.0.0.1" true </dev/null
}

kb_private_syslog() {
	local d n
	if [ -z "${KB_SYSLOG_NS:-}" ]; then
		[ "$(id -u)" = 0 ] || { echo "sshd.sh: needs root" >&2; exit 1; }
		exec env KB_SYSLOG_NS=1 unshare -m --propagation private \
		    bash "$0" "$@"
	fi
	[ -n "${KB_T:-}" ] || kb_tmpdir
	[ -x "$KB_BUILD/tests/tools/kb-syslog-sink" ] || {
		echo "sshd.sh: kb-syslog-sink not built" >&2
		exit 1
	}
	# The real /dev stays reachable under a private tmpfs; only
	# rmdir (never rm -r) touches $d, so nothing below it is deleted.
	d=$(mktemp -d "${TMPDIR:-/tmp}/kbns.XXXXXX") || exit 1
	kb_on_exit "umount -R -l '$d'; rmdir '$d'"
	mount -t tmpfs -o mode=0700 kbns "$d" && mkdir "$d/dev" &&
	    mount --rbind /dev "$d/dev" &&
	    mount -t tmpfs -o mode=0755 kbdev /dev || exit 1
	for n in null zero full random urandom tty ptmx; do
		[ -e "$d/dev/$n" ] || continue
		touch "/dev/$n" && mount --bind "$d/dev/$n" "/dev/$n" || exit 1
	done
	for n in pts shm; do
		[ -d "$d/dev/$n" ] || continue
		mkdir "/dev/$n" && mount --rbind "$d/dev/$n" "/dev/$n" || exit 1
	done
	# sshpass needs a pty: a bind-mounted /dev/ptmx does not find its
	# devpts instance here; reach it through /dev/pts/ptmx instead.
	if ! python3 -c 'import os; os.openpty()' 2>/dev/null; then
		umount /dev/ptmx && rm -f /dev/ptmx &&
		    ln -s pts/ptmx /dev/ptmx || exit 1
	fi
	ln -s /proc/self/fd /dev/fd
	ln -s /proc/self/fd/0 /dev/stdin
	ln -s /proc/self/fd/1 /dev/stdout
	ln -s /proc/self/fd/2 /dev/stderr
	KB_SYSLOG=$KB_T/syslog
	: >"$KB_SYSLOG"
	"$KB_BUILD/tests/tools/kb-syslog-sink" /dev/log "$KB_SYSLOG" &
	kb_kill_at_exit $!
	for n in $(seq 1 100); do
		[ -S /dev/log ] && break
		sleep 0.02
	done
	[ -S /dev/log ] || { echo "sshd.sh: no /dev/log" >&2; exit 1; }
	export KB_SYSLOG
}

kb_syslog_wait() {
	local pat=$1 secs=${2:-5} i
	for ((i = 0; i < secs * 20; i++)); do
		grep -Eq -- "$pat" "$KB_SYSLOG" && return 0
		sleep 0.05
	done
	return 1
}

# The private /etc view (see kb_private_etc_file): made on first use.
kb_private_etc() {
	local d f
	[ -n "${KB_ETC_VIEW:-}" ] && return 0
	[ -n "${KB_SYSLOG_NS:-}" ] || {
		echo "sshd.sh: a private /etc needs kb_private_syslog first" >&2
		return 1
	}
	d=$(mktemp -d "${TMPDIR:-/tmp}/kbetc.XXXXXX") || return 1
	kb_on_exit "rmdir '$d'"
	mount -t tmpfs -o mode=0755 kbetc "$d" || return 1
	kb_on_exit "umount -l '$d'"
	# --rbind: files mounted over in /etc (a container's hosts,
	# resolv.conf) keep their content.
	mkdir -m 0755 "$d/host" "$d/etc" && mount --rbind /etc "$d/host" ||
	    return 1
	kb_on_exit "umount -R -l '$d/host'"
	# Links keep their own target (relative ones resolve from /etc as
	# before); everything else points at the host's entry.
	while IFS= read -r -d '' f; do
		if [ -L "$d/host/$f" ]; then
			ln -s -- "$(readlink "$d/host/$f")" "$d/etc/$f"
		else
			ln -s -- "$d/host/$f" "$d/etc/$f"
		fi || return 1
	done < <(find "$d/host/" -mindepth 1 -maxdepth 1 -printf '%f\0')
	[ -e "$d/etc/passwd" ] || return 1
	mount --bind "$d/etc" /etc || return 1
	kb_on_exit "umount -l /etc"
	mount -o remount,bind,ro /etc || return 1
	KB_ETC_VIEW=$d
}

kb_private_etc_file() {
	local name=$1 src=$2 host mode=0644 owner=0 group=0
	case $name in
	"" | . | .. | */*)
		echo "sshd.sh: kb_private_etc_file: bad name \"$name\"" >&2
		return 1 ;;
	esac
	kb_private_etc || return 1
	host=$KB_ETC_VIEW/host/$name
	if [ -e "$host" ]; then
		read -r mode owner group < <(stat -L -c '%a %u %g' "$host") ||
		    return 1
	fi
	# The staging tree stays writable; never write through its link.
	rm -f -- "$KB_ETC_VIEW/etc/$name" &&
	    install -m "$mode" -o "$owner" -g "$group" -- "$src" \
	    "$KB_ETC_VIEW/etc/$name" || return 1
	cmp -s -- "$src" "/etc/$name" && [ ! -L "/etc/$name" ] || {
		echo "sshd.sh: /etc/$name is not the private copy" >&2
		return 1
	}
}
