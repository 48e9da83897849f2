/*
 * kb-sshdexec - run a program with the signal state sshd and the PAM
 * helper give it: every signal at its default disposition and none
 * blocked, whatever the test harness inherited.
 *
 *   kb-sshdexec PROGRAM [ARG...]
 *
 * exec() keeps ignored signals ignored and keeps the blocked mask, so a
 * harness that ignores SIGPIPE (as many shells and CI runners do) would
 * hide a process that dies of it.  Exit 127 if PROGRAM cannot be run.
 */
#include <sys/syscall.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * The kernel's struct sigaction; all zero is SIG_DFL with no flags and
 * an empty mask on every architecture.
 */
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned char mask[16];
};

/*
 * glibc's sigaction() refuses the two signals it keeps for itself (32 and
 * 33), so one a parent ignored stays ignored; the kernel resets them.
 */
static void
default_raw(int sig)
{
	struct kernel_sigaction k;

	memset(&k, 0, sizeof(k));
	(void)syscall(SYS_rt_sigaction, sig, &k, NULL, (size_t)(64 / 8));
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	if (argc < 2) {
		fprintf(stderr, "usage: kb-sshdexec PROGRAM [ARG...]\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* SIGKILL and SIGSTOP refuse (and are never ignored). */
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, &sa, NULL) != 0 && sig != SIGKILL &&
		    sig != SIGSTOP)
			default_raw(sig);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) != 0) {
		perror("kb-sshdexec: sigprocmask");
		return 127;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "kb-sshdexec: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
