/* late: see late.h. */
#include "late.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LATE_MIN_CAP 64u

void late_init(struct late_table *t)
{
	memset(t, 0, sizeof(*t));
}

void late_free(struct late_table *t)
{
	free(t->e);
	late_init(t);
}

static bool alive(const struct late_entry *e, uint64_t now)
{
	return e->owed > 0 && e->until >= now;
}

/* Never filled: where a probe ends. A dead entry keeps its `until`. */
static bool unused(const struct late_entry *e)
{
	return e->owed == 0 && e->until == 0;
}

static uint32_t home(uint32_t cap, uint32_t conn, double key)
{
	uint64_t bits;

	if (key == 0)
		key = 0; /* -0.0 is the same key */
	memcpy(&bits, &key, sizeof(bits));
	uint64_t z = bits ^ ((uint64_t)conn * 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(z ^ (z >> 31)) & (cap - 1);
}

/* Into a table of at least four times the live entries, the dead left out. */
static int rebuild(struct late_table *t, uint64_t now)
{
	uint32_t live = 0;

	for (uint32_t i = 0; i < t->cap; i++)
		live += alive(&t->e[i], now);
	uint32_t cap = LATE_MIN_CAP;
	while (cap < (live + 1) * 4) {
		if (cap > UINT32_MAX / 4)
			return -ENOMEM;
		cap *= 2;
	}
	struct late_entry *e = calloc(cap, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->cap; i++) {
		if (!alive(&t->e[i], now))
			continue;
		uint32_t j = home(cap, t->e[i].conn, t->e[i].key);
		while (!unused(&e[j]))
			j = (j + 1) & (cap - 1);
		e[j] = t->e[i];
	}
	free(t->e);
	t->e = e;
	t->cap = cap;
	t->used = live;
	return 0;
}

int late_expect(struct late_table *t, uint32_t conn, double key, uint32_t answers,
		uint64_t until, uint64_t now)
{
	if (answers == 0)
		return 0;
	/* At most half filled: every probe meets an unused entry. */
	if ((uint64_t)(t->used + 1) * 2 > t->cap && rebuild(t, now) < 0)
		return -ENOMEM;
	uint32_t mask = t->cap - 1, i = home(t->cap, conn, key), dead = UINT32_MAX;
	for (; !unused(&t->e[i]); i = (i + 1) & mask) {
		struct late_entry *e = &t->e[i];
		if (!alive(e, now)) {
			if (dead == UINT32_MAX)
				dead = i;
		} else if (e->conn == conn && e->key == key) {
			/* The same ID settled again before the first one's
			 * answers came: owed together, until the later end. */
			e->owed += answers;
			if (until > e->until)
				e->until = until;
			return 0;
		}
	}
	if (dead == UINT32_MAX)
		t->used++;
	else
		i = dead;
	t->e[i] = (struct late_entry){.key = key, .until = until, .conn = conn, .owed = answers};
	return 0;
}

bool late_take(struct late_table *t, uint32_t conn, double key, uint64_t now)
{
	if (!t->cap)
		return false;
	uint32_t mask = t->cap - 1;
	for (uint32_t i = home(t->cap, conn, key); !unused(&t->e[i]); i = (i + 1) & mask) {
		struct late_entry *e = &t->e[i];
		if (alive(e, now) && e->conn == conn && e->key == key) {
			e->owed--;
			return true;
		}
	}
	return false;
}
