/* buf: growable byte buffers with a consumed head. */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_FIRST_CAP 4096

int buf_reserve(struct buf *b, size_t more)
{
	if ((size_t)b->head + b->len + more <= b->cap)
		return 0;
	if (b->head && (size_t)b->len + more <= b->cap) {
		memmove(b->data, b->data + b->head, b->len);
		b->head = 0;
		return 0;
	}
	if ((size_t)b->len + more > UINT32_MAX)
		return -EMSGSIZE;
	size_t cap = b->cap ? b->cap : BUF_FIRST_CAP;
	while (cap < (size_t)b->len + more)
		cap *= 2;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	if (b->head) {
		memmove(b->data, b->data + b->head, b->len);
		b->head = 0;
	}
	uint8_t *d = realloc(b->data, cap);
	if (!d)
		return -ENOMEM;
	b->data = d;
	b->cap = (uint32_t)cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int rc = buf_reserve(b, n);

	if (rc < 0)
		return rc;
	if (n)
		memcpy(b->data + b->head + b->len, p, n);
	b->len += (uint32_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	int rc = buf_reserve(b, (size_t)n + 1);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->head + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (uint32_t)n;
	return 0;
}

int buf_append_exact(struct buf *b, const void *p, size_t n)
{
	if (b->cap || n == 0 || n > UINT32_MAX)
		return n > UINT32_MAX ? -EMSGSIZE : buf_append(b, p, n);
	b->data = malloc(n);
	if (!b->data)
		return -ENOMEM;
	memcpy(b->data, p, n);
	b->head = 0;
	b->len = b->cap = (uint32_t)n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	b->head += (uint32_t)n;
	b->len -= (uint32_t)n;
	if (b->len == 0)
		b->head = 0;
}

void buf_free(struct buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->head = b->len = b->cap = 0;
}
