#!/usr/bin/python3
"""python-ldap-keys.py - an AuthorizedKeysCommand in Python (python-ldap),
as sites write them: a peer in the bench, not part of keybound.

    python-ldap-keys.py [-Z CAFILE] URI BASE USER
"""
import sys

import ldap
import ldap.filter


def main(argv):
    cafile = None
    if len(argv) > 1 and argv[1] == "-Z":
        cafile = argv[2]
        argv = argv[:1] + argv[3:]
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    uri, base, user = argv[1:]
    conn = ldap.initialize(uri)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 3)
    conn.set_option(ldap.OPT_TIMEOUT, 3)
    conn.set_option(ldap.OPT_REFERRALS, 0)
    if cafile:
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, cafile)
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        conn.start_tls_s()
    conn.simple_bind_s("", "")
    flt = "(&(objectClass=ldapPublicKey)(uid=%s))" % \
        ldap.filter.escape_filter_chars(user)
    for _dn, attrs in conn.search_s(base, ldap.SCOPE_SUBTREE, flt,
                                    ["sshPublicKey"]):
        for value in attrs.get("sshPublicKey", []):
            sys.stdout.write(value.decode("ascii") + "\n")
    conn.unbind_s()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
