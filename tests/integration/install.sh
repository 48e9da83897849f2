#!/bin/bash
# install.sh - `make install DESTDIR=...` installs exactly the documented
# files with the documented modes and nothing under etc/; `make uninstall`
# removes them again; PREFIX, BINDIR, PAMDIR and MANDIR are honoured.
. "$KB_SRC/tests/lib/common.sh"

kb_tmpdir
for f in keybound keybound-keys pam_keybound.so; do
	[ -f "$KB_BUILD/$f" ] || skip "$f not built yet"
done

# A copy of the build (timestamps kept), so that installing with other
# paths rebuilds only what depends on them, and never in the shared build.
B=$KB_T/build
mkdir -p "$B"
for f in lib keycmd admin pam_module keybound keybound-keys pam_keybound.so \
    helper-path.stamp; do
	[ -e "$KB_BUILD/$f" ] && cp -a "$KB_BUILD/$f" "$B/"
done

# make_in DESTDIR [VAR=value...] TARGET: make from the source tree, using
# the copied build.
make_in() {
	local dest=$1
	shift
	make -s -C "$KB_SRC" B="$B" DESTDIR="$dest" "$@" \
	    >"$KB_T/make.log" 2>&1
}

# helper_in SO: the keybound-keys path compiled into a PAM module.
helper_in() {
	strings "$1" | grep -E '/keybound-keys$' | head -n 1
}

# listing DIR: "mode path" for every file and symlink under DIR.
listing() {
	(cd "$1" && find . \( -type f -o -type l \) -printf '%m %P\n' | sort)
}

pamdir=$(pkg-config --variable=libdir pam 2>/dev/null || echo /lib)/security

