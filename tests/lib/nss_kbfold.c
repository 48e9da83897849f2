/*
 * nss_kbfold.c - a user database that folds case, the way SSSD with
 * "case_sensitive = false" (usual against Active Directory) does: a lookup
 * of ALICE or Alice returns the entry of alice, pw_name "alice"; and, like
 * SSSD with a domain, the fully qualified alice@KBFOLD_DOMAIN (in any case)
 * returns it too.
 *
 * Test-only; tests/lib/nss.sh compiles it into a test's temporary
 * directory as libnss_kbfold.so.2 with KBFOLD_PASSWD and KBFOLD_SHADOW
 * (files in passwd(5) and shadow(5) format) and KBFOLD_DOMAIN fixed at
 * build time, and
 * names it in a private nsswitch.conf ("passwd: files kbfold").
 *
 * Three names stand for a database that fails rather than answers:
 *   kberr-eio     NSS_STATUS_UNAVAIL, errno EIO
 *   kberr-again   NSS_STATUS_TRYAGAIN, errno EAGAIN
 *   kberr-enoent  NSS_STATUS_UNAVAIL, errno ENOENT (what glibc also
 *                 reports for a backend it cannot reach)
 * An entry larger than the caller's buffer gives NSS_STATUS_TRYAGAIN with
 * ERANGE, as the NSS interface asks.
 */
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef KBFOLD_PASSWD
#error "KBFOLD_PASSWD must be defined"
#endif
#ifndef KBFOLD_SHADOW
#error "KBFOLD_SHADOW must be defined"
#endif
#ifndef KBFOLD_DOMAIN
#error "KBFOLD_DOMAIN must be defined"
#endif

#define NFIELDS_MAX	9

enum nss_status _nss_kbfold_getpwnam_r(const char *, struct passwd *,
    char *, size_t, int *);
enum nss_status _nss_kbfold_getpwuid_r(uid_t, struct passwd *, char *,
    size_t, int *);
enum nss_status _nss_kbfold_getspnam_r(const char *, struct spwd *, char *,
    size_t, int *);

/* Split line at ':' into exactly n fields. */
static int
split(char *line, char **f, int n)
{
	int i;

	line[strcspn(line, "\n")] = '\0';
	for (i = 0; i < n; i++) {
		f[i] = line;
		if ((line = strchr(line, ':')) == NULL)
			break;
		*line++ = '\0';
	}
	return i == n - 1 ? 0 : -1;
}

/* Does the lookup want name: any case, bare or @KBFOLD_DOMAIN? */
static int
name_match(const char *name, const char *want)
{
	const char *at = strrchr(want, '@');
	size_t len;

	if (strcasecmp(name, want) == 0)
		return 1;
	if (at == NULL || strcasecmp(at + 1, KBFOLD_DOMAIN) != 0)
		return 0;
	len = (size_t)(at - want);
	return strlen(name) == len && strncasecmp(name, want, len) == 0;
}

/*
 * The line of path whose field key equals want (for names: name_match),
 * split into n fields; *linep is the caller's to free.
 */
static enum nss_status
find(const char *path, int n, int key, const char *want, char **linep,
    char **f, int *errnop)
{
	size_t cap = 0;
	char *line = NULL;
	FILE *fp;

	*linep = NULL;
	if ((fp = fopen(path, "re")) == NULL) {
		*errnop = errno;
		return NSS_STATUS_UNAVAIL;
	}
	while (getline(&line, &cap, fp) != -1) {
		if (split(line, f, n) != 0)
			continue;
		if (key == 0 ? name_match(f[0], want) :
		    strcmp(f[key], want) == 0) {
			fclose(fp);
			*linep = line;
			return NSS_STATUS_SUCCESS;
		}
	}
	free(line);
	fclose(fp);
	*errnop = ENOENT;
	return NSS_STATUS_NOTFOUND;
}

