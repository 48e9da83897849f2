#!/bin/sh
# usage-report.sh - when was each key pair last used to log in?
#
# keybound-keys logs one line for every key it hands to sshd:
#   keybound-keys[812]: user=alice instance=web-01 event=served
#       keypair=deploy-2026 fp=SHA256:x4L... source=directory
# and sshd one line for the key that logged in:
#   sshd[810]: Accepted publickey for alice from 10.0.0.5 port 50022
#       ssh2: ED25519 SHA256:x4L...
# Joined on the fingerprint, they give the last login of each key pair.
# On each instance (or on the log host collecting them):
#
#   journalctl -o short-iso -t sshd -t keybound-keys --since -90d |
#       sh usage-report.sh
#
# or from a syslog file: sh usage-report.sh </var/log/auth.log (the first
# field is then the month, not the whole date).  Prints, per key pair:
#   KEYPAIR LAST-LOGIN USER FINGERPRINT
# Key pairs that never appear have not been used in that period.
exec awk '
{ sub(/\r$/, "") }
/event=served/ && /keypair=/ {
	kp = ""; fp = ""
	if (match($0, /keypair=("[^"]*"|[^ ]*)/)) {
		kp = substr($0, RSTART + 8, RLENGTH - 8)
		gsub(/"/, "", kp)
	}
	if (match($0, / fp=SHA256:[^ ]*/))
		fp = substr($0, RSTART + 4, RLENGTH - 4)
	if (kp != "" && fp != "")
		name[fp] = kp
	next
}
/Accepted publickey for / {
	fp = $NF; user = ""
	for (i = 1; i < NF; i++)
		if ($i == "for") { user = $(i + 1); break }
	if (fp in name) {
		k = name[fp]; last[k] = $1; who[k] = user; kfp[k] = fp
	}
}
END { for (k in last) print k, last[k], who[k], kfp[k] }
' | sort
