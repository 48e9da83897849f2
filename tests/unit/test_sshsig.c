/*
 * test_sshsig.c - SSHSIG against fixtures made by ssh-keygen
 * (tests/fixtures/sshsig/: keys, pair.rec and `ssh-keygen -Y sign -n
 * keybound` signatures over it), every refusal by its code, private key
 * files, and lib/agent.c against agents played here that hang, lie or
 * refuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kb.h"
#include "agent.h"
#include "b64.h"
#include "blob.h"
#include "clock.h"
#include "sshkey.h"
#include "sshsig.h"
#include "sshsig_fixtures.h"
#include "tap.h"

static struct kb_key *
pub_fixture(const char *name)
{
	char path[128], *text;
	size_t len;
	struct kb_key *k = NULL;

	snprintf(path, sizeof(path), FIX "%s.pub", name);
	if ((text = slurp(path, &len)) == NULL)
		return NULL;
	while (len > 0 && text[len - 1] == '\n')
		len--;
	if (key_parse_line(text, len, 0, &k) != 0)
		k = NULL;
	free(text);
	return k;
}

static unsigned char *msg;
static size_t msglen;

/* Find needle in hay; offset or -1. */
static long
find(const unsigned char *hay, size_t n, const char *needle)
{
	size_t i, l = strlen(needle);

	for (i = 0; i + l <= n; i++) {
		if (memcmp(hay + i, needle, l) == 0)
			return (long)i;
	}
	return -1;
}

static void
test_type(const char *name)
{
	struct kb_key *pub = pub_fixture(name), *signer = NULL;
	struct kb_privkey *priv = priv_fixture(name);
	char path[128], *text = NULL, *armored = NULL;
	unsigned char *sig = NULL, *mine = NULL, *bad = NULL, *back = NULL;
	size_t len, siglen = 0, minelen = 0, backlen, i;
	long at;

	CHECK(pub != NULL && priv != NULL);
	if (pub == NULL || priv == NULL)
		goto out;
	CHECK(key_equal(sshsig_privkey_public(priv), pub));

	/* ssh-keygen's signature verifies */
	snprintf(path, sizeof(path), FIX "pair.rec.%s.sig", name);
	text = slurp(path, &len);
	CHECK_EQ_INT(sshsig_dearmor(text, len, &sig, &siglen), 0);
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, sig, siglen), 0);
	CHECK_EQ_INT(sshsig_parse(sig, siglen, &signer), 0);
	CHECK(key_equal(signer, pub));
	CHECK_EQ_INT(sshsig_armor(sig, siglen, &armored), 0);
	CHECK_EQ_STR(armored, text);	/* ssh-keygen's armor */

	/* ours verifies; Ed25519 is deterministic: same bytes */
	CHECK_EQ_INT(sshsig_sign(priv, msg, msglen, &mine, &minelen), 0);
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, mine, minelen), 0);
	if (key_type(pub) == KB_KT_ED25519)
		CHECK(minelen == siglen && memcmp(mine, sig, siglen) == 0);
	free(armored);
	armored = NULL;
	CHECK_EQ_INT(sshsig_armor(mine, minelen, &armored), 0);
	CHECK_EQ_INT(sshsig_dearmor(armored, strlen(armored), &back,
	    &backlen), 0);
	CHECK(backlen == minelen && memcmp(back, mine, minelen) == 0);

	/* tampered message: each byte flipped in turn */
	for (i = 0; i < msglen; i++) {
		msg[i] ^= 0x01;
		CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, mine, minelen),
		    KB_ERR_SIG_BAD);
		msg[i] ^= 0x01;
	}
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen - 1, mine, minelen),
	    KB_ERR_SIG_BAD);

	/* every truncation refused; one trailing byte refused */
	if ((bad = malloc(minelen + 1)) == NULL)
		goto out;
	memcpy(bad, mine, minelen);
	for (i = 0; i < minelen; i++)
		CHECK(sshsig_verify(pub, msg, msglen, bad, i) != 0);
	bad[minelen] = 0;
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, bad, minelen + 1),
	    KB_ERR_SIG_FORMAT);
	CHECK_EQ_INT(sshsig_parse(bad, minelen + 1, NULL), KB_ERR_SIG_FORMAT);

	/* namespace, hash, version, magic, one signature byte */
	at = find(mine, minelen, "keybound");
	CHECK(at > 0);
	bad[at + 7] = 'e';
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, bad, minelen),
	    KB_ERR_SIG_NAMESPACE);
	bad[at + 7] = 'd';
	at = find(mine, minelen, "sha512");
	CHECK(at > 0);
	memcpy(bad + at, "sha256", 6);
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, bad, minelen),
	    KB_ERR_SIG_HASH);
	memcpy(bad + at, "sha512", 6);
	bad[9] = 2;				/* version */
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, bad, minelen),
	    KB_ERR_SIG_FORMAT);
	bad[9] = 1;
	bad[0] = 'X';
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, bad, minelen),
	    KB_ERR_SIG_FORMAT);
	bad[0] = 'S';
	bad[minelen - 2] ^= 0x40;
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, bad, minelen),
	    KB_ERR_SIG_BAD);
	bad[minelen - 2] ^= 0x40;
	CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, bad, minelen), 0);

	/* RSA: only rsa-sha2-512 is accepted, not -256 or SHA-1 */
	if (key_type(pub) == KB_KT_RSA) {
		at = find(mine, minelen, "rsa-sha2-512");
		CHECK(at > 0);
		memcpy(bad + at, "rsa-sha2-256", 12);
		CHECK_EQ_INT(sshsig_verify(pub, msg, msglen, bad, minelen),
		    KB_ERR_SIG_FORMAT);
		CHECK_EQ_INT(sshsig_parse(bad, minelen, NULL),
		    KB_ERR_SIG_FORMAT);
	}
 out:
	key_free(pub);
	key_free(signer);
	sshsig_privkey_free(priv);
	free(text);
	free(armored);
	free(sig);
	free(mine);
	free(bad);
	free(back);
}

