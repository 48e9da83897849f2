/*
 * timer.c - the bench timing driver.
 *
 *   timer [-n CALLS] [-w WARMUP] [-c CONCURRENCY] [-s SKIP] [-u USER]
 *         [-e ERRLOG] -o OUT.json ROWFILE
 *
 * ROWFILE holds one row per line, fields separated by a TAB:
 *
 *   NAME  FLAGS  ARGV0  ARGV1 ...
 *
 * FLAGS is "-" or a comma list of: root (run as the invoking user with
 * its environment instead of USER with sshd's minimal one), self (the
 * command prints "ms=FLOAT" as its last line: take that as the time),
 * lines=N (fewer stdout lines is a failure), anyexit (a non-zero exit
 * status is not a failure), rot=N and off=N (every "%R" in an argument
 * becomes off + (SKIP + call number) % rot; warm-up calls are numbered
 * after the measured ones, so rows that need a fresh user per call get
 * one).  Leading NAME=VALUE fields
 * before ARGV0 are added to the command's environment.
 *
 * Every row runs CALLS times after WARMUP discarded rounds, interleaved
 * round by round, so slow drift of the machine hits every row alike.
 * Each call is fork + exec with stdin and stderr on /dev/null (stderr to
 * ERRLOG with -e) and stdout read to the end, as sshd runs an
 * AuthorizedKeysCommand; its wall time runs from fork to reaping and its
 * peak RSS comes from wait4's rusage.  With -c K, each round of a row
 * starts K calls at once (a login storm); every call is one sample.
 *
 * The output is a JSON array with one object per row: name, median_ms,
 * p95_ms, p99_ms, mean_ms, min_ms, max_ms, max_rss_kb, n, failures.
 */
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROWS	64
#define MAX_ARGS	32
#define MAX_CONC	1024
#define CALL_LIMIT_MS	30000	/* a call running longer is killed */

struct row {
	char *name;
	char *argv[MAX_ARGS + 1];
	int argc;
	int as_root;
	int self_timed;
	int any_exit;
	long min_lines;
	long rot;
	long off;
	double *ms;		/* one sample per call */
	size_t n;
	long max_rss_kb;
	long failures;
};

struct call {
	pid_t pid;
	int fd;			/* read end of stdout, -1 at EOF */
	struct timespec start;
	long lines;
	char last[64];		/* the last line, for self-timed rows */
	size_t lastlen;
	int in_line;		/* 1 while last holds a partial line */
	int reaped;
	int status;
	double ms;
	long rss_kb;
};

static struct row rows[MAX_ROWS];
static size_t nrows;
static struct passwd run_as;
static int devnull_fd = -1;
static int errlog_fd = -1;

static void
die(const char *what)
{
	fprintf(stderr, "timer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: timer [-n CALLS] [-w WARMUP] [-c CONC] "
	    "[-s SKIP] [-u USER] [-e ERRLOG] -o OUT.json ROWFILE\n");
	exit(2);
}

static long
parse_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "timer: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

static void
parse_flags(struct row *r, char *flags)
{
	char *tok, *save = NULL;

	r->rot = 1;
	if (strcmp(flags, "-") == 0)
		return;
	for (tok = strtok_r(flags, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "root") == 0)
			r->as_root = 1;
		else if (strcmp(tok, "self") == 0)
			r->self_timed = 1;
		else if (strcmp(tok, "anyexit") == 0)
			r->any_exit = 1;
		else if (strncmp(tok, "lines=", 6) == 0)
			r->min_lines = parse_long(tok + 6, 0, 1000000, "lines");
		else if (strncmp(tok, "rot=", 4) == 0)
			r->rot = parse_long(tok + 4, 1, 10000000, "rot");
		else if (strncmp(tok, "off=", 4) == 0)
			r->off = parse_long(tok + 4, 0, 100000000, "off");
		else {
			fprintf(stderr, "timer: unknown flag %s\n", tok);
			exit(2);
		}
	}
}

