/* backlog: the ring of requests waiting for a connection (backlog.h). */
#include "backlog.h"

#include <errno.h>
#include <stdlib.h>

int backlog_init(struct backlog *b, uint32_t cap)
{
	b->head = b->len = 0;
	b->cap = cap ? cap : 1;
	b->due = calloc(b->cap, sizeof(*b->due));
	return b->due ? 0 : -ENOMEM;
}

void backlog_free(struct backlog *b)
{
	free(b->due);
	b->due = NULL;
	b->head = b->len = b->cap = 0;
}
