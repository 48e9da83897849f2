#!/bin/bash
# deb_package.sh - the Debian packages, built and used as an administrator
# would: `make deb` builds keybound and libpam-keybound, lintian finds no
# error and no warning without a justified override; `dpkg -i` creates the
# command user and the cache directory and changes no PAM stack;
# `pam-auth-update --enable keybound` puts the module first in
# common-auth; the demo's login flow runs against the installed files only
# (/usr/bin/keybound-keys, the packaged pam_keybound.so through
# /etc/pam.d/common-auth, the packaged sshd drop-in, the user keybound,
# /var/cache/keybound); `--disable` and a purge put common-auth back to its
# bytes and leave no file the packages installed.  The postinst's fallback
# without systemd-sysusers and systemd-tmpfiles is exercised too.
#
# Where it installs: a throwaway root, not this machine's.  Other tests
# run here at the same time and must not see a PAM stack that refuses
# passwords, a keybound user or a half-installed package, so the packages
# go into an overlayfs whose lower layer is / itself (read-only to it) and
# whose upper layer is a tmpfs, mounted in a private mount namespace
# (unshare) and entered with chroot.  That costs a mount, not a
# debootstrap: the installed Debian system, its sshd, slapd and libpam are
# the host's, and every write (dpkg's database, /etc/passwd, /etc/pam.d,
# /var/cache) lands in the tmpfs, which disappears with the namespace.
# The host's /etc/pam.d, /var/lib/pam, dpkg's view of the packages, the
# user list and every path the packages ship are compared before and after.
#
# Three stages of this one script: "host" (build, lint, compare the host
# before and after), "ns" (inside the private mount namespace: make the
# throwaway root), "chroot" (inside it: install, log in, purge).
. "$KB_SRC/tests/lib/common.sh"

KB_SELF=$KB_SRC/tests/integration/deb_package.sh
DEB_INSTANCE=deb-host
DEB_PASSWORD=correct-horse-battery-staple
DEB_KEYPAIR=deb-key
DEB_TTL=2
KB_PKGS="keybound libpam-keybound"

# sums: "sha256 path" of each existing regular file given.
sums() {
	local f
	for f in "$@"; do
		[ -f "$f" ] && sha256sum "$f"
	done
}

# deb_files DEB...: the non-directory paths the packages ship, absolute.
deb_files() {
	local d
	for d in "$@"; do
		dpkg-deb -c "$d" | awk '$1 !~ /^d/ { print $6 }'
	done | sed 's|^\./|/|' | sort -u
}

# --- stage "host" -------------------------------------------------------------

