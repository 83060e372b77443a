/* ffi: the worker-level functions Lua calls through LuaJIT's FFI
 * (include/surge/ffi.h); the per-connection ones live in conn.c. */
#include "surge/ffi.h"

#include <string.h>

#include "clock.h"
#include "worker.h"

struct surge_ctx *surge_ctxs(struct worker *w) { return w->ctxs; }
uint32_t surge_worker_index(struct worker *w) { return w->index; }
uint32_t surge_worker_slot(struct worker *w) { return w->slot; }
uint32_t surge_worker_slots(struct worker *w) { return w->slots; }
uint8_t *surge_reqbuf(struct worker *w) { return w->reqbuf; }
uint64_t surge_now_ns(void) { return clock_ns(); }

int surge_counter_id(struct worker *w, const char *name)
{
	int id = stats_counter_id(&w->stats, name);
	return id < 0 ? -1 : id;
}

int surge_metric_id(struct worker *w, const char *name)
{
	int id = stats_hist_id(&w->stats, name);
	return id < 0 ? -1 : id;
}

void surge_count(struct worker *w, int id, int64_t n)
{
	if (id >= 0 && (size_t)id < w->stats.nncounter)
		stats_counter_add(&w->stats.ncounter[id].value, n);
}

void surge_metric(struct worker *w, int id, int64_t ns)
{
	/* The histogram would keep a negative duration as 0 ns: a value no
	 * one measured is the script's error, not a sample (Lua's surge.metric
	 * refuses it first, with its line). */
	if (ns < 0) {
		w->stats.error[ERR_SCRIPT]++;
		return;
	}
	if (id >= 0 && (size_t)id < w->stats.nnhist)
		hist_record(w->stats.nhist[id].h, ns);
}

void surge_error(struct worker *w, int error_class, int64_t n)
{
	if (error_class >= 0 && error_class < ERR__COUNT)
		w->stats.error[error_class] += n;
}

void surge_status(struct worker *w, int32_t status)
{
	samples_status(w->samples, status);
}

void surge_log(struct worker *w, const char *msg)
{
	worker_log(w, "%s", msg);
}
