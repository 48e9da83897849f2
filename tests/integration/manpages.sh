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

# Every page is installed by make install (install.sh checks the modes).
for p in "${pages[@]}"; do
	grep -q "$p " Makefile || not_ok "Makefile does not install $p"
done

kb_done
