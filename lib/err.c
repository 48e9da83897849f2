/*
 * err.c - text for KB_ERR_* codes.
 */
#include "kb.h"

const char *
kb_strerror(int err)
{
	switch (err) {
	case KB_OK:			return "success";
	case KB_ERR_INTERNAL:		return "internal error";
	case KB_ERR_NOMEM:		return "out of memory";
	case KB_ERR_INVALID_ARG:	return "invalid argument";
	case KB_ERR_SYSTEM:		return "system call failed";
	case KB_ERR_TOO_LONG:		return "input too long";
	case KB_ERR_KEY_FORMAT:		return "not a public key line";
	case KB_ERR_KEY_BAD_BYTE:	return "forbidden byte in key line";
	case KB_ERR_KEY_BASE64:		return "invalid base64 in key";
	case KB_ERR_KEY_UNKNOWN_TYPE:	return "unknown key type";
	case KB_ERR_KEY_TYPE_MISMATCH:	return "key blob type does not match declared type";
	case KB_ERR_KEY_TRUNCATED:	return "key blob truncated";
	case KB_ERR_KEY_TRAILING:	return "trailing bytes after key blob";
	case KB_ERR_KEY_INVALID:	return "invalid key material";
	case KB_ERR_KEY_CURVE_MISMATCH:	return "ECDSA curve does not match key type";
	case KB_ERR_KEY_DSA:		return "ssh-dss keys are refused";
	case KB_ERR_KEY_RSA_TOO_SMALL:	return "RSA key too small";
	case KB_ERR_KEY_TYPE_REFUSED:	return "key type not allowed";
	case KB_ERR_KEY_OPTIONS:	return "key options not allowed here";
	case KB_ERR_KEY_COMMENT:	return "invalid key comment";
	case KB_ERR_CRYPTO:		return "cryptographic library error";
	case KB_ERR_KEY_BLOCKED:	return "key is blocked";
	case KB_ERR_OPT_SYNTAX:		return "key options syntax error";
	case KB_ERR_OPT_UNKNOWN:	return "key option not allowed";
	case KB_ERR_OPT_FROM:		return "invalid from= pattern list";
	case KB_ERR_OPT_COMMAND:	return "invalid command= value";
	case KB_ERR_OPT_DUPLICATE:	return "duplicate key option";
	case KB_ERR_USER_NAME:		return "invalid user name";
	case KB_ERR_KEYPAIR_NAME:	return "invalid key pair name";
	case KB_ERR_INSTANCE_NAME:	return "invalid instance name";
	case KB_ERR_FILTER_TEMPLATE:	return "invalid filter template";
	case KB_ERR_TIME:		return "invalid time";
	case KB_ERR_CONFIG:		return "configuration error";
	case KB_ERR_CONFIG_PERM:	return "unsafe file ownership or mode";
	case KB_ERR_CONFIG_OPEN:	return "cannot open file";
	case KB_ERR_DIR_UNAVAILABLE:	return "directory unavailable";
	case KB_ERR_DIR_AUTH:		return "directory bind refused";
	case KB_ERR_DIR_TLS:		return "TLS failure talking to directory";
	case KB_ERR_DIR_NO_SUCH_OBJECT:	return "no such entry";
	case KB_ERR_DIR_ALREADY_EXISTS:	return "entry already exists";
	case KB_ERR_DIR_ASSERTION:	return "directory assertion failed";
	case KB_ERR_DIR_VALUE_EXISTS:	return "value already present";
	case KB_ERR_DIR_NO_SUCH_VALUE:	return "value not present";
	case KB_ERR_DIR_SIZELIMIT:	return "directory size limit exceeded";
	case KB_ERR_DIR_AMBIGUOUS:	return "more than one entry matched";
	case KB_ERR_DIR_PROTOCOL:	return "unexpected directory reply";
	case KB_ERR_DIR_TIMEOUT:	return "directory timed out";
	case KB_ERR_DIR_REFUSED:	return "directory refused the operation";
	case KB_ERR_DIR_NO_CONTROL:
		return "directory does not support a required control";
	case KB_ERR_DIR_SYNTAX:		return "directory refused a value's syntax";
	case KB_ERR_CACHE_MISS:		return "no cached answer";
	case KB_ERR_CACHE_UNSAFE:	return "cache not trusted";
	case KB_ERR_CACHE_STALE:	return "cached answer too old";
	case KB_ERR_CACHE_CORRUPT:	return "cached answer unreadable";
	case KB_ERR_CACHE_FULL:		return "cache full";
	case KB_ERR_CACHE_BUSY:		return "cache busy";
	case KB_ERR_RECORD:		return "signed record not canonical";
	case KB_ERR_RECORD_VERSION:	return "unknown signed record version";
	case KB_ERR_SIG_FORMAT:		return "malformed signature";
	case KB_ERR_SIG_NAMESPACE:	return "signature namespace is not keybound";
	case KB_ERR_SIG_HASH:		return "signature hash is not sha512";
	case KB_ERR_SIG_KEY:		return "signed by another key";
	case KB_ERR_SIG_BAD:		return "signature does not verify";
	case KB_ERR_SIG_KEYTYPE:	return "signing key type not supported";
	case KB_ERR_PRIVKEY:		return "private key not usable";
	case KB_ERR_PRIVKEY_ENCRYPTED:	return "private key is passphrase-protected";
	case KB_ERR_AGENT:		return "ssh-agent unreachable or misbehaving";
	case KB_ERR_AGENT_NO_KEY:	return "ssh-agent does not hold the key";
	case KB_ERR_AGENT_REFUSED:	return "ssh-agent refused to sign";
	case KB_ERR_AGENT_TIMEOUT:	return "ssh-agent did not answer in time";
	case KB_ERR_SIG_MISSING:	return "entry is not signed";
	case KB_ERR_SIG_UNTRUSTED:	return "signer is not trusted";
	case KB_ERR_SIG_TOO_OLD:	return "signature older than signature_max_age";
	case KB_ERR_SIG_REPLAYED:	return "older serial than one already seen";
	case KB_ERR_SIGNERS:		return "trusted_signers file not usable";
	default:			return "unknown error";
	}
}
