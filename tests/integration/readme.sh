#!/bin/bash
# readme.sh - the README's CLI walk-through and set/--replace examples run
# as written against a throwaway slapd, and every one of them succeeds;
# the deployment commands it shows for the PAM line do what it says, also
# on a PAM file other than this machine's (deploy_readme.sh runs the whole
# deployment); the README stays a README: its benchmark detail lives in
# bench/README.md, and every file it links to exists.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

[ -x "$KB_BUILD/keybound" ] || skip "keybound not built yet"
kb_tmpdir
README=$KB_SRC/README.md

# --- the walk-through's keybound commands ------------------------------------
section=$(sed -n '/^## A key pair.s life with the CLI/,/^## Revocation timing/p' "$README")
[ -n "$section" ] || fail "README has no CLI walk-through section"
cmds=$(printf '%s\n' "$section" | sed -n 's/^    \$ \(keybound .*\)/\1/p' |
    sed 's/ *#.*$//')
check_eq "$(printf '%s\n' "$cmds" | head -n 1)" \
    'keybound $A create web-admins -o web-admins.key' \
    "the walk-through starts with create"
check_eq "$(printf '%s\n' "$cmds" | tail -n 1)" \
    'keybound $A delete web-admins' "the walk-through ends with delete"
# ... plus the examples in the paragraph after it, as full commands.
extra=$(printf '%s\n' "$section" | grep -oE '`(attach|set) [^`]*`' | tr -d '`')
printf '%s\n' "$extra" | grep -q -- '--replace' ||
    not_ok "README no longer shows attach --replace"

slapd_start || fail "slapd did not start"
kb_write_config "$KB_T/keybound.conf"
cd "$KB_T" || fail "no work dir"
mkdir -p home/.ssh
ssh-keygen -q -t ed25519 -N '' -C '' -f home/.ssh/id_ed25519 ||
    fail "ssh-keygen failed"

# keybound as the README's reader runs it, with this test's directory.
keybound() {
	"$KB_BUILD/keybound" -c "$KB_T/keybound.conf" "$@"
}
A="-D $SLAPD_ROOTDN -y $SLAPD_ROOTPW_FILE"
export HOME=$KB_T/home

n=0
while IFS= read -r c; do
	[ -n "$c" ] || continue
	n=$((n + 1))
	c=${c//\~/$HOME}
	eval "$c" >"$KB_T/out" 2>&1
	rc=$?
	check_eq "$rc" 0 "README: $c"
	[ $rc -eq 0 ] || sed 's/^/    /' "$KB_T/out" >&2
	case "$c" in
	*create*) [ "$(stat -c %a web-admins.key 2>/dev/null)" = 600 ] &&
	    ok "private key written 0600" || not_ok "no 0600 private key" ;;
	*"check root@web-01"*) grep -q 'keybound:web-admins' "$KB_T/out" &&
	    ok "check shows the attached key" ||
	    not_ok "check does not show the key" ;;
	esac
	# Before the detaches, do the set/--replace examples once.
	if [ "$c" = "keybound check root@web-01" ]; then
		keybound $A create old-pair -o old.key >/dev/null 2>&1
		keybound $A attach old-pair root@db-01 >/dev/null 2>&1
		while IFS= read -r e; do
			[ -n "$e" ] || continue
			case "$e" in
			attach*) e="keybound $A ${e/NAME/web-admins}"
				 e=${e/TARGET/root@db-01} ;;
			set*) e="keybound $A ${e/NAME/alice-laptop}" ;;
			esac
			eval "$e" >"$KB_T/out" 2>&1
			check_eq "$?" 0 "README: $e"
		done <<<"$extra"
		keybound --json list --attached-to root@db-01 >"$KB_T/out" 2>&1
		grep -q '"name":"web-admins"' "$KB_T/out" &&
		    ! grep -q '"name":"old-pair"' "$KB_T/out" &&
		    ok "--replace took root@db-01 from the other key pair" ||
		    not_ok "--replace did not replace: $(cat "$KB_T/out")"
	fi
done <<<"$cmds"
[ "$n" -ge 8 ] && ok "$n walk-through commands ran" ||
    not_ok "only $n walk-through commands found"
keybound show web-admins >/dev/null 2>&1
[ $? -ne 0 ] && ok "web-admins is gone at the end" ||
    not_ok "web-admins still exists after the walk-through"

# --- the fleet access examples, run in order ------------------------------------
fleet=$(sed -n '/^## Fleet access/,/^## [A-Z]/p' "$README" |
    sed -n 's/^    \$ \(keybound .*\)/\1/p' | sed 's/ *#.*$//')
[ "$(printf '%s\n' "$fleet" | grep -c .)" -ge 6 ] &&
    ok "the fleet access section shows its commands" ||
    not_ok "fleet access commands missing from the README"
for p in deploy-key oncall; do
	ssh-keygen -q -t ed25519 -N '' -C '' -f "$KB_T/$p" &&
	    keybound $A import "$p" "$KB_T/$p.pub" >/dev/null 2>&1 ||
	    not_ok "cannot import $p"