static void
test_wrong_key(void)
{
	struct kb_key *ed = pub_fixture("ed25519"), *ec = pub_fixture("ecdsa");
	struct kb_privkey *priv = priv_fixture("ed25519");
	unsigned char *sig = NULL;
	size_t siglen = 0;

	CHECK(ed != NULL && ec != NULL && priv != NULL);
	if (ed == NULL || ec == NULL || priv == NULL)
		goto out;
	CHECK_EQ_INT(sshsig_sign(priv, msg, msglen, &sig, &siglen), 0);
	CHECK_EQ_INT(sshsig_verify(ec, msg, msglen, sig, siglen),
	    KB_ERR_SIG_KEY);
	CHECK_EQ_INT(sshsig_verify(ed, msg, msglen, sig, siglen), 0);
 out:
	key_free(ed);
	key_free(ec);
	sshsig_privkey_free(priv);
	free(sig);
}

static void
test_dearmor(void)
{
	unsigned char *sig = NULL;
	size_t len;
	static const char *bad[] = {
		"",
		"-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
		"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n",
		"-----BEGIN SSH SIGNATURE-----\r\nU1NIU0lH\r\n"
		    "-----END SSH SIGNATURE-----\r\n",
		"-----BEGIN SSH SIGNATURE-----\nU1NI\n\nU0lH\n"
		    "-----END SSH SIGNATURE-----\n",
		"-----BEGIN SSH SIGNATURE-----\nU1NI U0lH\n"
		    "-----END SSH SIGNATURE-----\n",
		"x-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n"
		    "-----END SSH SIGNATURE-----\n",
		"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n"
		    "-----END SSH SIGNATURE-----\n\n",
	};
	size_t i;

	static const char good[] = "-----BEGIN SSH SIGNATURE-----\nU1NI\n"
	    "U0lH\n-----END SSH SIGNATURE-----\n";

	CHECK_EQ_INT(sshsig_dearmor(good, strlen(good), &sig, &len), 0);
	CHECK(len == 6 && memcmp(sig, "SSHSIG", 6) == 0);
	free(sig);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(sshsig_dearmor(bad[i], strlen(bad[i]), &sig,
		    &len), KB_ERR_SIG_FORMAT);
		CHECK(sig == NULL);
	}
}

