#include "msglog.h"

#include <string.h>

/* FNV-1a: the kinds are few and the table is searched linearly anyway. */
static uint64_t fnv1a(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

bool msglog_first(struct msglog *m, const char *msg, size_t len)
{
	uint64_t h = fnv1a(msg, len);

	for (size_t i = 0; i < m->nkinds; i++) {
		if (m->kind[i].hash == h) {
			m->kind[i].count++;
			return false;
		}
	}
	if (m->nkinds == MSGLOG_KINDS) {
		m->unlisted++;
		return false;
	}
	const char *nl = memchr(msg, '\n', len);
	size_t hl = nl ? (size_t)(nl - msg) : len;
	if (hl >= sizeof(m->kind[0].head))
		hl = sizeof(m->kind[0].head) - 1;
	m->kind[m->nkinds].hash = h;
	m->kind[m->nkinds].count = 1;
	memcpy(m->kind[m->nkinds].head, msg, hl);
	m->kind[m->nkinds].head[hl] = '\0';
	m->nkinds++;
	return true;
}

void msglog_summary(const struct msglog *m, FILE *f)
{
	for (size_t i = 0; i < m->nkinds; i++)
		if (m->kind[i].count > 1)
			fprintf(f, "surge: repeated %llu more time%s: %s\n",
				(unsigned long long)(m->kind[i].count - 1),
				m->kind[i].count == 2 ? "" : "s", m->kind[i].head);
	if (m->unlisted)
		fprintf(f, "surge: %llu more messages of other kinds were not printed\n",
			(unsigned long long)m->unlisted);
}
