/* buf: append, consume from the front, compaction before growth, release,
 * exact-size appends. */
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

int main(void)
{
	struct buf b = {0};
	char big[5000];

	memset(big, 'x', sizeof(big));
	is_int(buf_append(&b, "hello", 5), 0, "append to an empty buffer");
	ok(b.len == 5 && b.cap == 4096 && memcmp(buf_start(&b), "hello", 5) == 0, "first growth: 4 KiB");
	buf_consume(&b, 2);
	ok(b.head == 2 && b.len == 3 && memcmp(buf_start(&b), "llo", 3) == 0, "consume moves the head");
	buf_consume(&b, 3);
	ok(b.head == 0 && b.len == 0 && b.cap == 4096, "emptied: back to the front, memory kept");

	buf_append(&b, big, 4000);
	buf_consume(&b, 3990);
	uint8_t *before = b.data;
	is_int(buf_append(&b, big, 100), 0, "append past the end with room at the front");
	ok(b.data == before && b.head == 0 && b.cap == 4096 && b.len == 110,
	   "compacts instead of growing");
	is_int(buf_append(&b, big, sizeof(big)), 0, "append past the capacity");
	ok(b.cap == 8192 && b.len == 110 + sizeof(big), "grows by doubling");
	is_int(buf_reserve(&b, (size_t)UINT32_MAX + 1), -EMSGSIZE, "more than 4 GiB is refused");
	ok(b.len == 110 + sizeof(big), "and the buffer is untouched");
	buf_free(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "free gives the memory back");
	is_int(buf_append(&b, "x", 1), 0, "usable again after free");
	buf_free(&b);

	/* a session's read: exactly the bytes read, growth doubles from there */
	is_int(buf_append_exact(&b, "hello", 5), 0, "exact append to a released buffer");
	ok(b.cap == 5 && b.len == 5 && memcmp(buf_start(&b), "hello", 5) == 0, "allocates exactly 5 bytes");
	is_int(buf_append(&b, "!", 1), 0, "append after an exact one");
	ok(b.cap == 10 && b.len == 6 && memcmp(buf_start(&b), "hello!", 6) == 0, "grows by doubling from it");
	is_int(buf_append_exact(&b, "x", 1), 0, "exact append to a buffer that holds bytes");
	ok(b.len == 7 && buf_start(&b)[6] == 'x', "appends like buf_append");
	buf_free(&b);
	is_int(buf_append_exact(&b, "", 0), 0, "exact append of nothing");
	ok(b.data == NULL && b.cap == 0, "leaves the buffer released");
	buf_free(NULL);
	ok(1, "free is NULL-safe");
	/* printf'd pieces make one C string, however long (past a first 4 KiB). */
	struct buf f = {0};
	is_int(buf_printf(&f, "RTSP/1.0 %d %s\r\n", 200, "OK"), 0, "printf onto an empty buffer");
	is_int(buf_printf(&f, "%.*s", (int)sizeof(big), big), 0, "and a piece longer than its first growth");
	ok(f.len == 17 + sizeof(big) && strncmp((char *)buf_start(&f), "RTSP/1.0 200 OK\r\nxxx", 20) == 0 &&
		   ((char *)buf_start(&f))[f.len] == '\0',
	   "the pieces in order, NUL after them, not counted (len %u)", f.len);
	buf_free(&f);
	return tap_done();
}
