# tests/lib/ca.sh - a throwaway certificate authority for tests (sourced).
#
#   kb_make_ca DIR NAME             DIR/NAME.crt + DIR/NAME.key, a self-signed
#                                   CA called NAME
#   kb_make_cert DIR CA NAME SAN    DIR/NAME.crt + DIR/NAME.key, a TLS server
#                                   and client certificate with CN=NAME and
#                                   subjectAltName SAN (e.g.
#                                   "IP:127.0.0.1,DNS:localhost"), signed by
#                                   DIR/CA.crt + DIR/CA.key
#
# P-256 keys keep generation in the low milliseconds.  Keys are mode 0600.

kb_make_ca() {
	local dir=$1 name=$2
	mkdir -p "$dir" || return 1
	(umask 077 && openssl req -x509 -new -nodes -days 7 \
	    -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -keyout "$dir/$name.key" -out "$dir/$name.crt" \
	    -subj "/O=keybound tests/CN=$name" \
	    -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" \
	    -addext "subjectKeyIdentifier=hash") >/dev/null 2>&1 || {
		echo "kb_make_ca: openssl failed for $dir/$name" >&2
		return 1
	}
	chmod 0644 "$dir/$name.crt"
}

kb_make_cert() {
	local dir=$1 ca=$2 name=$3 san=$4
	(umask 077 && openssl req -x509 -new -nodes -days 7 \
	    -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -CA "$dir/$ca.crt" -CAkey "$dir/$ca.key" \
	    -keyout "$dir/$name.key" -out "$dir/$name.crt" \
	    -subj "/O=keybound tests/CN=$name" \
	    -addext "basicConstraints=critical,CA:FALSE" \
	    -addext "keyUsage=critical,digitalSignature,keyAgreement" \
	    -addext "extendedKeyUsage=serverAuth,clientAuth" \
	    -addext "subjectAltName=$san") >/dev/null 2>&1 || {
		echo "kb_make_cert: openssl failed for $dir/$name" >&2
		return 1
	}
	chmod 0644 "$dir/$name.crt"
}