stage_host() {
	local t0 elapsed lint rc f before_pam before_user before_cache
	[ "$(id -u)" = 0 ] || skip "needs root (dpkg -i, mounts, chroot)"
	[ -x "$KB_BUILD/tests/tools/kb-syslog-sink" ] ||
	    skip "kb-syslog-sink not built yet"
	for f in dpkg-buildpackage dh lintian; do
		command -v "$f" >/dev/null 2>&1 ||
		    skip "dpkg-buildpackage cannot run here: $f missing (tests/deps.sh installs dpkg-dev, debhelper, lintian)"
	done
	if dpkg-query -W -f='${Status}\n' $KB_PKGS 2>/dev/null |
	    grep -q ' installed$'; then
		skip "keybound is installed on this machine: the packages' files could not be told apart from the host's"
	fi
	kb_tmpdir

	# 1. make deb, into a build directory of our own.
	t0=$(kb_ms)
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$KB_SRC" \
	    B="$KB_T/build" deb >"$KB_T/deb.log" 2>&1
	rc=$?
	elapsed=$(( $(kb_ms) - t0 ))
	if [ $rc -ne 0 ]; then
		tail -n 40 "$KB_T/deb.log"
		fail "make deb failed (exit $rc)"
	fi
	ok "make deb: ${elapsed} ms"
	DEB_KEYBOUND=$(ls "$KB_T"/build/keybound_*_*.deb 2>/dev/null)
	DEB_PAM=$(ls "$KB_T"/build/libpam-keybound_*_*.deb 2>/dev/null)
	[ -f "$DEB_KEYBOUND" ] && [ -f "$DEB_PAM" ] ||
	    fail "make deb left no keybound or libpam-keybound .deb in \$(B)"
	ok "make deb left $(basename "$DEB_KEYBOUND") and $(basename "$DEB_PAM") in \$(B)"
	export DEB_KEYBOUND DEB_PAM

	# 2. lintian: no error, and no warning that has no override (each
	# override, shipped in the package, says why; printed below).
	lint=$(ls "$KB_T"/build/deb/keybound_*.changes)
	t0=$(kb_ms)
	lintian --fail-on error,warning "$lint" >"$KB_T/lintian.out" 2>&1
	rc=$?
	sed 's/^/  lintian: /' "$KB_T/lintian.out"
	check_eq "$rc" 0 "lintian: no error, no warning without override ($(( $(kb_ms) - t0 )) ms)"
	grep -q '^[EW]: ' "$KB_T/lintian.out" &&
	    not_ok "lintian reports errors or warnings" ||
	    ok "lintian prints no E: or W: line"

	# 3. What the packages say about themselves, before installing.
	check_static

	# 4. The host before; the throwaway root; the host after.
	deb_files "$DEB_KEYBOUND" "$DEB_PAM" >"$KB_T/shipped"
	[ -s "$KB_T/shipped" ] || fail "cannot list the packages' files"
	while read -r f; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		skip "$f exists on this machine already: cannot tell the packages' copy from it"
	done <"$KB_T/shipped"
	before_pam=$(sums /etc/pam.d/* /var/lib/pam/*)
	before_user=$(getent passwd keybound)
	before_cache=$(stat -c '%U %a' /var/cache/keybound 2>/dev/null)

	unshare --mount --propagation private \
	    env KB_DEB_STAGE=ns bash "$KB_SELF" </dev/null
	rc=$?
	check_eq "$rc" 0 "install, login flow and purge in the throwaway root"

	check_eq "$(sums /etc/pam.d/* /var/lib/pam/*)" "$before_pam" \
	    "host: /etc/pam.d and /var/lib/pam unchanged"
	check_eq "$(getent passwd keybound)" "$before_user" \
	    "host: no keybound user added"
	check_eq "$(stat -c '%U %a' /var/cache/keybound 2>/dev/null)" \
	    "$before_cache" "host: /var/cache/keybound as before"
	check_eq "$(dpkg-query -W -f='${Status}\n' $KB_PKGS 2>/dev/null |
	    grep -c ' installed$')" 0 "host: dpkg knows no keybound package"
	check_eq "$(ls /var/lib/dpkg/info/keybound.* \
	    /var/lib/dpkg/info/libpam-keybound.* 2>/dev/null)" "" \
	    "host: no maintainer scripts of ours in /var/lib/dpkg/info"
	rc=0
	while read -r f; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			not_ok "host: $f appeared"
			rc=1
		fi
	done <"$KB_T/shipped"
	[ $rc = 0 ] && ok "host: none of the $(wc -l <"$KB_T/shipped") files the packages ship exists"
	check_eq "$(findmnt -rn -o TARGET | grep -cF "$KB_T")" 0 \
	    "host: no mount of the throwaway root is left"
	kb_done
}

# The packages as files: names, paths, dependencies, maintainer scripts.
check_static() {
	local ma dir ver
	ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	dir=$KB_T/x
	mkdir -p "$dir/k" "$dir/p"
	dpkg-deb -x "$DEB_KEYBOUND" "$dir/k" && dpkg-deb -x "$DEB_PAM" "$dir/p" ||
	    fail "dpkg-deb -x failed"
	dpkg-deb -e "$DEB_KEYBOUND" "$dir/k/DEBIAN" &&
	    dpkg-deb -e "$DEB_PAM" "$dir/p/DEBIAN" || fail "dpkg-deb -e failed"

	for f in usr/bin/keybound usr/bin/keybound-keys \
	    usr/share/man/man1/keybound.1.gz usr/share/man/man5/keybound.conf.5.gz \
	    usr/share/man/man8/keybound-keys.8.gz \
	    usr/share/keybound/schema/60keybound.ldif \
	    usr/share/keybound/schema/keybound.schema \
	    usr/lib/sysusers.d/keybound.conf usr/lib/tmpfiles.d/keybound.conf \
	    usr/share/doc/keybound/examples/keybound.conf \
	    usr/share/doc/keybound/examples/sshd_config.d/40-keybound.conf \
	    usr/share/doc/keybound/README.Debian.gz; do
		[ -f "$dir/k/$f" ] || not_ok "keybound lacks /$f"
	done
	ok "keybound ships the CLI, keybound-keys, man pages, schema, snippets, examples"
	for f in "usr/lib/$ma/security/pam_keybound.so" \
	    usr/share/pam-configs/keybound usr/share/man/man8/pam_keybound.8.gz; do
		[ -f "$dir/p/$f" ] || not_ok "libpam-keybound lacks /$f"
	done
	ok "libpam-keybound ships /usr/lib/$ma/security/pam_keybound.so and the profile"
	check_eq "$(strings "$dir/p/usr/lib/$ma/security/pam_keybound.so" |
	    grep -E '/keybound-keys$')" /usr/bin/keybound-keys \
	    "the packaged module runs /usr/bin/keybound-keys"
	check_eq "$(grep '^AuthorizedKeysCommand ' \
	    "$dir/k/usr/share/doc/keybound/examples/sshd_config.d/40-keybound.conf")" \
	    "AuthorizedKeysCommand /usr/bin/keybound-keys %u %f" \
	    "the packaged sshd drop-in names the packaged keybound-keys"
	check_eq "$(find "$dir/k" "$dir/p" -path '*/DEBIAN' -prune -o \
	    -path '*/etc*' -print)" "" \
	    "neither package ships anything under /etc (no sshd or PAM config)"
	check_eq "$(grep -lE 'invoke-rc\.d|systemctl|deb-systemd-invoke|sshd_config' \
	    "$dir"/[kp]/DEBIAN/{preinst,postinst,prerm,postrm} 2>/dev/null)" "" \
	    "no maintainer script starts a service or touches sshd's config"
	ver=$(dpkg-deb -f "$DEB_KEYBOUND" Version)
	dpkg-deb -f "$DEB_PAM" Depends | tr ',' '\n' |
	    grep -qx " *keybound (= $ver)" &&
	    ok "libpam-keybound depends on keybound (= $ver)" ||
	    not_ok "libpam-keybound does not depend on keybound (= $ver)"
	# keybound-keys dlopen()s libldap: the dependency is explicit.
	dpkg-deb -f "$DEB_KEYBOUND" Depends | grep -q 'libldap' &&
	    ok "keybound depends on libldap ($(dpkg-deb -f "$DEB_KEYBOUND" Depends))" ||
	    not_ok "keybound has no dependency on libldap"
	check_eq "$(sed -n 's/^Default: *//p' "$dir/p/usr/share/pam-configs/keybound")" \
	    no "the pam-auth-update profile is off by default"
	for f in "$dir"/[kp]/usr/share/lintian/overrides/*; do
		sed "s|^|  override ${f##*/}: |" "$f"
	done
}

