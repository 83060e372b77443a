/*
 * report_addrs: the per-address tables every report shows — each destination
 * address (from the "dest:<label>:*" metrics dest.c keeps) and each source
 * address (from the per-source counters the workers keep for --bind).
 */
#include <string.h>

#include "addrset.h"
#include "dest.h"
#include "report.h"

bool report_is_dest_stat(const char *name)
{
	return strncmp(name, DEST_STAT_PREFIX, sizeof(DEST_STAT_PREFIX) - 1) == 0;
}

bool report_next_dest(const struct stats *s, size_t *cursor, struct report_dest *row)
{
	static const size_t pl = sizeof(DEST_STAT_PREFIX) - 1;
	char name[STATS_NAME_MAX];

	for (size_t i = *cursor; i < s->nncounter; i++) {
		const char *nm = s->ncounter[i].name;
		size_t len = strlen(nm);
		if (!report_is_dest_stat(nm) || len < pl + 6 || strcmp(nm + len - 6, ":conns") != 0)
			continue;
		int ll = (int)(len - pl - 6);
		snprintf(row->label, sizeof(row->label), "%.*s", ll, nm + pl);
		row->conns = s->ncounter[i].value;
		snprintf(name, sizeof(name), DEST_STAT_PREFIX "%.*s:failed", ll, nm + pl);
		row->failed = stats_counter_by_name(s, name);
		snprintf(row->latency_key, sizeof(row->latency_key), DEST_STAT_PREFIX "%.*s:latency",
			 ll, nm + pl);
		row->latency = stats_hist_by_name(s, row->latency_key);
		*cursor = i + 1;
		return true;
	}
	*cursor = s->nncounter;
	return false;
}

size_t report_count_dests(const struct stats *s)
{
	struct report_dest d;
	size_t cursor = 0, n = 0;

	while (report_next_dest(s, &cursor, &d))
		n++;
	return n;
}

bool report_source_addr(const struct options *o, uint32_t i, char *buf, size_t len)
{
	struct sockaddr_storage a;
	socklen_t alen;

	if (!o->bind || addrset_at_global(o->bind, i, &a, &alen) < 0)
		return false;
	addrset_ntop(&a, buf, len);
	return true;
}
