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
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	/* SIGKILL and SIGSTOP refuse; glibc's internal signals too. */
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) != 0) {
		perror("kb-sshdexec: sigprocmask");
		return 127;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "kb-sshdexec: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