# --- stage "ns": a private mount namespace; make the throwaway root ------------

stage_ns() {
	local layer=$KB_T/root-layer root
	root=$layer/merged
	mkdir -p "$layer" || exit 1
	# Everything below dies with this namespace; unmounted explicitly
	# anyway so that nothing outlives a stray process.
	mount -t tmpfs -o mode=0700 kbdebroot "$layer" || exit 1
	mkdir "$layer/upper" "$layer/work" "$root" || exit 1
	if ! mount -t overlay kbdeb \
	    -o "lowerdir=/,upperdir=$layer/upper,workdir=$layer/work" "$root"; then
		echo "cannot mount an overlayfs over / (no throwaway root)" >&2
		exit 1
	fi
	mount -t proc proc "$root/proc" &&
	    mount --rbind /sys "$root/sys" &&
	    mount -t tmpfs -o mode=0755 kbdebrun "$root/run" || exit 1
	# A /dev of its own, as container runtimes make one: the host's
	# device nodes, and a new devpts instance with its own ptmx (sshpass
	# and ssh need ptys; the host's /dev/ptmx, reached through a bind
	# mount, finds no devpts beside it and fails with ENOENT).
	mount -t tmpfs -o mode=0755,nosuid kbdebdev "$root/dev" || exit 1
	for n in null zero full random urandom tty; do
		touch "$root/dev/$n" && mount --bind "/dev/$n" "$root/dev/$n" ||
		    exit 1
	done
	mkdir "$root/dev/pts" "$root/dev/shm" &&
	    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 \
	    kbdebpts "$root/dev/pts" &&
	    ln -s pts/ptmx "$root/dev/ptmx" &&
	    mount -t tmpfs -o mode=1777 kbdebshm "$root/dev/shm" &&
	    ln -s /proc/self/fd "$root/dev/fd" &&
	    ln -s /proc/self/fd/0 "$root/dev/stdin" &&
	    ln -s /proc/self/fd/1 "$root/dev/stdout" &&
	    ln -s /proc/self/fd/2 "$root/dev/stderr" || exit 1
	chroot "$root" env KB_DEB_STAGE=chroot bash "$KB_SELF"
	rc=$?
	umount -R -l "$root/proc" "$root/dev" "$root/sys" "$root/run"
	umount -l "$root"
	umount -l "$layer"
	# What the throwaway root wrote never reached the host's files.
	exit $rc
}

