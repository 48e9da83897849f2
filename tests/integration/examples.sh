#!/bin/bash
# examples.sh - config-examples/ cannot rot: every file in it is used by
# some test, keybound.conf is accepted by the real parser and documents
# the real defaults and every keyword, the sysusers.d/tmpfiles.d files
# produce what keybound-keys expects, sample.ldif loads into a real slapd
# with correct fingerprints and serves its keys, and the 389-ds/AD notes
# match the schema.
. "$KB_SRC/tests/lib/common.sh"

kb_tmpdir
EX=$KB_SRC/config-examples
CONFCHECK=$KB_BUILD/tests/tools/kb-confcheck
[ -x "$CONFCHECK" ] || skip "kb-confcheck not built (make)"

# --- 1. Every example file is used by a test ---------------------------------
# A test uses a file if it names its path, or names its directory (e.g.
# a variable set to the directory) and its file name.
while IFS= read -r rel; do
	users=$(grep -rlF --exclude='*.log' "config-examples/$rel" \
	    "$KB_SRC/tests" 2>/dev/null)
	dir=$(dirname "$rel")
	if [ -z "$users" ] && [ "$dir" != . ]; then
		users=$(grep -rlF --exclude='*.log' "config-examples/$dir" \
		    "$KB_SRC/tests" 2>/dev/null |
		    xargs -r grep -lF "$(basename "$rel")")
	fi
	users=$(printf '%s\n' "$users" | sed "s|^$KB_SRC/||" | tr '\n' ' ')
	users=${users% }
	if [ -n "$users" ]; then
		ok "config-examples/$rel used by: $users"
	else
		not_ok "config-examples/$rel is not used by any test"
	fi
done < <(cd "$EX" && find . -type f | sed 's|^\./||' | sort)

# --- 2. keybound.conf --------------------------------------------------------
conf=$EX/keybound.conf
"$CONFCHECK" -o "$conf" >"$KB_T/as-shipped.out" 2>"$KB_T/as-shipped.err"
check_eq "$?" 0 "config-examples/keybound.conf accepted by the real parser"
check_eq "$(cat "$KB_T/as-shipped.err")" "" "no problem reported for it"
# The Active Directory examples (run against a DC by samba_ad.sh, which
# skips where Samba cannot run) parse wherever this test runs.
for f in ad/keybound.conf ad/keybound-custom.conf; do
	"$CONFCHECK" -o "$EX/$f" >/dev/null 2>"$KB_T/ad.err"
	check_eq "$?:$(cat "$KB_T/ad.err")" 0: \
	    "config-examples/$f accepted by the real parser"
done

# Every "#keyword value" line shown at its default, uncommented, changes
# nothing: the documented defaults are the real ones.  Keywords whose
# commented value is an illustration, not a default, are left alone.
illustrations=" binddn bindpw_file sasl_mech tls_cacert tls_cacertdir tls_cert tls_key signing_key trusted_signers "
keywords=$(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", set_.*/\1/p' \
    "$KB_SRC/lib/config.c")
[ -n "$keywords" ] || fail "no keyword table found in lib/config.c"
uncomment=
for kw in $keywords; do
	case "$illustrations" in *" $kw "*) continue ;; esac
	uncomment="$uncomment -e s/^#\\($kw[[:space:]]\\)/\\1/"
done
# shellcheck disable=SC2086
sed $uncomment "$conf" >"$KB_T/defaults.conf"
chmod 0644 "$KB_T/defaults.conf"
n=$(diff "$conf" "$KB_T/defaults.conf" | grep -c '^>')
[ "$n" -ge 15 ] && ok "$n default lines uncommented" ||
    not_ok "only $n default lines found to uncomment"
"$CONFCHECK" -o "$KB_T/defaults.conf" >"$KB_T/defaults.out" 2>"$KB_T/defaults.err"
check_eq "$?" 0 "keybound.conf with every default uncommented is accepted"
cat "$KB_T/defaults.err" >&2
if diff -u "$KB_T/as-shipped.out" "$KB_T/defaults.out" >"$KB_T/diff"; then
	ok "the documented defaults are the parser's defaults"
else
	not_ok "documented defaults differ from the parser's:"
	cat "$KB_T/diff" >&2
fi

# Every keyword the parser knows is documented in the example, in
# keybound.conf(5) and in the README's config paragraph or the man page.
for kw in $keywords; do
	grep -Eq "^#?$kw( |$)" "$conf" ||
	    not_ok "keyword $kw not shown in config-examples/keybound.conf"
	grep -Eq "^\.(B|BI|BR) $kw( |$)" "$KB_SRC/man/keybound.conf.5" ||
	    not_ok "keyword $kw not documented in man/keybound.conf.5"
