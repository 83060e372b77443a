/* quota: this worker's share of an exact request count, and how it says the
 * share ended its run. */
#include "quota.h"

#include <errno.h>
#include <string.h>

#include "ipc.h"

void quota_init(struct quota *q, uint64_t total, uint32_t index, uint32_t count)
{
	*q = (struct quota){.share = total ? quota_share(total, index, count) : UINT64_MAX};
}

void quota_report_done(const struct quota *q, int fd, uint32_t index, uint32_t second,
		       uint64_t start_ns)
{
	struct quota_done_msg m = {0};

	if (q->ended_run) {
		m.ended_run = 1;
		m.end_ns = q->done_ns > start_ns ? q->done_ns - start_ns : 0;
	}
	ipc_send(fd, IPC_DONE, index, second, &m, sizeof(m));
}

int quota_done_decode(const void *p, size_t len, struct quota_done_msg *out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return 0;
	if (len != sizeof(*out))
		return -EINVAL;
	memcpy(out, p, sizeof(*out));
	return 0;
}
