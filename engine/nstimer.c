/* nstimer: a one-shot timer on a timerfd (nstimer.h). */
#include "nstimer.h"

#include <errno.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

int nstimer_init(struct nstimer *t, struct ev_loop *loop, void (*cb)(struct ev_loop *, ev_io *, int))
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	t->armed_at = 0;
	ev_io_init(&t->io, cb, fd, EV_READ);
	if (fd < 0)
		return -errno;
	/* Before the I/O of the same loop turn, as libev runs its timers: an
	 * expiry reads its connection itself and judges each read by the
	 * kernel's stamp (conn_read_arrived, dgram_read_arrived_by), where the
	 * I/O callback would complete an answer received past its deadline. */
	ev_set_priority(&t->io, EV_MAXPRI);
	ev_io_start(loop, &t->io);
	return 0;
}

void nstimer_free(struct nstimer *t, struct ev_loop *loop)
{
	if (t->io.fd < 0)
		return;
	ev_io_stop(loop, &t->io);
	close(t->io.fd);
	t->io.fd = -1;
	t->armed_at = 0;
}

void nstimer_set(struct nstimer *t, uint64_t at)
{
	struct itimerspec its = {0};

	if (t->io.fd < 0)
		return; /* freed: the loop no longer watches it */
	its.it_value.tv_sec = (time_t)(at / NS_PER_SEC);
	its.it_value.tv_nsec = (long)(at % NS_PER_SEC);
	timerfd_settime(t->io.fd, TFD_TIMER_ABSTIME, &its, NULL);
	t->armed_at = at;
}

bool nstimer_due(struct nstimer *t, uint64_t now)
{
	if (t->armed_at && t->armed_at <= now) {
		t->armed_at = 0;
		return true;
	}
	/* Set again for later (which cleared the firing): nothing to do. */
	if (t->armed_at == 0)
		nstimer_set(t, 0); /* readable while disarmed: never leave it so */
	return false;
}

void nstimer_settle(struct nstimer *t)
{
	if (t->armed_at == 0)
		nstimer_set(t, 0);
}