done
ok "every parser keyword is in the example and in keybound.conf(5)"
# ... and nothing is documented that the parser does not know.
for kw in $(sed -n 's/^#\{0,1\}\([a-z_][a-z_]*\) .*/\1/p' "$conf" | sort -u); do
	case " $(echo $keywords) " in
	*" $kw "*) ;;
	*) not_ok "config-examples/keybound.conf shows unknown keyword $kw" ;;
	esac
done

# The parser refuses what the example says it refuses.
printf 'uri ldap://ldap.example.com\nbase ou=k,dc=x\nstarttls no\n' \
    >"$KB_T/plain.conf"
"$CONFCHECK" "$KB_T/plain.conf" >/dev/null 2>"$KB_T/plain.err"
check_eq "$?" 2 "plain-text LDAP to a remote host is a config error"
grep -q '^'"$KB_T"'/plain.conf:1: uri: ' "$KB_T/plain.err" ||
    not_ok "plain-text refusal not reported as FILE:LINE: uri: ..."
printf 'uri ldaps://ldap.example.com\nbase ou=k,dc=x\nallowed_key_types ssh-dss\n' \
    >"$KB_T/dss.conf"
"$CONFCHECK" "$KB_T/dss.conf" >/dev/null 2>&1
check_eq "$?" 2 "ssh-dss in allowed_key_types is a config error"

# --- 3. sysusers.d and tmpfiles.d --------------------------------------------
cmduser=$(sed -n 's/^AuthorizedKeysCommandUser \(.*\)/\1/p' \
    "$EX/sshd_config.d/40-keybound.conf")
check_eq "$cmduser" keybound "the sshd drop-in runs the command as keybound"
cache_default=$(sed -n 's/^cache_dir //p' "$KB_T/as-shipped.out")
if command -v systemd-sysusers >/dev/null &&
    command -v systemd-tmpfiles >/dev/null; then
	R=$KB_T/root
	mkdir -p "$R/etc/sysusers.d" "$R/etc/tmpfiles.d"
	cp "$EX/sysusers.d/keybound.conf" "$R/etc/sysusers.d/keybound.conf"
	cp "$EX/tmpfiles.d/keybound.conf" "$R/etc/tmpfiles.d/keybound.conf"
	systemd-sysusers --root="$R" >"$KB_T/sysusers.log" 2>&1
	check_eq "$?" 0 "systemd-sysusers accepts config-examples/sysusers.d/keybound.conf"
	IFS=: read -r u _ uid gid _ home shell < <(grep "^$cmduser:" "$R/etc/passwd")
	check_eq "$u:$home:$shell" "$cmduser:/nonexistent:/usr/sbin/nologin" \
	    "the command user has no home and no login shell"
	[ "$uid" -lt 1000 ] && ok "the command user is a system user ($uid)" ||
	    not_ok "the command user's uid $uid is not a system uid"
	grep -q "^$cmduser:" "$R/etc/group" && ok "group $cmduser created" ||
	    not_ok "no group $cmduser (bindpw_file is 0640 root:$cmduser)"
	systemd-tmpfiles --root="$R" --create >"$KB_T/tmpfiles.log" 2>&1
	check_eq "$?" 0 "systemd-tmpfiles accepts config-examples/tmpfiles.d/keybound.conf"
	check_eq "$(stat -c '%a %u %g' "$R$cache_default" 2>&1)" \
	    "700 $uid $gid" \
	    "cache_dir default $cache_default created 0700, owned by $cmduser"
else
	not_ok "systemd-sysusers/systemd-tmpfiles missing: sysusers.d and tmpfiles.d untested"
fi

# --- 4. pam.d-sshd and the sshd drop-in --------------------------------------
check_eq "$(grep -v '^#' "$EX/pam.d-sshd" | grep -v '^$' | tr -s ' \t' ' ')" \
    "auth required pam_keybound.so" \
    "config-examples/pam.d-sshd holds the one documented line"
check_eq "$(sed -n 's/^AuthorizedKeysCommand \([^ ]*\) .*/\1/p' \
    "$EX/sshd_config.d/40-keybound.conf")" /usr/local/bin/keybound-keys \
    "the sshd drop-in runs keybound-keys from the default BINDIR"
grep -qx 'AuthorizedKeysCommand /usr/local/bin/keybound-keys %u %f' \
    "$EX/sshd_config.d/40-keybound.conf" &&
    ok "the drop-in passes %u %f" || not_ok "the drop-in does not pass %u %f"

# --- 5. 389-ds and AD notes match the schema ---------------------------------
arc=$(sed -n 's/^ *arc *\(2\.25\.[0-9]*\).*/\1/p' "$EX/schema/OIDS.md")
[ -n "$arc" ] && grep -qF "$arc" "$EX/389ds-and-ad.md" &&
    ok "config-examples/389ds-and-ad.md names the schema's OID arc" ||
    not_ok "389ds-and-ad.md does not name the OID arc ${arc:-?}"