done
while IFS= read -r c; do
	[ -n "$c" ] || continue
	c=${c//\/etc\/ssh/$KB_T}
	eval "$c" >"$KB_T/out" 2>&1
	rc=$?
	check_eq "$rc" 0 "README: $c"
	[ $rc -eq 0 ] || sed 's/^/    /' "$KB_T/out" >&2
done <<<"$fleet"
ssh-keygen -Q -f "$KB_T/keybound.krl" "$KB_T/oncall.pub" 2>/dev/null |
    grep -q REVOKED && ok "the README's KRL revokes the blocked key" ||
    not_ok "the README's KRL does not revoke the blocked key"

# --- the signed key pairs examples, run in order --------------------------------
signed=$(sed -n '/^## Signed key pairs/,/^## [A-Z]/p' "$README" |
    sed -n 's/^    \$ \(keybound .*\)/\1/p' | sed 's/ *#.*$//')
[ "$(printf '%s\n' "$signed" | grep -c .)" -ge 3 ] &&
    ok "the signed key pairs section shows its commands" ||
    not_ok "signed key pairs commands missing from the README"
while IFS= read -r c; do
	[ -n "$c" ] || continue
	eval "$c" >"$KB_T/out" 2>&1
	rc=$?
	check_eq "$rc" 0 "README: $c"
	[ $rc -eq 0 ] || sed 's/^/    /' "$KB_T/out" >&2
	case "$c" in
	*"signer create"*) grep -q '^ssh-ed25519 ' "$KB_T/out" &&
	    ok "signer create prints the public line" ||
	    not_ok "signer create printed no public line" ;;
	*verify*) grep -q 'deploy-key' "$KB_T/out" &&
	    ok "verify reports the README's key pairs" ||
	    not_ok "verify does not list deploy-key" ;;
	esac
done <<<"$signed"

# --- the PAM line command of the deployment section ---------------------------
sedcmd=$(sed -n "s/^\(sed -i '0,.*pam_keybound.so.*\) \/etc\/pam.d\/sshd$/\1/p" "$README")
[ -n "$sedcmd" ] || fail "README's PAM line command not found"
if [ -f /etc/pam.d/sshd ]; then
	cp /etc/pam.d/sshd "$KB_T/pam-sshd"
else
	printf '# PAM configuration for the Secure Shell service\n\n@include common-auth\naccount required pam_nologin.so\n@include common-account\n' \
	    >"$KB_T/pam-sshd"
fi
eval "$sedcmd \"$KB_T/pam-sshd\""
first=$(grep -nE '^(auth|@include common-auth)' "$KB_T/pam-sshd" | head -n 1)
check_eq "${first#*:}" "auth       required     pam_keybound.so" \
    "the README's sed puts pam_keybound.so first in the auth stack"
check_eq "$(grep -c pam_keybound "$KB_T/pam-sshd")" 1 "exactly once"

# --- what belongs elsewhere ------------------------------------------------------
[ -f "$KB_SRC/bench/README.md" ] && ok "bench/README.md exists" ||
    not_ok "no bench/README.md"
grep -q '](bench/README.md' "$README" && ok "README links bench/README.md" ||
    not_ok "README does not link bench/README.md"
for h in '## How it is measured' '## An earlier run' '## What libldap'; do
	grep -q "^$h" "$KB_SRC/bench/README.md" ||
	    not_ok "bench/README.md lacks \"$h\""
	grep -q "^#* *${h#\#\# }" "$README" &&
	    not_ok "README still holds \"$h\"" || ok "\"$h\" is in bench/README.md only"
done
# the short table stays
grep -q '^| keybound-keys, cache hit' "$README" &&
    ok "README keeps a short performance table" ||
    not_ok "README has no performance table"
check_eq "$(grep -c '^```$' "$KB_SRC/bench/README.md" | awk '{print ($1 >= 6)}')" 1 \
    "bench/README.md holds the result tables"
# the replication notes moved next to their LDIF, and speak of all of it
rep=config-examples/replication/README.md
grep -qF "]($rep)" "$README" && ok "README links $rep" ||
    not_ok "README does not link $rep"
for f in $(cd "$KB_SRC/config-examples/replication" && ls ./*.ldif); do
	grep -qF "${f#./}" "$KB_SRC/$rep" || not_ok "$rep does not mention ${f#./}"
done
# every relative link resolves
while IFS= read -r l; do
	f=${l%%#*}
	[ -e "$KB_SRC/$f" ] && ok "link $l resolves" || not_ok "README links $l, which does not exist"
done < <(grep -oE '\]\([^)#:]+(#[^)]*)?\)' "$README" | sed 's/^](//; s/)$//' | sort -u)
lines=$(wc -l <"$README")
[ "$lines" -le 800 ] && ok "README is $lines lines" ||
    not_ok "README has grown to $lines lines"

kb_done