static void
read_rows(const char *path)
{
	FILE *f;
	char *line = NULL, *field, *save;
	size_t cap = 0;
	ssize_t len;
	struct row *r;
	int i;

	if ((f = fopen(path, "re")) == NULL)
		die(path);
	while ((len = getline(&line, &cap, f)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (nrows == MAX_ROWS) {
			fprintf(stderr, "timer: too many rows\n");
			exit(2);
		}
		r = &rows[nrows];
		save = NULL;
		for (i = 0, field = strtok_r(line, "\t", &save); field != NULL;
		    i++, field = strtok_r(NULL, "\t", &save)) {
			if (i == 0)
				r->name = strdup(field);
			else if (i == 1)
				parse_flags(r, field);
			else if (r->argc < MAX_ARGS)
				r->argv[r->argc++] = strdup(field);
			else {
				fprintf(stderr, "timer: too many arguments\n");
				exit(2);
			}
		}
		if (r->name == NULL || r->argc == 0) {
			fprintf(stderr, "timer: %s: row without a command\n",
			    path);
			exit(2);
		}
		nrows++;
	}
	free(line);
	fclose(f);
}

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* Replace "%R" in arg by the rotating number; returns a new string. */
static char *
expand_arg(const char *arg, long value)
{
	char num[32], *out, *o;
	const char *p;
	size_t need;

	snprintf(num, sizeof(num), "%ld", value);
	need = strlen(arg) * (strlen(num) + 1) + 1;
	if ((out = malloc(need)) == NULL)
		die("malloc");
	for (p = arg, o = out; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'R') {
			memcpy(o, num, strlen(num));
			o += strlen(num);
			p++;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* In the child: become the run-as user with sshd's environment, exec. */
static void
child_exec(const struct row *r, char **argv, int outfd)
{
	static char path_env[] = "PATH=/usr/bin:/bin:/usr/sbin:/sbin";
	char *sshd_env[6 + MAX_ARGS];
	char user[300], logname[300], home[PATH_MAX + 8];
	int nenv = 4;

	if (dup2(devnull_fd, 0) == -1 || dup2(outfd, 1) == -1 ||
	    dup2(errlog_fd >= 0 ? errlog_fd : devnull_fd, 2) == -1)
		_exit(126);
	for (; argv[0] != NULL && argv[0][0] != '/' &&
	    strchr(argv[0], '=') != NULL; argv++) {
		if (r->as_root && putenv(argv[0]) != 0)
			_exit(126);
		sshd_env[nenv++] = argv[0];
	}
	if (r->as_root) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (getuid() == 0) {
		if (setgroups(0, NULL) == -1 ||
		    setgid(run_as.pw_gid) == -1 ||
		    setuid(run_as.pw_uid) == -1)
			_exit(126);
	}
	/* What OpenSSH's subprocess() hands an AuthorizedKeysCommand. */
	snprintf(user, sizeof(user), "USER=%s", run_as.pw_name);
	snprintf(logname, sizeof(logname), "LOGNAME=%s", run_as.pw_name);
	snprintf(home, sizeof(home), "HOME=%s", run_as.pw_dir);
	sshd_env[0] = path_env;
	sshd_env[1] = user;
	sshd_env[2] = logname;
	sshd_env[3] = home;
	sshd_env[nenv] = NULL;
	execve(argv[0], argv, sshd_env);
	_exit(127);
}

static void
start_call(const struct row *r, long round, struct call *c)
{
	char *argv[MAX_ARGS + 1];
	int p[2], i;
	long value = r->off + round % r->rot;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < r->argc; i++)
		argv[i] = expand_arg(r->argv[i], value);
	argv[r->argc] = NULL;
	if (pipe2(p, O_CLOEXEC) == -1)
		die("pipe2");
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	if ((c->pid = fork()) == -1)
		die("fork");
	if (c->pid == 0)
		child_exec(r, argv, p[1]);
	close(p[1]);
	c->fd = p[0];
	for (i = 0; i < r->argc; i++)
		free(argv[i]);
}

static void
consume(struct call *c, const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (!c->in_line) {
			c->lastlen = 0;
			c->in_line = 1;
		}
		if (buf[i] == '\n') {
			c->lines++;
			c->in_line = 0;
			c->last[c->lastlen] = '\0';
		} else if (c->lastlen < sizeof(c->last) - 1)
			c->last[c->lastlen++] = buf[i];
	}
	if (c->in_line)
		c->last[c->lastlen] = '\0';
}

static void
reap(struct call *c)
{
	struct rusage ru;
	struct timespec end;

	if (wait4(c->pid, &c->status, 0, &ru) == -1)
		die("wait4");
	clock_gettime(CLOCK_MONOTONIC, &end);
	c->ms = ms_between(&c->start, &end);
	c->rss_kb = ru.ru_maxrss;
	c->reaped = 1;
}

/* Read every running call's stdout to EOF, reap it, enforce the limit. */
static void
run_calls(struct call *calls, size_t k)
{
	struct pollfd pfd[MAX_CONC];
	struct timespec now;
	char buf[4096];
	size_t i, open, idx[MAX_CONC], np;
	ssize_t got;

	for (;;) {
		open = 0;
		np = 0;
		for (i = 0; i < k; i++) {
			if (calls[i].fd < 0)
				continue;
			pfd[np].fd = calls[i].fd;
			pfd[np].events = POLLIN;
			idx[np++] = i;
			open++;
		}
		if (open == 0)
			break;
		if (poll(pfd, np, 1000) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = 0; i < np; i++) {
			struct call *c = &calls[idx[i]];

			if (pfd[i].revents == 0)
				continue;
			got = read(c->fd, buf, sizeof(buf));
			if (got > 0) {
				consume(c, buf, (size_t)got);
				continue;
			}
			if (got == -1 && errno == EINTR)
				continue;
			close(c->fd);
			c->fd = -1;
			reap(c);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (i = 0; i < k; i++) {
			if (calls[i].fd >= 0 &&
			    ms_between(&calls[i].start, &now) > CALL_LIMIT_MS)
				kill(calls[i].pid, SIGKILL);
		}
	}
}

static int
call_failed(const struct row *r, const struct call *c)
{
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) == 127 ||
	    (!r->any_exit && WEXITSTATUS(c->status) != 0))
		return 1;
	if (c->lines < r->min_lines)
		return 1;
	return 0;
}

