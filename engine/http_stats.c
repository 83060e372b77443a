/* http_stats: see http_stats.h. */
#include "http_stats.h"

#include <stdio.h>

/* The counter's id, looked up (and registered) the first time. -1 when the
 * stats cannot take another name. */
static int id_of(uint16_t *slot, struct stats *s, const char *name)
{
	if (*slot)
		return *slot - 1;
	int id = stats_counter_id(s, name);
	if (id < 0 || id >= UINT16_MAX)
		return -1;
	*slot = (uint16_t)(id + 1);
	return id;
}

static void bump(uint16_t *slot, struct stats *s, const char *name, int64_t n)
{
	int id = id_of(slot, s, name);
	if (id >= 0)
		s->ncounter[id].value += n;
}

void http_stats_answer(struct http_stats *h, struct stats *s, const struct http_response *r)
{
	char name[32];
	unsigned code = r->status < 600 ? r->status : 0, cls = code / 100;

	if (!h->status[code]) {
		snprintf(name, sizeof(name), "http.status.%u", code);
		id_of(&h->status[code], s, name);
	}
	if (!h->class[cls]) {
		snprintf(name, sizeof(name), "http.status.%uxx", cls);
		id_of(&h->class[cls], s, name);
	}
	if (h->status[code])
		s->ncounter[h->status[code] - 1].value++;
	if (h->class[cls])
		s->ncounter[h->class[cls] - 1].value++;
	if (r->body_bytes)
		bump(&h->body, s, "http.body_bytes", (int64_t)r->body_bytes);
}

void http_stats_closed(struct http_stats *h, struct stats *s)
{
	bump(&h->closed, s, "http.closed_by_server", 1);
}
