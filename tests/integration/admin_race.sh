#!/bin/bash
# admin_race: keybound writes are atomic on the directory side.
#   - 50 rounds of two concurrent `attach` of different key pairs to one
#     target: both attachments present afterwards;
#   - 50 rounds of the same with --replace: exactly one holds the target;
#   - 50 rounds of `attach` racing `delete`: either the entry is gone (and
#     the attach failed) or it exists with its attachment (and the delete
#     failed) - never an attach reported done and lost;
#   - 200 runs of create/attach/detach/delete killed with SIGKILL after a
#     random short delay: the state left is one a re-run converges from,
#     asserted by re-running and checking the final state.
. "$KB_SRC/tests/lib/common.sh"
. "$KB_SRC/tests/lib/slapd.sh"

[ -x "$KB_BUILD/keybound" ] || fail "keybound not built"
kb_tmpdir
slapd_start || fail "slapd did not start"
conf=$KB_T/kb.conf
kb_write_config "$conf"
K=$KB_T/keys
mkdir -m 0700 "$K"
ROUNDS=${KB_RACE_ROUNDS:-50}
KILLS=${KB_KILL_RUNS:-200}

KB=("$KB_BUILD/keybound" -c "$conf" -H "$SLAPD_URI" -D "$SLAPD_ROOTDN"
    -y "$SLAPD_ROOTPW_FILE")
kb() { "${KB[@]}" "$@"; }

# holders TARGET: names of the key pairs holding TARGET, sorted, one line.
holders() {
	LDAPNOINIT=1 ldapsearch -LLL -x -H "$SLAPD_LDAPI_URI" -b "$SLAPD_BASE" \
	    -s one "(keyboundAttachment=$1)" cn 2>/dev/null |
	    sed -n 's/^cn: //p' | sort | tr '\n' ' '
}

# exists NAME: 0 if key pair NAME is in the directory.
exists() {
	LDAPNOINIT=1 ldapsearch -LLL -x -H "$SLAPD_LDAPI_URI" \
	    -b "cn=$1,$SLAPD_BASE" -s base dn 2>/dev/null | grep -q '^dn:'
}

# pubkey NAME: the stored TYPE BASE64.
pubkey() {
	LDAPNOINIT=1 ldapsearch -LLL -o ldif-wrap=no -x -H "$SLAPD_LDAPI_URI" \
	    -b "cn=$1,$SLAPD_BASE" -s base keyboundPublicKey 2>/dev/null |
	    sed -n 's/^keyboundPublicKey: //p'
}

# random_delay: sleep 0 to 15 ms.
random_delay() { sleep "0.$(printf '%04d' $((RANDOM % 150)))"; }

kb create ra -o "$K/ra" >/dev/null && kb create rb -o "$K/rb" >/dev/null ||
    fail "create ra rb"
ssh-keygen -y -f "$K/ra" >"$K/ra.pub" || fail "ssh-keygen -y"

# --- two concurrent attaches to one target ------------------------------
bad=0
for ((i = 0; i < ROUNDS; i++)); do
	kb attach ra "u$i@race" >/dev/null 2>"$KB_T/e1" &
	p1=$!
	kb attach rb "u$i@race" >/dev/null 2>"$KB_T/e2" &
	p2=$!
	wait $p1; r1=$?
	wait $p2; r2=$?
	h=$(holders "u$i@race")
	if [ "$r1:$r2:$h" != "0:0:ra rb " ]; then
		bad=$((bad + 1))
		echo "round $i: rc $r1 $r2 holders [$h]" >&2
		cat "$KB_T/e1" "$KB_T/e2" >&2
	fi
done
check_eq "$bad" 0 "$ROUNDS rounds of concurrent attach: both attachments kept"

# --- two concurrent attach --replace to one target -----------------------
bad=0
for ((i = 0; i < ROUNDS; i++)); do
	# an older holder that --replace must remove as well
	kb import "old$i" --allow-duplicate "$K/ra.pub" >/dev/null &&
	    kb attach "old$i" "r$i@race" >/dev/null || fail "old$i"
	kb attach ra "r$i@race" --replace >/dev/null 2>"$KB_T/e1" &
	p1=$!
	kb attach rb "r$i@race" --replace >/dev/null 2>"$KB_T/e2" &
	p2=$!
	wait $p1; r1=$?
	wait $p2; r2=$?
	h=$(holders "r$i@race")
	case "$r1:$r2:$h" in
	"0:0:ra "|"0:0:rb ") ;;
	*) bad=$((bad + 1))
	   echo "replace round $i: rc $r1 $r2 holders [$h]" >&2
	   cat "$KB_T/e1" "$KB_T/e2" >&2 ;;
	esac
	kb detach "old$i" --all >/dev/null && kb delete "old$i" >/dev/null
done
check_eq "$bad" 0 "$ROUNDS rounds of concurrent attach --replace: exactly one holder"

