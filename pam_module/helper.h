/*
 * helper.h - run keybound-keys from inside a PAM host (sshd, sudo, login)
 * without disturbing it: clean environment, descriptors 0-2 on /dev/null
 * and nothing else, a deadline, signal dispositions restored.
 */
#ifndef KB_PAM_HELPER_H
#define KB_PAM_HELPER_H

enum helper_outcome {
	HELPER_EXITED = 0,	/* code holds the exit status */
	HELPER_SIGNALED,	/* code holds the signal number */
	HELPER_TIMEOUT,		/* deadline passed; killed and reaped */
	HELPER_EXEC_FAILED,	/* execve failed; err holds errno */
	HELPER_SPAWN_FAILED,	/* pipe, fork or wait failed; err holds errno */
};

struct helper_result {
	enum helper_outcome outcome;
	int code;
	int err;
	long elapsed_ms;
};

/*
 * Run path with argv and the environment envp, wait at most timeout_ms.
 * Always fills *res; the caller maps the outcome.  The host's descriptors,
 * signal mask and SIGCHLD disposition are as before on return.
 */
void helper_run(const char *path, char *const argv[], char *const envp[],
    long timeout_ms, struct helper_result *res);

#endif /* KB_PAM_HELPER_H */