static void
test_privkey(void)
{
	struct kb_privkey *k = NULL;
	char *text, tmpl[] = "/tmp/kbtest-sshsig.XXXXXX", *armored;
	unsigned char *bin = NULL;
	size_t len, binlen, at;
	struct kb_blob b;
	const unsigned char *p;
	size_t n;
	uint32_t u;
	int fd;

	text = slurp(FIX "ed25519-locked", &len);
	CHECK_EQ_INT(sshsig_privkey_parse(text, len, &k),
	    KB_ERR_PRIVKEY_ENCRYPTED);
	free(text);
	CHECK_EQ_INT(sshsig_privkey_parse("nonsense", 8, &k), KB_ERR_PRIVKEY);
	CHECK(k == NULL);

	/* break the check integers of an otherwise good key */
	text = slurp(FIX "ed25519", &len);
	CHECK(text != NULL);
	if (text == NULL)
		return;
	CHECK_EQ_INT(sshsig_privkey_parse(text, len, &k), 0);
	sshsig_privkey_free(k);
	k = NULL;
	{
		/* the base64 between the armor lines, without newlines */
		char *s = strchr(text, '\n') + 1, *e = strstr(text, "-----END");
		char *joined = malloc(len), *o = joined;

		for (; s < e; s++) {
			if (*s != '\n')
				*o++ = *s;
		}
		CHECK_EQ_INT(b64_decode_strict(joined, (size_t)(o - joined),
		    &bin, &binlen), 0);
		free(joined);
	}
	blob_init(&b, bin, binlen);
	(void)blob_get_raw(&b, 15, &p);		/* magic */
	(void)blob_get_string(&b, &p, &n);	/* cipher */
	(void)blob_get_string(&b, &p, &n);	/* kdf */
	(void)blob_get_string(&b, &p, &n);	/* kdf options */
	(void)blob_get_u32(&b, &u);		/* number of keys */
	(void)blob_get_string(&b, &p, &n);	/* public key */
	(void)blob_get_u32(&b, &u);		/* private section length */
	at = (size_t)(b.p - bin);
	bin[at + 7] ^= 1;			/* check2 != check1 */
	CHECK_EQ_INT(b64_encode(bin, binlen, &armored), 0);
	{
		size_t alen = strlen(armored) + 200;
		char *t = malloc(alen);

		snprintf(t, alen, "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n"
		    "-----END OPENSSH PRIVATE KEY-----\n", armored);
		CHECK_EQ_INT(sshsig_privkey_parse(t, strlen(t), &k),
		    KB_ERR_PRIVKEY);
		bin[at + 7] ^= 1;
		free(armored);
		CHECK_EQ_INT(b64_encode(bin, binlen, &armored), 0);
		snprintf(t, alen, "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n"
		    "-----END OPENSSH PRIVATE KEY-----\n", armored);
		CHECK_EQ_INT(sshsig_privkey_parse(t, strlen(t), &k), 0);
		sshsig_privkey_free(k);
		k = NULL;
		/* the seed changed: the private half is another key's */
		bin[at + 8 + 4 + 11 + 4 + 32 + 4] ^= 1;
		free(armored);
		CHECK_EQ_INT(b64_encode(bin, binlen, &armored), 0);
		snprintf(t, alen, "-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n"
		    "-----END OPENSSH PRIVATE KEY-----\n", armored);
		CHECK_EQ_INT(sshsig_privkey_parse(t, strlen(t), &k),
		    KB_ERR_PRIVKEY);
		free(t);
	}
	free(armored);
	free(bin);

	/* files: group- or world-readable refused, 0600 loaded */
	fd = mkstemp(tmpl);
	CHECK(fd != -1);
	if (fd == -1) {
		free(text);
		return;
	}
	CHECK((size_t)write(fd, text, len) == len);
	close(fd);
	CHECK_EQ_INT(chmod(tmpl, 0640), 0);
	CHECK_EQ_INT(sshsig_privkey_load(tmpl, &k), KB_ERR_CONFIG_PERM);
	CHECK_EQ_INT(chmod(tmpl, 0600), 0);
	CHECK_EQ_INT(sshsig_privkey_load(tmpl, &k), 0);
	CHECK(k != NULL);
	sshsig_privkey_free(k);
	unlink(tmpl);
	CHECK_EQ_INT(sshsig_privkey_load(tmpl, &k), KB_ERR_CONFIG_OPEN);
	free(text);
}

static void
xread(int fd, void *p, size_t n)
{
	if (read(fd, p, n) <= 0)
		_exit(1);
}

static void
xwrite(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		_exit(1);
}

/*
 * A fake agent on a socket in a child process.  mode: 0 hang after
 * accepting, 1 answer with a huge length, 2 list the ed25519 fixture and
 * refuse to sign, 3 list it and return a wrong signature.
 */
