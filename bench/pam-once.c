/*
 * pam-once.c - one password attempt through libpam, timed from inside.
 *
 *   pam-once CONFDIR SERVICE USER
 *
 * Runs pam_authenticate once for USER with the stack CONFDIR/SERVICE
 * (pam_start_confdir: /etc/pam.d is never read), answering any password
 * prompt with a wrong password, and prints "result=NAME" and "ms=FLOAT",
 * the time pam_authenticate took.  Exit 0 when the stack refused the
 * attempt (what pam_keybound must do for a user with an attached key
 * pair), 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_appl.h>

static int
answer(int n, const struct pam_message **msg, struct pam_response **resp,
    void *data __attribute__((unused)))
{
	struct pam_response *r;
	int i;

	if (n <= 0 || (r = calloc((size_t)n, sizeof(*r))) == NULL)
		return PAM_CONV_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF ||
		    msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			r[i].resp = strdup("not-the-password");
	}
	*resp = r;
	return PAM_SUCCESS;
}

int
main(int argc, char **argv)
{
	struct pam_conv conv = { answer, NULL };
	struct timespec a, b;
	pam_handle_t *ph = NULL;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: pam-once CONFDIR SERVICE USER\n");
		return 2;
	}
	if (pam_start_confdir(argv[2], argv[3], &conv, argv[1], &ph) !=
	    PAM_SUCCESS)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = pam_authenticate(ph, 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("result=%s\nms=%.3f\n", pam_strerror(ph, r),
	    (double)(b.tv_sec - a.tv_sec) * 1e3 +
	    (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	pam_end(ph, r);
	return r == PAM_AUTH_ERR ? 0 : 1;
}