/* Copy s into the caller's buffer; NULL when it does not fit. */
static char *
put(const char *s, char **bufp, size_t *leftp)
{
	size_t len = strlen(s) + 1;
	char *p = *bufp;

	if (len > *leftp)
		return NULL;
	memcpy(p, s, len);
	*bufp += len;
	*leftp -= len;
	return p;
}

static enum nss_status
fill_passwd(char **f, struct passwd *pw, char *buf, size_t left,
    int *errnop)
{
	pw->pw_uid = (uid_t)strtoul(f[2], NULL, 10);
	pw->pw_gid = (gid_t)strtoul(f[3], NULL, 10);
	if ((pw->pw_name = put(f[0], &buf, &left)) == NULL ||
	    (pw->pw_passwd = put(f[1], &buf, &left)) == NULL ||
	    (pw->pw_gecos = put(f[4], &buf, &left)) == NULL ||
	    (pw->pw_dir = put(f[5], &buf, &left)) == NULL ||
	    (pw->pw_shell = put(f[6], &buf, &left)) == NULL) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	return NSS_STATUS_SUCCESS;
}

static long
number(const char *s)
{
	return *s == '\0' ? -1 : strtol(s, NULL, 10);
}

/* A database that fails for the names in the header comment. */
static int
failing(const char *name, enum nss_status *stp, int *errnop)
{
	if (strcmp(name, "kberr-eio") == 0) {
		*errnop = EIO;
		*stp = NSS_STATUS_UNAVAIL;
	} else if (strcmp(name, "kberr-again") == 0) {
		*errnop = EAGAIN;
		*stp = NSS_STATUS_TRYAGAIN;
	} else if (strcmp(name, "kberr-enoent") == 0) {
		*errnop = ENOENT;
		*stp = NSS_STATUS_UNAVAIL;
	} else {
		return 0;
	}
	return 1;
}

enum nss_status
_nss_kbfold_getpwnam_r(const char *name, struct passwd *pw, char *buf,
    size_t buflen, int *errnop)
{
	enum nss_status st;
	char *line, *f[NFIELDS_MAX];

	if (failing(name, &st, errnop))
		return st;
	if ((st = find(KBFOLD_PASSWD, 7, 0, name, &line, f, errnop)) ==
	    NSS_STATUS_SUCCESS)
		st = fill_passwd(f, pw, buf, buflen, errnop);
	free(line);
	return st;
}

enum nss_status
_nss_kbfold_getpwuid_r(uid_t uid, struct passwd *pw, char *buf,
    size_t buflen, int *errnop)
{
	enum nss_status st;
	char *line, *f[NFIELDS_MAX], want[32];

	snprintf(want, sizeof(want), "%lu", (unsigned long)uid);
	if ((st = find(KBFOLD_PASSWD, 7, 2, want, &line, f, errnop)) ==
	    NSS_STATUS_SUCCESS)
		st = fill_passwd(f, pw, buf, buflen, errnop);
	free(line);
	return st;
}

enum nss_status
_nss_kbfold_getspnam_r(const char *name, struct spwd *sp, char *buf,
    size_t buflen, int *errnop)
{
	enum nss_status st;
	char *line, *f[NFIELDS_MAX];

	if ((st = find(KBFOLD_SHADOW, 9, 0, name, &line, f, errnop)) !=
	    NSS_STATUS_SUCCESS)
		goto out;
	sp->sp_lstchg = number(f[2]);
	sp->sp_min = number(f[3]);
	sp->sp_max = number(f[4]);
	sp->sp_warn = number(f[5]);
	sp->sp_inact = number(f[6]);
	sp->sp_expire = number(f[7]);
	sp->sp_flag = ~0UL;
	if ((sp->sp_namp = put(f[0], &buf, &buflen)) == NULL ||
	    (sp->sp_pwdp = put(f[1], &buf, &buflen)) == NULL) {
		*errnop = ERANGE;
		st = NSS_STATUS_TRYAGAIN;
	}
 out:
	free(line);
	return st;
}