static void
record(struct row *r, struct call *c, int keep)
{
	double ms = c->ms;
	char *end;

	if (r->self_timed) {
		if (strncmp(c->last, "ms=", 3) != 0)
			ms = -1;
		else {
			ms = strtod(c->last + 3, &end);
			if (end == c->last + 3 || *end != '\0' || ms < 0)
				ms = -1;
		}
	}
	if (!keep)
		return;
	if (call_failed(r, c) || ms < 0) {
		r->failures++;
		if (ms < 0)
			ms = c->ms;
	}
	r->ms[r->n++] = ms;
	if (c->rss_kb > r->max_rss_kb)
		r->max_rss_kb = c->rss_kb;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted sample. */
static double
percentile(const double *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

static double
median(const double *v, size_t n)
{
	if (n == 0)
		return 0;
	if (n % 2 == 1)
		return v[n / 2];
	return (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
write_json(const char *path)
{
	FILE *f;
	size_t i, j;
	double sum;
	struct row *r;

	if ((f = fopen(path, "we")) == NULL)
		die(path);
	fprintf(f, "[\n");
	for (i = 0; i < nrows; i++) {
		r = &rows[i];
		qsort(r->ms, r->n, sizeof(double), cmp_double);
		for (sum = 0, j = 0; j < r->n; j++)
			sum += r->ms[j];
		fprintf(f, "  {\"name\": \"%s\", \"median_ms\": %.3f, "
		    "\"p95_ms\": %.3f, \"p99_ms\": %.3f, \"mean_ms\": %.3f, "
		    "\"min_ms\": %.3f, \"max_ms\": %.3f, \"max_rss_kb\": %ld, "
		    "\"n\": %zu, \"failures\": %ld}%s\n", r->name,
		    median(r->ms, r->n), percentile(r->ms, r->n, 95),
		    percentile(r->ms, r->n, 99),
		    r->n ? sum / (double)r->n : 0,
		    r->n ? r->ms[0] : 0, r->n ? r->ms[r->n - 1] : 0,
		    r->max_rss_kb, r->n, r->failures,
		    i + 1 < nrows ? "," : "");
	}
	fprintf(f, "]\n");
	if (fclose(f) != 0)
		die(path);
}

int
main(int argc, char **argv)
{
	struct call *calls;
	struct passwd *pw;
	const char *out = NULL, *user = "nobody", *errlog = NULL;
	long ncalls = 300, warmup = 3, conc = 1, skip = 0, round, seq;
	size_t i, j;
	int ch;

	while ((ch = getopt(argc, argv, "n:w:c:s:u:e:o:")) != -1) {
		switch (ch) {
		case 'n':
			ncalls = parse_long(optarg, 1, 1000000, "calls");
			break;
		case 'w':
			warmup = parse_long(optarg, 0, 1000, "warmup");
			break;
		case 'c':
			conc = parse_long(optarg, 1, MAX_CONC, "concurrency");
			break;
		case 's':
			skip = parse_long(optarg, 0, 100000000, "skip");
			break;
		case 'u':
			user = optarg;
			break;
		case 'e':
			errlog = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (out == NULL || optind + 1 != argc)
		usage();
	read_rows(argv[optind]);
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "timer: no user %s\n", user);
		return 1;
	}
	run_as = *pw;
	run_as.pw_name = strdup(pw->pw_name);
	run_as.pw_dir = strdup(pw->pw_dir);
	if ((devnull_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		die("/dev/null");
	if (errlog != NULL && (errlog_fd = open(errlog,
	    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) == -1)
		die(errlog);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < nrows; i++) {
		rows[i].ms = calloc((size_t)(ncalls * conc), sizeof(double));
		if (rows[i].ms == NULL)
			die("calloc");
	}
	if ((calls = calloc((size_t)conc, sizeof(*calls))) == NULL)
		die("calloc");
	for (round = -warmup; round < ncalls; round++) {
		seq = skip + (round < 0 ? ncalls + warmup + round : round);
		for (i = 0; i < nrows; i++) {
			for (j = 0; j < (size_t)conc; j++)
				start_call(&rows[i], seq * conc + (long)j,
				    &calls[j]);
			run_calls(calls, (size_t)conc);
			for (j = 0; j < (size_t)conc; j++)
				record(&rows[i], &calls[j], round >= 0);
		}
	}
	write_json(out);
	return 0;
}
