/* retry: copies kept per in-flight slot, grown with the pool, reused. */
#include <string.h>

#include "retry.h"
#include "tap.h"

int main(void)
{
	struct retry_table t;
	const uint8_t q[] = "\x12\x34query bytes";

	retry_table_init(&t);
	ok(retry_copy_of(&t, 0) == NULL, "nothing kept: no copy");
	is_int(retry_keep(&t, 700, q, sizeof(q)), 0, "keeping slot 700 grows the table");
	ok(t.cap > 700 && retry_copy_of(&t, 699) == NULL, "slots around it have no copy");
	struct retry_copy *c = retry_copy_of(&t, 700);
	ok(c && c->len == sizeof(q) && memcmp(c->p, q, sizeof(q)) == 0 && c->tries == 0 &&
		   !c->via_tcp,
	   "the copy holds the bytes, no tries yet");
	c->tries = 2;
	c->via_tcp = 1;
	uint8_t *buf = c->p;
	is_int(retry_keep(&t, 700, (const uint8_t *)"ab", 2), 0, "the next request in the slot");
	c = retry_copy_of(&t, 700);
	ok(c->p == buf && c->len == 2 && c->tries == 0 && !c->via_tcp,
	   "reuses the buffer (no allocation) and starts over");
	uint8_t big[4096] = { 1 };
	is_int(retry_keep(&t, 700, big, sizeof(big)), 0, "a longer request grows that buffer");
	ok(retry_copy_of(&t, 700)->cap >= sizeof(big) && retry_copy_of(&t, 700)->p[0] == 1,
	   "and holds it");
	retry_table_free(&t);
	ok(t.e == NULL && t.cap == 0 && retry_copy_of(&t, 700) == NULL, "free empties the table");
	return tap_done();
}
