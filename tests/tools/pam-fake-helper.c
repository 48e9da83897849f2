/*
 * pam-fake-helper - stands in for keybound-keys behind a test build of
 * pam_keybound.so (whose helper path is a symlink to this program).
 *
 * It reads what to do from the file "fake-mode" next to argv[0]:
 *   exit N      exit with status N
 *   sleep N     sleep N seconds, then exit 3
 *   signal      kill itself with SIGKILL
 *   check       check what the module promised the child, then exit 3:
 *               exactly descriptors 0-2, all on /dev/null (else exit 40);
 *               environment exactly PATH=/usr/bin:/bin (41);
 *               argv = PATH -c FILE --has-keys USER (42);
 *               no signal blocked or ignored (43)
 * If a file "fake-calls" exists next to argv[0], one line per call is
 * appended to it first (the user name, hex encoded).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKE_EXIT_FDS		40
#define FAKE_EXIT_ENV		41
#define FAKE_EXIT_ARGV		42
#define FAKE_EXIT_SIGNALS	43
#define FAKE_EXIT_USAGE		99

extern char **environ;

/* dir of argv[0] + "/" + name into buf. */
static int
sibling_path(const char *argv0, const char *name, char *buf, size_t bufsz)
{
	const char *slash = strrchr(argv0, '/');
	int n;

	if (slash == NULL)
		return -1;
	n = snprintf(buf, bufsz, "%.*s/%s", (int)(slash - argv0), argv0, name);
	return n > 0 && (size_t)n < bufsz ? 0 : -1;
}

static void
record_call(const char *argv0, int argc, char **argv)
{
	char path[PATH_MAX];
	FILE *f;
	const unsigned char *p;

	if (sibling_path(argv0, "fake-calls", path, sizeof(path)) != 0 ||
	    access(path, F_OK) != 0)
		return;
	if ((f = fopen(path, "ae")) == NULL)
		return;
	if (argc >= 5)
		for (p = (const unsigned char *)argv[4]; *p != '\0'; p++)
			fprintf(f, "%02x", *p);
	fputc('\n', f);
	fclose(f);
}

/* Only 0, 1, 2, each /dev/null. */
static int
fds_ok(void)
{
	struct stat null_st, st;
	struct dirent *de;
	DIR *d;
	int fd, ok = 1;

	if (stat("/dev/null", &null_st) != 0)
		return 0;
	for (fd = 0; fd <= 2; fd++)
		if (fstat(fd, &st) != 0 || st.st_rdev != null_st.st_rdev ||
		    !S_ISCHR(st.st_mode))
			ok = 0;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd > 2 && fd != dirfd(d))
			ok = 0;
	}
	closedir(d);
	return ok;
}

static int
env_ok(void)
{
	return environ != NULL && environ[0] != NULL &&
	    strcmp(environ[0], "PATH=/usr/bin:/bin") == 0 && environ[1] == NULL;
}

static int
argv_ok(int argc, char **argv)
{
	return argc == 5 && argv[0][0] == '/' && strcmp(argv[1], "-c") == 0 &&
	    argv[2][0] == '/' && strcmp(argv[3], "--has-keys") == 0 &&
	    argv[4][0] != '\0' && argv[4][0] != '-';
}

static int
signals_ok(void)
{
	struct sigaction sa;
	sigset_t mask;
	int sig;

	if (sigprocmask(SIG_SETMASK, NULL, &mask) != 0)
		return 0;
	for (sig = 1; sig < 32; sig++) {
		if (sigismember(&mask, sig))
			return 0;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			return 0;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	char path[PATH_MAX], mode[64];
	FILE *f;
	int n;

	if (argc < 1 || argv[0] == NULL ||
	    sibling_path(argv[0], "fake-mode", path, sizeof(path)) != 0)
		return FAKE_EXIT_USAGE;
	record_call(argv[0], argc, argv);
	if ((f = fopen(path, "re")) == NULL)
		return FAKE_EXIT_USAGE;
	memset(mode, 0, sizeof(mode));
	if (fgets(mode, sizeof(mode), f) == NULL)
		mode[0] = '\0';
	fclose(f);

	if (sscanf(mode, "exit %d", &n) == 1)
		return n;
	if (sscanf(mode, "sleep %d", &n) == 1) {
		sleep((unsigned)n);
		return 3;
	}
	if (strncmp(mode, "signal", 6) == 0) {
		kill(getpid(), SIGKILL);
		return FAKE_EXIT_USAGE;
	}
	if (strncmp(mode, "check", 5) == 0) {
		if (!fds_ok())
			return FAKE_EXIT_FDS;
		if (!env_ok())
			return FAKE_EXIT_ENV;
		if (!argv_ok(argc, argv))
			return FAKE_EXIT_ARGV;
		if (!signals_ok())
			return FAKE_EXIT_SIGNALS;
		return 3;
	}
	return FAKE_EXIT_USAGE;
}
