#!/bin/bash
# manpages.sh - every man page renders without a single warning (groff
# -ww, man -l, mandoc -T lint when installed), has the sections an
# administrator looks for, and points only at pages that exist.
. "$KB_SRC/tests/lib/common.sh"

command -v groff >/dev/null || skip "groff not installed (make deps)"
kb_tmpdir

pages=(man/keybound.1 man/keybound.conf.5 man/keybound-keys.8
    man/pam_keybound.8)
cd "$KB_SRC" || fail "no source tree"

# The set of pages is exactly the documented one.
check_eq "$(ls man | sort | tr '\n' ' ')" \
    "keybound-keys.8 keybound.1 keybound.conf.5 pam_keybound.8 " \
    "man/ holds exactly the four pages"

for p in "${pages[@]}"; do
	name=$(basename "$p")
	[ -f "$p" ] || { not_ok "$p missing"; continue; }

	out=$(groff -ww -z -man "$p" 2>&1)
	check_eq "$out" "" "$name: groff -ww -z -man is silent"

	# man -l as an administrator would run it, with groff's warnings on.
	if command -v man >/dev/null; then
		out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=w -l "$p" \
		    2>&1 >"$KB_T/$name.txt")
		check_eq "$out" "" "$name: man -l renders without warnings"
		grep -q '^NAME' "$KB_T/$name.txt" ||
		    not_ok "$name: man -l output has no NAME"
	fi

	if command -v mandoc >/dev/null; then
		out=$(mandoc -T lint -W warning "$p" 2>&1)
		check_eq "$out" "" "$name: mandoc -T lint -W warning is clean"
	fi

	# Required sections, as .SH lines.
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS FILES EXAMPLES "SEE ALSO"; do
		if grep -qx "\.SH \"\{0,1\}$s\"\{0,1\}" "$p"; then
			ok "$name: has $s"
		else
			not_ok "$name: no .SH $s"
		fi
	done
	if grep -qE '^\.SH "?(EXIT STATUS|RETURN VALUES)"?$' "$p"; then
		ok "$name: has EXIT STATUS or RETURN VALUES"
	else
		not_ok "$name: neither EXIT STATUS nor RETURN VALUES"
	fi

	# .TH names this very page.
	th=$(sed -n 's/^\.TH \([^ ]*\) \([0-9]\) .*/\1.\2/p' "$p" |
	    sed 's/\\-/-/g' | tr 'A-Z' 'a-z')
	check_eq "$th" "$name" "$name: .TH matches the file name"

	# Every keybound page named in SEE ALSO exists.
	for ref in $(sed -n '/^\.SH "\{0,1\}SEE ALSO/,$p' "$p" |
	    sed -n 's/^\.BR \([a-z_.\\-]*\) (\([0-9]\)).*/\1.\2/p' |
	    sed 's/\\-/-/g' | grep -E '^(keybound|pam_keybound)'); do
		[ -f "man/$ref" ] && ok "$name: SEE ALSO $ref exists" ||
		    not_ok "$name: SEE ALSO $ref has no page"
	done
done

# The pages describe the programs as built: every command and option the
# programs' own usage text names is in the page.
if [ -x "$KB_BUILD/keybound" ]; then
	"$KB_BUILD/keybound" help >"$KB_T/kb-help" 2>&1
	for c in $(sed -n 's/^  \([a-z][a-z]*\)\( .*\)\{0,1\}$/\1/p' \
	    "$KB_T/kb-help"); do
		grep -Eq "^\.(BI|BR|B) \"?$c( |\"|$)" man/keybound.1 &&
		    ok "keybound.1 documents the $c command" ||
		    not_ok "keybound.1 lacks the $c command"
	done
	for o in $(grep -oE '(^| |\[)--?[a-zA-Z][a-z-]*' "$KB_T/kb-help" |
	    tr -d ' [' | sort -u); do
		grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" \
		    man/keybound.1 && ok "keybound.1 documents $o" ||
		    not_ok "keybound.1 lacks $o"
	done
else
	not_ok "keybound not built: keybound.1 not checked against it"
fi
if [ -x "$KB_BUILD/keybound-keys" ]; then
	"$KB_BUILD/keybound-keys" >"$KB_T/kk-usage" 2>&1
	check_eq "$?" 2 "keybound-keys without arguments: usage, exit 2"
	for o in $(grep -oE '(^| |\[)--?[a-zA-Z][a-z-]*' "$KB_T/kk-usage" |
	    tr -d ' [' | sort -u); do
		grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" \
		    man/keybound-keys.8 && ok "keybound-keys.8 documents $o" ||
		    not_ok "keybound-keys.8 lacks $o"
	done
else
	not_ok "keybound-keys not built: keybound-keys.8 not checked against it"
fi
# pam_keybound.8 documents every module argument: the module's keyword
# table, { "name", takes_value, setter }.
pam_args=$(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", [01], set_.*/\1/p' \
    pam_module/pam_keybound.c)
[ "$(printf '%s\n' "$pam_args" | grep -c .)" -ge 6 ] &&
    ok "found the module's argument table" ||
    not_ok "pam_module/pam_keybound.c: argument table not found"
for a in $pam_args; do
	grep -qE "^\.(B|BI|BR) $a(=| |$)" man/pam_keybound.8 &&
	    ok "pam_keybound.8 documents $a" ||
	    not_ok "pam_keybound.8 lacks the $a argument"
	grep -qF "\`$a" README.md && ok "README documents $a" ||
	    not_ok "README lacks the $a argument"
done

# Every page is installed by make install (install.sh checks the modes).
for p in "${pages[@]}"; do
	grep -q "$p " Makefile || not_ok "Makefile does not install $p"
done

kb_done