static pid_t
fake_agent(const char *path, int mode)
{
	struct sockaddr_un sun;
	unsigned char buf[8192], reply[512], blobcopy[128];
	struct kb_key *k;
	const unsigned char *kb;
	size_t kblen, n;
	int ls, c;
	pid_t pid;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls == -1 || bind(ls, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(ls, 4) == -1)
		return -1;
	if ((pid = fork()) != 0) {
		close(ls);
		return pid;
	}
	if ((k = pub_fixture("ed25519")) == NULL)
		_exit(1);
	kb = key_blob(k, &kblen);
	memcpy(blobcopy, kb, kblen);
	key_free(k);
	if ((c = accept(ls, NULL, NULL)) == -1)
		_exit(1);
	if (mode == 0) {
		pause();
		_exit(0);
	}
	xread(c, buf, sizeof(buf));	/* request identities */
	if (mode == 1) {
		memcpy(reply, "\xff\xff\xff\xf0\x0c", 5);
		xwrite(c, reply, 5);
		_exit(0);
	}
	/* identities answer: one key, comment "x" */
	n = 0;
	reply[n++] = 0; reply[n++] = 0; reply[n++] = 0;
	reply[n++] = (unsigned char)(1 + 4 + 4 + kblen + 4 + 1);
	reply[n++] = 12;
	memcpy(reply + n, "\0\0\0\1", 4); n += 4;
	reply[n++] = 0; reply[n++] = 0; reply[n++] = 0;
	reply[n++] = (unsigned char)kblen;
	memcpy(reply + n, blobcopy, kblen); n += kblen;
	memcpy(reply + n, "\0\0\0\1x", 5); n += 5;
	xwrite(c, reply, n);
	xread(c, buf, sizeof(buf));	/* sign request */
	if (mode == 2) {
		xwrite(c, "\0\0\0\1\5", 5);
		_exit(0);
	}
	/* sign response: string(string "ssh-ed25519", string 64 zeros) */
	n = 0;
	memcpy(reply + n, "\0\0\0\x58\x0e\0\0\0\x53\0\0\0\x0bssh-ed25519"
	    "\0\0\0\x40", 28);
	n += 28;
	memset(reply + n, 0, 64);
	n += 64;
	xwrite(c, reply, n);
	_exit(0);
}

static void
stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

static void
test_agent(void)
{
	char dir[] = "/tmp/kbtest-agent.XXXXXX", path[128], fp[128];
	struct kb_key *k = pub_fixture("ed25519");
	unsigned char *sig = NULL, *key = NULL;
	size_t siglen, keylen;
	struct timespec start;
	char *kfp = NULL;
	long took, timeout = getenv("KB_UNDER_VALGRIND") ? 3000 : 500;
	pid_t pid;
	int mode;

	CHECK(mkdtemp(dir) != NULL && k != NULL);
	CHECK_EQ_INT(key_fingerprint_sha256(k, &kfp), 0);
	snprintf(fp, sizeof(fp), "%s", kfp != NULL ? kfp : "");
	free(kfp);

	CHECK_EQ_INT(agent_sign("/nonexistent/agent.sock", fp, timeout,
	    msg, msglen, &key, &keylen, &sig, &siglen), KB_ERR_AGENT);
	CHECK_EQ_INT(agent_sign("", fp, timeout, msg, msglen, &key, &keylen,
	    &sig, &siglen), KB_ERR_AGENT);

	for (mode = 0; mode <= 3; mode++) {
		snprintf(path, sizeof(path), "%s/s%d", dir, mode);
		pid = fake_agent(path, mode);
		CHECK(pid > 0);
		clock_now(&start);
		switch (mode) {
		case 0:
			CHECK_EQ_INT(agent_sign(path, fp, timeout, msg, msglen,
			    &key, &keylen, &sig, &siglen),
			    KB_ERR_AGENT_TIMEOUT);
			took = clock_elapsed_ms(&start);
			CHECK(took >= timeout - 5 && took < timeout + 2000);
			break;
		case 1:
			CHECK_EQ_INT(agent_sign(path, fp, timeout, msg, msglen,
			    &key, &keylen, &sig, &siglen), KB_ERR_AGENT);
			break;
		case 2:
			CHECK_EQ_INT(agent_sign(path, "SHA256:other", timeout,
			    msg, msglen, &key, &keylen, &sig, &siglen),
			    KB_ERR_AGENT_NO_KEY);
			stop(pid);
			unlink(path);
			pid = fake_agent(path, mode);
			CHECK_EQ_INT(agent_sign(path, fp, timeout, msg, msglen,
			    &key, &keylen, &sig, &siglen),
			    KB_ERR_AGENT_REFUSED);
			break;
		case 3:
			/* the agent's answer is checked before it is used */
			CHECK_EQ_INT(sshsig_sign_agent(path, fp, timeout, msg,
			    msglen, &sig, &siglen), KB_ERR_SIG_BAD);
			break;
		}
		CHECK(sig == NULL && key == NULL);
		stop(pid);
		unlink(path);
	}
	rmdir(dir);
	key_free(k);
}