# 1. Defaults: PREFIX=/usr/local, PAMDIR from pkg-config.
d=$KB_T/default
make_in "$d" install || { cat "$KB_T/make.log"; fail "make install failed"; }
expected=$(sort <<EOF2
755 usr/local/bin/keybound
755 usr/local/bin/keybound-keys
644 ${pamdir#/}/pam_keybound.so
644 usr/local/share/man/man1/keybound.1
644 usr/local/share/man/man5/keybound.conf.5
644 usr/local/share/man/man8/keybound-keys.8
644 usr/local/share/man/man8/pam_keybound.8
EOF2
)
check_eq "$(listing "$d")" "$expected" \
    "default install: exactly the documented files and modes"
check_eq "$(helper_in "$d/${pamdir#/}/pam_keybound.so")" \
    /usr/local/bin/keybound-keys "the default module runs /usr/local/bin's helper"
# The README's table of installed files says the same.
readme=$(sed -n 's/^| `\$(\([A-Z]*\))\/\([^`]*\)` | \(0[0-9]*\) |$/\3 \1\/\2/p' \
    "$KB_SRC/README.md" | sed -e "s|^0||" -e "s| BINDIR/| usr/local/bin/|" \
    -e "s| PAMDIR/| ${pamdir#/}/|" -e "s| MANDIR/| usr/local/share/man/|" |
    sort)
check_eq "$readme" "$expected" "README's table of installed files matches"
[ -e "$d/etc" ] && not_ok "default install wrote under etc/" ||
    ok "nothing under etc/"
find "$d" -type d ! -perm 0755 -printf '%m %P\n' | grep -q . &&
    not_ok "directories not 0755: $(find "$d" -type d ! -perm 0755 -printf '%m %P ')" ||
    ok "every directory is 0755"
if [ "$(id -u)" = 0 ]; then
	check_eq "$(find "$d" ! -user root -printf '%P ')" "" \
	    "everything installed is owned by root"
fi

# The installed files are the built ones, and they work.
cmp -s "$KB_BUILD/keybound-keys" "$d/usr/local/bin/keybound-keys" &&
    ok "installed keybound-keys is the build" ||
    not_ok "installed keybound-keys differs from the build"
cmp -s "$KB_BUILD/pam_keybound.so" "$d/${pamdir#/}/pam_keybound.so" &&
    ok "installed pam_keybound.so is the build" ||
    not_ok "installed pam_keybound.so differs from the build"
for m in man1/keybound.1 man5/keybound.conf.5 man8/keybound-keys.8 \
    man8/pam_keybound.8; do
	cmp -s "$KB_SRC/man/$(basename "$m")" "$d/usr/local/share/man/$m" ||
	    not_ok "installed $m differs from man/"
done
"$d/usr/local/bin/keybound-keys" -c /nonexistent/keybound.conf root \
    >/dev/null 2>&1
check_eq "$?" 2 "installed keybound-keys runs (missing config: exit 2)"

# The PAM module runs keybound-keys from BINDIR (fixed at build time).
if strings "$KB_BUILD/pam_keybound.so" | grep -qx '/usr/local/bin/keybound-keys'; then
	ok "pam_keybound.so runs /usr/local/bin/keybound-keys (default BINDIR)"
else
	not_ok "pam_keybound.so does not name /usr/local/bin/keybound-keys"
fi

# 2. Uninstall removes every file it installed, and nothing else.
touch "$d/usr/local/bin/unrelated" "$d/usr/local/share/man/man1/other.1"
make_in "$d" uninstall || { cat "$KB_T/make.log"; fail "make uninstall failed"; }
check_eq "$(listing "$d")" "644 usr/local/bin/unrelated
644 usr/local/share/man/man1/other.1" \
    "uninstall removes exactly the installed files"
# The man directories install created go too, unless something else is
# in them.
check_eq "$(cd "$d/usr/local/share/man" && find . -mindepth 1 -type d -printf '%P ')" \
    "man1 " "uninstall removes the emptied man5 and man8, keeps man1"

# 3. Every knob: PREFIX, then BINDIR, PAMDIR and MANDIR explicitly.
d=$KB_T/knobs
make_in "$d" PREFIX=/opt/kb install ||
    { cat "$KB_T/make.log"; fail "make install PREFIX=/opt/kb failed"; }
expected=$(sort <<EOF2
755 opt/kb/bin/keybound
755 opt/kb/bin/keybound-keys
644 ${pamdir#/}/pam_keybound.so
644 opt/kb/share/man/man1/keybound.1
644 opt/kb/share/man/man5/keybound.conf.5
644 opt/kb/share/man/man8/keybound-keys.8
644 opt/kb/share/man/man8/pam_keybound.8
EOF2
)
check_eq "$(listing "$d")" "$expected" "PREFIX=/opt/kb honoured"
check_eq "$(helper_in "$d/${pamdir#/}/pam_keybound.so")" \
    /opt/kb/bin/keybound-keys "the module runs the helper PREFIX installed"
make_in "$d" PREFIX=/opt/kb uninstall
check_eq "$(listing "$d")" "" "uninstall PREFIX=/opt/kb removes everything"

d=$KB_T/dirs
make_in "$d" BINDIR=/b MANDIR=/m PAMDIR=/p install ||
    { cat "$KB_T/make.log"; fail "make install with BINDIR/MANDIR/PAMDIR failed"; }
expected=$(sort <<EOF2
755 b/keybound
755 b/keybound-keys
644 p/pam_keybound.so
644 m/man1/keybound.1
644 m/man5/keybound.conf.5
644 m/man8/keybound-keys.8
644 m/man8/pam_keybound.8
EOF2
)
check_eq "$(listing "$d")" "$expected" "BINDIR, MANDIR and PAMDIR honoured"
check_eq "$(helper_in "$d/p/pam_keybound.so")" /b/keybound-keys \
    "the module runs the helper BINDIR installed"
make_in "$d" BINDIR=/b MANDIR=/m PAMDIR=/p uninstall
check_eq "$(listing "$d")" "" "uninstall with the same knobs removes everything"
check_eq "$(find "$d/m" -mindepth 1 -printf '%P ')" "" \
    "uninstall removes the man directories install created"

kb_done