# --- stage "chroot": install, log in, purge ------------------------------------

stage_chroot() {
	local ma rc user before_auth before_pamstate shipped f key login_keys
	export DEBIAN_FRONTEND=noninteractive
	# A private /dev/log too: the module's and keybound-keys' syslog
	# lines are read from $KB_SYSLOG, and never reach the host's log.
	# (It runs this script again in a mount namespace of its own; a
	# temporary directory of this root's, not the host stage's.)
	. "$KB_SRC/tests/lib/slapd.sh"
	. "$KB_SRC/tests/lib/sshd.sh"
	[ -n "${KB_SYSLOG_NS:-}" ] || unset KB_T
	kb_private_syslog
	ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	before_auth=$(sha256sum </etc/pam.d/common-auth)
	before_pamstate=$(sums /var/lib/pam/*)
	getent passwd keybound >/dev/null &&
	    fail "the root already has a keybound user"

	# man-db's trigger rebuilds the whole manual page index on every
	# dpkg run: minutes on a loaded machine, and nothing this test reads.
	# Off in this root only (the trigger skips without this file).
	rm -f /var/lib/man-db/auto-update

	# 1. dpkg -i
	dpkg -i "$DEB_KEYBOUND" "$DEB_PAM" >"$KB_T/dpkg-i.log" 2>&1
	rc=$?
	sed 's/^/  dpkg: /' "$KB_T/dpkg-i.log"
	check_eq "$rc" 0 "dpkg -i keybound libpam-keybound"
	[ "$(dpkg_info_files)" -gt 0 ] &&
	    ok "dpkg's database holds $(dpkg_info_files) files of the packages" ||
	    not_ok "no keybound file in /var/lib/dpkg/info after dpkg -i"
	check_eq "$(getent passwd keybound | cut -d: -f6,7)" \
	    /nonexistent:/usr/sbin/nologin "user keybound created: no home, no shell"
	check_eq "$(stat -c '%U:%G %a' /var/cache/keybound 2>&1)" \
	    "keybound:keybound 700" "/var/cache/keybound: keybound:keybound 0700"
	check_eq "$(sha256sum </etc/pam.d/common-auth)" "$before_auth" \
	    "installing leaves common-auth as it was (profile off by default)"
	check_eq "$(find /etc/ssh/sshd_config.d/ -name '*keybound*' | wc -l)" 0 \
	    "installing writes no sshd drop-in"
	check_eq "$(strings "/usr/lib/$ma/security/pam_keybound.so" |
	    grep -E '/keybound-keys$')" /usr/bin/keybound-keys \
	    "the installed module runs the installed keybound-keys"

	# 2. pam-auth-update --enable keybound
	pam-auth-update --enable keybound >"$KB_T/pau.log" 2>&1
	check_eq "$?" 0 "pam-auth-update --enable keybound"
	check_eq "$(grep -E '^auth[[:space:]]' /etc/pam.d/common-auth | head -n 1 |
	    tr -s ' \t' ' ' | sed 's/ $//')" "auth required pam_keybound.so" \
	    "common-auth: pam_keybound.so first, required"

	# 3. The directory, keybound.conf, the packaged sshd drop-in, sshd.
	slapd_start --load "$KB_SRC/config-examples/sample.ldif" ||
	    fail "slapd did not start"
	mkdir -p /etc/keybound
	kb_write_config /etc/keybound/keybound.conf "instance $DEB_INSTANCE" \
	    "cache_ttl $DEB_TTL" "cache_dir /var/cache/keybound" || fail "keybound.conf"
	chmod 0644 /etc/keybound/keybound.conf
	install -m 0644 \
	    /usr/share/doc/keybound/examples/sshd_config.d/40-keybound.conf \
	    /etc/ssh/sshd_config.d/40-keybound.conf
	start_sshd || fail "sshd did not start"
	user=kbdeb$$
	kb_make_user "$user" "$DEB_PASSWORD" || fail "could not create $user"
	KB_ADMIN=(-D "$SLAPD_ROOTDN" -y "$SLAPD_ROOTPW_FILE")

	# 4. The demo's login flow, installed files only.
	kb_ssh_password_login "$user" "$DEB_PASSWORD" password >/dev/null 2>&1
	check_eq "$?" 0 "password login accepted (nothing attached)"
	key=$KB_T/$DEB_KEYPAIR
	/usr/bin/keybound "${KB_ADMIN[@]}" create "$DEB_KEYPAIR" -o "$key" \
	    >"$KB_T/out" 2>&1
	check_eq "$?" 0 "keybound create (the installed CLI, /etc/keybound/keybound.conf)"
	/usr/bin/keybound "${KB_ADMIN[@]}" attach "$DEB_KEYPAIR" \
	    "$user@$DEB_INSTANCE" >"$KB_T/out" 2>&1
	check_eq "$?" 0 "keybound attach $DEB_KEYPAIR $user@$DEB_INSTANCE"
	wait_answer "$user" 0 || not_ok "keybound-keys never saw the attachment"
	login_keys=$(/usr/bin/keybound-keys "$user" 2>&1)
	printf '%s\n' "$login_keys" | grep -q " keybound:$DEB_KEYPAIR\$" &&
	    ok "/usr/bin/keybound-keys serves the key (as root it dropped to keybound)" ||
	    not_ok "keybound-keys does not serve the key: $login_keys"
	kb_ssh_key_login "$user" "$key" true >"$KB_T/out" 2>&1
	check_eq "$?" 0 "key login through the packaged drop-in"
	kb_ssh_password_login "$user" "$DEB_PASSWORD" password >/dev/null 2>&1
	[ $? -ne 0 ] && ok "password login refused while attached" ||
	    not_ok "password login accepted while a key pair is attached"
	kb_ssh_password_login "$user" "$DEB_PASSWORD" keyboard-interactive \
	    >/dev/null 2>&1
	[ $? -ne 0 ] && ok "keyboard-interactive login refused while attached" ||
	    not_ok "keyboard-interactive login accepted while attached"
	kb_syslog_wait "pam_keybound.*user=$user .*decision=deny reason=key-pair-attached" &&
	    ok "the refusal is pam_keybound's, reached through common-auth" ||
	    not_ok "no deny line from pam_keybound in the log"
	/usr/bin/keybound "${KB_ADMIN[@]}" detach "$DEB_KEYPAIR" \
	    "$user@$DEB_INSTANCE" >"$KB_T/out" 2>&1
	check_eq "$?" 0 "keybound detach"
	wait_answer "$user" 3 || not_ok "keybound-keys never saw the detach"
	kb_ssh_password_login "$user" "$DEB_PASSWORD" password >/dev/null 2>&1
	check_eq "$?" 0 "password login accepted again after detach"
	kb_ssh_key_login "$user" "$key" true >/dev/null 2>&1
	[ $? -ne 0 ] && ok "key login refused after detach" ||
	    not_ok "key login still works after detach"
	/usr/bin/keybound "${KB_ADMIN[@]}" delete "$DEB_KEYPAIR" >/dev/null 2>&1
	check_eq "$?" 0 "keybound delete"

	# 5. --disable, then purge with the profile enabled.
	pam-auth-update --disable keybound >"$KB_T/pau.log" 2>&1
	check_eq "$?" 0 "pam-auth-update --disable keybound"
	check_eq "$(sha256sum </etc/pam.d/common-auth)" "$before_auth" \
	    "after --disable, common-auth has its previous bytes"
	pam-auth-update --enable keybound >"$KB_T/pau.log" 2>&1
	grep -q pam_keybound /etc/pam.d/common-auth ||
	    not_ok "re-enabling before the purge failed"
	sshd_stop
	# What the test itself wrote, as an administrator would remove it.
	rm -f /etc/ssh/sshd_config.d/40-keybound.conf
	rm -rf /etc/keybound
	shipped=$(dpkg -L $KB_PKGS | while read -r f; do
		[ -d "$f" ] || echo "$f"; done)
	[ -n "$shipped" ] || not_ok "dpkg -L lists nothing"
	apt-get purge -y -q $KB_PKGS >"$KB_T/purge.log" 2>&1
	rc=$?
	sed 's/^/  apt-get: /' "$KB_T/purge.log"
	check_eq "$rc" 0 "apt-get purge keybound libpam-keybound"
	check_eq "$(sha256sum </etc/pam.d/common-auth)" "$before_auth" \
	    "after the purge, common-auth has its previous bytes"
	check_eq "$(sums /var/lib/pam/*)" "$before_pamstate" \
	    "after the purge, pam-auth-update's state (/var/lib/pam) as before"
	rc=0
	for f in $shipped /var/cache/keybound; do
		if [ -e "$f" ] || [ -L "$f" ]; then
			not_ok "after the purge $f remains"
			rc=1
		fi
	done
	[ $rc = 0 ] && ok "after the purge none of the $(echo "$shipped" | wc -l) installed files nor /var/cache/keybound remains"
	check_eq "$(dpkg_info_files)" 0 "dpkg's database forgot both packages"
	getent passwd keybound >/dev/null &&
	    ok "user keybound kept after the purge (README.Debian says why)" ||
	    not_ok "the purge removed user keybound"

	# 6. Without systemd-sysusers and systemd-tmpfiles (no systemd): the
	# postinst's fallback makes the same user and directory.  Removing
	# them is fine here: this root is thrown away.
	userdel keybound >/dev/null 2>&1
	getent group keybound >/dev/null && groupdel keybound
	for f in systemd-sysusers systemd-tmpfiles; do
		while hash -r && command -v "$f" >/dev/null 2>&1; do
			rm -f "$(command -v "$f")" || break
		done
	done
	command -v systemd-sysusers systemd-tmpfiles &&
	    fail "could not hide systemd-sysusers and systemd-tmpfiles"
	dpkg -i "$DEB_KEYBOUND" >"$KB_T/dpkg-i.log" 2>&1
	rc=$?
	sed 's/^/  dpkg (no systemd): /' "$KB_T/dpkg-i.log"
	check_eq "$rc" 0 "dpkg -i keybound without systemd-sysusers and systemd-tmpfiles"
	check_eq "$(getent passwd keybound | cut -d: -f6,7)" \
	    /nonexistent:/usr/sbin/nologin "without systemd: user keybound created"
	check_eq "$(getent passwd keybound | cut -d: -f4)" \
	    "$(getent group keybound | cut -d: -f3)" \
	    "without systemd: its own group keybound"
	check_eq "$(stat -c '%U:%G %a' /var/cache/keybound 2>&1)" \
	    "keybound:keybound 700" "without systemd: /var/cache/keybound 0700"
	dpkg --purge keybound >/dev/null 2>&1
	check_eq "$?" 0 "dpkg --purge keybound"
	[ -e /var/cache/keybound ] && not_ok "purge left /var/cache/keybound" ||
	    ok "purge removed /var/cache/keybound"
	kb_done
}

# dpkg_info_files: how many files dpkg keeps about our packages.
dpkg_info_files() {
	find /var/lib/dpkg/info/ \( -name 'keybound[.:]*' -o \
	    -name 'libpam-keybound[.:]*' \) | wc -l
}

# start_sshd: Debian's own /etc/ssh/sshd_config (which includes the
# packaged drop-in copied to sshd_config.d) on a loopback port; only the
# listening address, the host key and the pid file come from the command
# line.  Real PAM: /etc/pam.d/sshd includes common-auth.
start_sshd() {
	local hostkey=$KB_T/host_ed25519
	install -d -o root -g root -m 0755 /run/sshd
	ssh-keygen -q -t ed25519 -N '' -C '' -f "$hostkey" || return 1
	SSHD_PORT=$(kb_free_port) || return 1
	SSHD_LOG=$KB_T/sshd.log
	set -- -f /etc/ssh/sshd_config -h "$hostkey" -o "Port $SSHD_PORT" \
	    -o "ListenAddress 127.0.0.1" -o "PidFile none" \
	    -o "LogLevel VERBOSE" -o "PermitRootLogin no"
	/usr/sbin/sshd -t "$@" || return 1
	[ "$(/usr/sbin/sshd -T "$@" | grep -iE '^(authorizedkeyscommand|authorizedkeyscommanduser|usepam) ')" = \
	    "$(printf '%s\n' 'usepam yes' \
	    'authorizedkeyscommand /usr/bin/keybound-keys %u %f' \
	    'authorizedkeyscommanduser keybound')" ] || {
		echo "sshd does not take the packaged drop-in:" >&2
		/usr/sbin/sshd -T "$@" | grep -iE '^(authorizedkeys|usepam)' >&2
		return 1
	}
	/usr/sbin/sshd -D -e "$@" >"$SSHD_LOG" 2>&1 </dev/null &
	SSHD_PID=$!
	kb_kill_at_exit "$SSHD_PID"
	export SSHD_PORT SSHD_PID SSHD_LOG
	kb_wait_port "$SSHD_PORT" 10 || { cat "$SSHD_LOG" >&2; return 1; }
}

# wait_answer USER WANT: until `keybound-keys --has-keys USER` exits WANT
# (0: keys attached, 3: none), i.e. until the cached answer the test
# changed has aged out (cache_ttl); bounded by the TTL plus the helper's
# own deadlines, with room for a loaded machine.
wait_answer() {
	local i rc
	for ((i = 0; i < (DEB_TTL + 20) * 10; i++)); do
		/usr/bin/keybound-keys --has-keys "$1" >/dev/null 2>&1
		rc=$?
		[ "$rc" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

case ${KB_DEB_STAGE:-host} in
host) stage_host ;;
ns) stage_ns ;;
chroot) stage_chroot ;;
*) fail "unknown stage $KB_DEB_STAGE" ;;
esac