adarc=$(sed -n 's/^ *AD arc *\([0-9.]*\)$/\1/p' "$EX/schema/OIDS.md")
[ -n "$adarc" ] && grep -qF "$adarc" "$EX/389ds-and-ad.md" &&
    grep -qF "$adarc" "$EX/schema/keybound-ad.ldif" &&
    ok "389ds-and-ad.md and keybound-ad.ldif name the AD arc of OIDS.md" ||
    not_ok "the AD arc ${adarc:-?} is not in 389ds-and-ad.md and keybound-ad.ldif"
for a in $(sed -n "s/.*NAME '\(keybound[A-Za-z]*\)'.*/\1/p" \
    "$EX/schema/keybound.schema"); do
	grep -q "$a" "$EX/389ds-and-ad.md" ||
	    not_ok "389ds-and-ad.md does not mention $a"
done
[ -f "$EX/schema/60keybound.ldif" ] &&
    ok "the 389-ds schema file the notes install exists" ||
    not_ok "schema/60keybound.ldif missing"

# --- 6. sample.ldif in a real slapd ------------------------------------------
. "$KB_SRC/tests/lib/slapd.sh"
# Bulk-loaded with slapadd, which checks every entry against the schema.
slapd_start --load "$EX/sample.ldif" &&
    ok "config-examples/sample.ldif loads into slapd with our schema" ||
    fail "slapd did not start with config-examples/sample.ldif"

ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_URI" -b "$SLAPD_BASE" \
    '(objectClass=keyboundKeyPair)' cn keyboundPublicKey \
    keyboundFingerprint >"$KB_T/sample.out" 2>&1
check_eq "$(grep -c '^cn: ' "$KB_T/sample.out")" 3 "three sample key pairs"
while IFS= read -r cn; do
	echo "$cn" | grep -Eq '^[A-Za-z][A-Za-z0-9:_-]{1,63}$' &&
	    ok "sample name $cn follows the naming rule" ||
	    not_ok "sample name $cn breaks the naming rule"
done < <(sed -n 's/^cn: //p' "$KB_T/sample.out")
awk 'BEGIN { RS = "" } {
	key = ""; fp = ""; cn = ""
	n = split($0, l, "\n")
	for (i = 1; i <= n; i++) {
		if (l[i] ~ /^cn: /) cn = substr(l[i], 5)
		if (l[i] ~ /^keyboundPublicKey: /) key = substr(l[i], 20)
		if (l[i] ~ /^keyboundFingerprint: /) fp = substr(l[i], 22)
	}
	print cn "\t" fp "\t" key
}' "$KB_T/sample.out" >"$KB_T/pairs"
while IFS=$'\t' read -r cn fp key; do
	real=$(printf '%s\n' "$key" | ssh-keygen -l -f - | awk '{ print $2 }')
	check_eq "$fp" "$real" "sample $cn: stored fingerprint is ssh-keygen's"
done <"$KB_T/pairs"

# keybound-keys serves the samples as documented in sample.ldif.
if [ -x "$KB_BUILD/keybound-keys" ]; then
	kb_write_config "$KB_T/web01.conf" "instance web-01" "cache_ttl 0"
	out=$("$KB_BUILD/keybound-keys" -c "$KB_T/web01.conf" alice)
	check_eq "$?" 0 "keybound-keys alice on web-01 exits 0"
	check_eq "$(printf '%s\n' "$out" | grep -c .)" 1 "one key for alice"
	case "$out" in
	"ssh-ed25519 "*" keybound:alice-laptop") ok "alice gets alice-laptop" ;;
	*) not_ok "alice's line is [$out]" ;;
	esac
	out=$("$KB_BUILD/keybound-keys" -c "$KB_T/web01.conf" deploy)
	case "$out" in
	*no-agent-forwarding*no-port-forwarding*"ecdsa-sha2-nistp256 "*" keybound:ops:deploy")
		ok "deploy gets ops:deploy with its options" ;;
	*) not_ok "deploy's line is [$out]" ;;
	esac
	printf '%s\n' "$out" | ssh-keygen -l -f - >/dev/null 2>&1 &&
	    ok "the rendered line passes ssh-keygen -l" ||
	    not_ok "ssh-keygen -l rejects [$out]"
	out=$("$KB_BUILD/keybound-keys" -c "$KB_T/web01.conf" backup)
	check_eq "$out" "" "the unattached sample serves nothing"
	kb_write_config "$KB_T/web03.conf" "instance web-03" "cache_ttl 0"
	out=$("$KB_BUILD/keybound-keys" -c "$KB_T/web03.conf" alice)
	check_eq "$out" "" "nothing for alice on an instance she is not attached to"
else
	not_ok "keybound-keys not built: sample.ldif not served"
fi

kb_done
