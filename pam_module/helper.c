/*
 * helper.c - run keybound-keys from inside a PAM host, the way pam_unix
 * runs unix_chkpwd: fork, a child that touches only async-signal-safe
 * calls, a deadline enforced with a pidfd (or polling), SIGKILL and reap
 * when it passes.  The host keeps its descriptors, signal mask and
 * SIGCHLD disposition.
 */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "helper.h"

#define HELPER_ERRFD		3	/* in the child, until execve */
#define HELPER_FIRST_CLOSE	4
#define HELPER_FD_CAP		(1 << 20)
#define HELPER_POLL_STEP_MAX	50	/* ms, when no pidfd is available */

/* The highest descriptor number the child may have to close (fallback). */
static int
fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > HELPER_FD_CAP)
		return HELPER_FD_CAP;
	return (int)rl.rlim_cur;
}

/* Close every descriptor from lowfd up; close_range where the kernel has it. */
static void
child_close_from(int lowfd, int maxfd)
{
	int fd;

	if (close_range((unsigned)lowfd, ~0U, 0) == 0)
		return;
	for (fd = lowfd; fd < maxfd; fd++)
		(void)close(fd);
}

/*
 * In the forked child: async-signal-safe calls only.  Leaves exactly
 * 0, 1, 2 on /dev/null and the close-on-exec error pipe on 3, then execs.
 * On any failure the errno goes down the pipe and the child exits 127.
 */
static void __attribute__((noreturn))
child_exec(const char *path, char *const argv[], char *const envp[],
    int errfd, int maxfd, const struct sigaction *dfl)
{
	sigset_t none;
	int nullfd, sig, e;

	/* No host handler may run here; exec keeps ignored signals ignored. */
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	/* Move both descriptors above 3 first: the host may lack 0-2. */
	if ((e = fcntl(errfd, F_DUPFD_CLOEXEC, HELPER_FIRST_CLOSE)) == -1)
		goto fail;
	errfd = e;
	if ((nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1 ||
	    (nullfd = fcntl(nullfd, F_DUPFD_CLOEXEC, HELPER_FIRST_CLOSE)) == -1)
		goto fail;
	if (dup2(nullfd, STDIN_FILENO) == -1 ||
	    dup2(nullfd, STDOUT_FILENO) == -1 ||
	    dup2(nullfd, STDERR_FILENO) == -1 ||
	    dup3(errfd, HELPER_ERRFD, O_CLOEXEC) == -1)
		goto fail;
	errfd = HELPER_ERRFD;
	child_close_from(HELPER_FIRST_CLOSE, maxfd);

	/* Called from a set-uid host (su, sudo): run the helper as root. */
	if (geteuid() == 0 && getuid() != 0 && setuid(0) == -1)
		goto fail;
	execve(path, argv, envp);
 fail:
	e = errno;
	if (write(errfd, &e, sizeof(e)) != (ssize_t)sizeof(e)) {
		/* nothing more to do; the exit status still says failure */
	}
	_exit(127);
}

/*
 * Wait for pid until the deadline; then SIGKILL and reap.  Returns 0 when
 * reaped in time, 1 when killed at the deadline, -1 (errno) when the
 * child could not be waited for (it is then neither killed nor ours).
 */
static int
child_wait(pid_t pid, const struct timespec *deadline, int *statusp)
{
	struct pollfd pfd;
	struct timespec ts;
	long left, step = 1;
	pid_t w;
	int pidfd, r = -1, e = 0;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);	/* always CLOEXEC */
	for (;;) {
		w = waitpid(pid, statusp, WNOHANG);
		if (w == pid) {
			r = 0;
			goto out;
		}
		if (w == -1 && errno != EINTR) {
			e = errno;
			goto out;
		}
		if ((left = deadline_left_ms(deadline)) == 0)
			break;
		if (pidfd >= 0) {
			pfd.fd = pidfd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			(void)poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		} else {
			if (step > left)
				step = left;
			ts.tv_sec = step / 1000;
			ts.tv_nsec = (step % 1000) * 1000000L;
			(void)nanosleep(&ts, NULL);
			if (step < HELPER_POLL_STEP_MAX)
				step *= 2;
		}
	}
	/*
	 * Deadline passed: the child is still ours (not reaped), kill it.
	 * Through the pidfd when there is one: should another thread of the
	 * host reap the child between our last waitpid() and here, its pid
	 * may already name an unrelated process, the pidfd never does.
	 */
	if (pidfd < 0 ||
	    (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) == -1 &&
	    errno != ESRCH))
		(void)kill(pid, SIGKILL);
	while ((w = waitpid(pid, statusp, 0)) == -1 && errno == EINTR)
		;
	if (w == pid)
		r = 1;
	else
		e = errno;
 out:
	if (pidfd >= 0)
		(void)close(pidfd);
	if (r == -1)
		errno = e;
	return r;
}

void
helper_run(const char *path, char *const argv[], char *const envp[],
    long timeout_ms, struct helper_result *res)
{
	struct sigaction dfl, saved_chld;
	struct timespec start, deadline;
	sigset_t all, saved_mask;
	pid_t pid;
	int pipefd[2] = { -1, -1 };
	int chld_saved = 0, maxfd, status = 0, w, e;
	ssize_t n;

	memset(res, 0, sizeof(*res));
	res->outcome = HELPER_SPAWN_FAILED;
	clock_now(&start);
	deadline_set(&deadline, timeout_ms);
	maxfd = fd_limit();

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	/* SIG_IGN would auto-reap the child; a host handler might reap it. */
	if (sigaction(SIGCHLD, &dfl, &saved_chld) == -1) {
		res->err = errno;
		goto out;
	}
	chld_saved = 1;
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) == -1) {
		res->err = errno;
		goto out;
	}

	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &saved_mask);
	pid = fork();
	if (pid == 0)
		child_exec(path, argv, envp, pipefd[1], maxfd, &dfl);
	e = errno;
	(void)pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	if (pid == -1) {
		res->err = e;
		goto out;
	}
	(void)close(pipefd[1]);
	pipefd[1] = -1;

	if ((w = child_wait(pid, &deadline, &status)) == -1) {
		res->err = errno;
		goto out;
	}
	/* The child is gone: the pipe holds its errno or nothing (exec'd). */
	n = read(pipefd[0], &e, sizeof(e));
	if (n == (ssize_t)sizeof(e)) {
		res->outcome = HELPER_EXEC_FAILED;
		res->err = e;
	} else if (w == 1) {
		res->outcome = HELPER_TIMEOUT;
	} else if (WIFEXITED(status)) {
		res->outcome = HELPER_EXITED;
		res->code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->outcome = HELPER_SIGNALED;
		res->code = WTERMSIG(status);
	}
 out:
	if (pipefd[0] != -1)
		(void)close(pipefd[0]);
	if (pipefd[1] != -1)
		(void)close(pipefd[1]);
	if (chld_saved)
		(void)sigaction(SIGCHLD, &saved_chld, NULL);
	res->elapsed_ms = clock_elapsed_ms(&start);
}
