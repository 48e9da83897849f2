#!/bin/bash
# Install the Debian packages keybound needs to build and test, if missing.
# Usage: tests/deps.sh [bench]
# Runs apt-get only as root and only when something is missing.
set -eu

pkgs="gcc make pkg-config libc6-dev libldap-dev libssl-dev libpam0g-dev
openssl clang libclang-rt-14-dev valgrind slapd ldap-utils openssh-server
openssh-client sshpass libpam-wrapper libpam-modules iproute2 groff-base
man-db procps util-linux passwd mandoc python3 bc systemd time strace
dpkg-dev debhelper lintian adduser libpam-runtime apt 389-ds-base \
samba samba-dsdb-modules samba-vfs-modules samba-ad-provision fail2ban"
if [ "${1:-}" = bench ]; then
	pkgs="$pkgs sssd sssd-ldap python3-ldap hyperfine time"
fi

missing=""
for p in $pkgs; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing" >&2
	echo "deps: run 'make deps' as root, or install them yourself" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
