#include "msglog.h"

#include <string.h>

/* FNV-1a of the message's first line with every run of digits after its
 * first word read as one '#': "x.lua:9: bad id 17" and "x.lua:9: bad id
 * 4242" are one kind, so an error that quotes a changing value does not fill
 * the table, while "x.lua:9:" and "x.lua:30:" stay apart. */
static uint64_t kind_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	bool in_digits = false, first_word = true;

	for (size_t i = 0; i < len && s[i] != '\n'; i++) {
		first_word = first_word && s[i] != ' ';
		bool digit = !first_word && s[i] >= '0' && s[i] <= '9';
		if (digit && in_digits)
			continue;
		in_digits = digit;
		h ^= digit ? (unsigned char)'#' : (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

bool msglog_first(struct msglog *m, const char *msg, size_t len)
{
	uint64_t h = kind_hash(msg, len);

	for (size_t i = 0; i < m->nkinds; i++) {
		if (m->kind[i].hash == h) {
			m->kind[i].count++;
			return false;
		}
	}
	if (m->nkinds == MSGLOG_KINDS) {
		/* Still printed, so a late message of a new kind is not hidden,
		 * up to as many again. */
		return ++m->unlisted <= MSGLOG_KINDS;
	}
	const char *nl = memchr(msg, '\n', len);
	size_t hl = nl ? (size_t)(nl - msg) : len;
	/* A head cut short says so: the summary line must not read as the
	 * whole message ("... connect errors, or co"). */
	bool cut = hl >= sizeof(m->kind[0].head);
	if (cut)
		hl = sizeof(m->kind[0].head) - 4;
	m->kind[m->nkinds].hash = h;
	m->kind[m->nkinds].count = 1;
	memcpy(m->kind[m->nkinds].head, msg, hl);
	memcpy(m->kind[m->nkinds].head + hl, cut ? "..." : "", cut ? 4 : 1);
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
	if (m->unlisted > MSGLOG_KINDS)
		fprintf(f, "surge: %llu more messages of other kinds were not printed\n",
			(unsigned long long)(m->unlisted - MSGLOG_KINDS));
}