# --- attach racing delete ------------------------------------------------
bad=0
for ((i = 0; i < ROUNDS; i++)); do
	kb import "d$i" --allow-duplicate "$K/ra.pub" >/dev/null ||
	    fail "import d$i"
	kb attach "d$i" "x$i@race" >/dev/null 2>&1 &
	p1=$!
	kb delete "d$i" >/dev/null 2>&1 &
	p2=$!
	wait $p1; ra=$?
	wait $p2; rd=$?
	h=$(holders "x$i@race")
	if exists "d$i"; then
		# the attach landed first: delete refused (conflict, exit 4),
		# attachment kept
		[ "$ra:$rd:$h" = "0:4:d$i " ] || {
			bad=$((bad + 1))
			echo "delete round $i: entry kept, rc $ra $rd [$h]" >&2
		}
		kb detach "d$i" --all >/dev/null && kb delete "d$i" >/dev/null
	else
		# the delete landed first: the attach failed (not found, exit
		# 3), nothing dangles
		[ "$ra:$rd:$h" = "3:0:" ] || {
			bad=$((bad + 1))
			echo "delete round $i: entry gone, rc $ra $rd [$h]" >&2
		}
	fi
done
check_eq "$bad" 0 "$ROUNDS rounds of attach racing delete: never lost, never dangling"

# --- SIGKILL at random points, then a re-run converges ----------------------
# killed ARGS...: run keybound ARGS (its own process, not a subshell),
# SIGKILL it after a random delay, reap it.
killed() {
	"${KB[@]}" "$@" >/dev/null 2>&1 &
	local pid=$!
	random_delay
	kill -KILL $pid 2>/dev/null
	wait $pid 2>/dev/null
}
bad=0 st_none=0 st_file=0 st_both=0
for ((i = 0; i < KILLS; i++)); do
	name=kk$i
	file=$K/kk$i
	case $((i % 4)) in
	0)	# create: never a partial file, never an entry without its file
		killed create "$name" -o "$file"
		if exists "$name"; then
			st_both=$((st_both + 1))
			pub=$(ssh-keygen -y -f "$file" 2>/dev/null | cut -d' ' -f1,2)
			[ -n "$pub" ] && [ "$pub" = "$(pubkey "$name")" ] || {
				bad=$((bad + 1))
				echo "kill create $i: entry without matching file" >&2
			}
		elif [ -e "$file" ]; then
			st_file=$((st_file + 1))
			# file complete but not stored: refused by a re-run
			# (never overwritten); removing it lets a re-run finish
			ssh-keygen -y -f "$file" >/dev/null 2>&1 || {
				bad=$((bad + 1))
				echo "kill create $i: partial private key file" >&2
			}
			kb create "$name" -o "$file" >/dev/null 2>&1 && {
				bad=$((bad + 1))
				echo "kill create $i: re-run overwrote FILE" >&2
			}
			rm -f "$file"
		else
			st_none=$((st_none + 1))
		fi
		exists "$name" || kb create "$name" -o "$file" >/dev/null ||
		    { bad=$((bad + 1)); echo "kill create $i: re-run failed" >&2; }
		[ "$(ssh-keygen -y -f "$file" 2>/dev/null | cut -d' ' -f1,2)" = \
		    "$(pubkey "$name")" ] ||
		    { bad=$((bad + 1)); echo "kill create $i: not converged" >&2; }
		[ "$(stat -c %a "$file")" = 600 ] ||
		    { bad=$((bad + 1)); echo "kill create $i: mode" >&2; }
		;;
	1)	# attach: the re-run leaves the target attached
		kb create "$name" -o "$file" >/dev/null || fail "create $name"
		kb attach "$name" "a$i@kill" >/dev/null || fail "attach $name"
		killed attach "$name" "b$i@kill" "c$i@kill" --replace
		kb attach "$name" "b$i@kill" "c$i@kill" --replace >/dev/null ||
		    { bad=$((bad + 1)); echo "kill attach $i: re-run failed" >&2; }
		[ "$(holders "b$i@kill")$(holders "c$i@kill")$(holders "a$i@kill")" = \
		    "$name $name $name " ] ||
		    { bad=$((bad + 1)); echo "kill attach $i: not converged" >&2; }
		;;
	2)	# detach: the re-run leaves the target detached, others kept
		kb create "$name" -o "$file" >/dev/null || fail "create $name"
		kb attach "$name" "a$i@kill" "b$i@kill" >/dev/null ||
		    fail "attach $name"
		killed detach "$name" "a$i@kill"
		kb detach "$name" "a$i@kill" >/dev/null ||
		    { bad=$((bad + 1)); echo "kill detach $i: re-run failed" >&2; }
		[ "$(holders "a$i@kill")|$(holders "b$i@kill")" = "|$name " ] ||
		    { bad=$((bad + 1)); echo "kill detach $i: not converged" >&2; }
		;;
	3)	# delete: the re-run removes it (or says it is gone)
		kb create "$name" -o "$file" >/dev/null || fail "create $name"
		killed delete "$name"
		out=$(kb delete "$name" 2>&1)
		rc=$?
		[ $rc = 0 ] || [ "$out" = "keybound: no key pair $name" ] ||
		    { bad=$((bad + 1)); echo "kill delete $i: $out" >&2; }
		exists "$name" &&
		    { bad=$((bad + 1)); echo "kill delete $i: not converged" >&2; }
		;;
	esac
done
echo "killed creates left: nothing $st_none, file only $st_file, file+entry $st_both"
[ "$st_none" -gt 0 ] && [ "$st_both" -gt 0 ]
check_eq "$?" 0 "kills landed both before and after the store"
check_eq "$bad" 0 "$KILLS SIGKILLed runs: every state converges on re-run"
pgrep -f "^$KB_BUILD/keybound " >/dev/null
check_eq "$?" 1 "no keybound process left behind"

kb_done
