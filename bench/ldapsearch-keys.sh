#!/bin/sh
# ldapsearch-keys.sh - the hand-rolled AuthorizedKeysCommand many sites
# run: ldapsearch piped into sed, keys from the openssh-lpk sshPublicKey
# attribute.  A peer in the bench, not part of keybound.
#
#   AuthorizedKeysCommand /usr/local/bin/ldapsearch-keys.sh [-Z CAFILE] URI BASE %u
set -eu
tls=
if [ "$1" = -Z ]; then
	LDAPTLS_CACERT=$2
	LDAPTLS_REQCERT=demand
	export LDAPTLS_CACERT LDAPTLS_REQCERT
	tls=-ZZ
	shift 2
fi
uri=$1 base=$2 user=$3
# The usual guard: plain user names only, so no filter injection.
case "$user" in
*[!A-Za-z0-9._-]* | "" | -*) exit 1 ;;
esac
ldapsearch -x $tls -LLL -o ldif-wrap=no -o nettimeout=3 -l 3 -H "$uri" \
    -b "$base" "(&(objectClass=ldapPublicKey)(uid=$user))" sshPublicKey |
    sed -n 's/^sshPublicKey: //p'