/* key_from_blob() agrees with key_parse_line() and is as strict. */
static void
test_key_from_blob(void)
{
	struct kb_key *line = pub_fixture("rsa"), *k = NULL;
	const unsigned char *blob;
	unsigned char buf[2048];
	size_t len;
	static const unsigned char dss[] = "\0\0\0\7ssh-dss";
	static const unsigned char unknown[] = "\0\0\0\7ssh-foo";

	CHECK(line != NULL);
	if (line == NULL)
		return;
	blob = key_blob(line, &len);
	CHECK(len + 1 <= sizeof(buf));
	CHECK_EQ_INT(key_from_blob(blob, len, &k), 0);
	CHECK(key_equal(k, line));
	key_free(k);
	memcpy(buf, blob, len);
	buf[len] = 0;
	CHECK_EQ_INT(key_from_blob(buf, len + 1, &k), KB_ERR_KEY_TRAILING);
	CHECK(k == NULL);
	CHECK_EQ_INT(key_from_blob(buf, len - 1, &k), KB_ERR_KEY_TRUNCATED);
	CHECK_EQ_INT(key_from_blob(dss, sizeof(dss) - 1, &k), KB_ERR_KEY_DSA);
	CHECK_EQ_INT(key_from_blob(unknown, sizeof(unknown) - 1, &k),
	    KB_ERR_KEY_UNKNOWN_TYPE);
	CHECK_EQ_INT(key_from_blob(buf, 0, &k), KB_ERR_KEY_TRUNCATED);
	key_free(line);
}

/* The writer's mpints are RFC 4251's: minimal, sign byte when needed. */
static void
test_writer(void)
{
	static const unsigned char hi[] = { 0x00, 0x80, 0x01 };
	static const unsigned char lo[] = { 0x00, 0x00, 0x7f };
	static const unsigned char zero[] = { 0x00 };
	static const unsigned char want[] = {
		0, 0, 0, 3, 0x00, 0x80, 0x01,
		0, 0, 0, 1, 0x7f,
		0, 0, 0, 0,
		0, 0, 0, 1, 0, 0, 0, 2,
		0xff,
	};
	struct kb_wblob w;
	unsigned char *out = NULL;
	size_t len = 0;

	memset(&w, 0, sizeof(w));
	blob_put_mpint(&w, hi, sizeof(hi));
	blob_put_mpint(&w, lo, sizeof(lo));
	blob_put_mpint(&w, zero, sizeof(zero));
	blob_put_u64(&w, 0x0000000100000002ull);
	blob_put_u8(&w, 0xff);
	CHECK_EQ_INT(blob_w_done(&w, &out, &len), 0);
	CHECK(len == sizeof(want) && memcmp(out, want, len) == 0);
	free(out);
	memset(&w, 0, sizeof(w));
	blob_put_raw(&w, hi, KB_WBLOB_MAX + 1);	/* refused unread */
	blob_put_u8(&w, 1);
	CHECK_EQ_INT(blob_w_done(&w, &out, &len), KB_ERR_TOO_LONG);
	CHECK(out == NULL);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	msg = (unsigned char *)slurp(FIX "pair.rec", &msglen);
	CHECK(msg != NULL && msglen > 0);
	if (msg == NULL)
		return tap_done();
	test_type("ed25519");
	test_type("ecdsa");
	test_type("rsa");
	test_wrong_key();
	test_key_from_blob();
	test_writer();
	test_dearmor();
	test_privkey();
	test_agent();
	free(msg);
	return tap_done();
}
