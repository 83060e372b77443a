/*
 * buf: a growable byte buffer with a consumed head — the one type behind
 * every queue of bytes surge keeps (a connection's partial reads and
 * unwritten output, a pipe's partial messages, an encoded interval, the
 * server's per-connection queues). Live bytes are data[head, head + len).
 * Sizes are 32-bit: a connection pays 16 bytes per buffer, nothing when
 * empty and released.
 */
#ifndef SURGE_BUF_H
#define SURGE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	uint32_t head, len, cap;
};

static inline uint8_t *buf_start(const struct buf *b)
{
	return b->data + b->head;
}

/* Room for `more` bytes after the live ones: moves them to the front when
 * that makes room, else grows (doubling, from 4 KiB). Returns 0, -ENOMEM,
 * or -EMSGSIZE past 4 GiB. */
int buf_reserve(struct buf *b, size_t more);
/* Appends n bytes. Returns 0, or what buf_reserve returned. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends printf's output, a NUL kept after it (not counted in len), so a
 * buffer built only this way is a C string. Returns 0, -EINVAL (a bad
 * format), or what buf_reserve returned. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends n bytes to an empty, released buffer in an allocation of exactly
 * n bytes (a short-lived copy: later growth doubles from there). Returns 0
 * or -ENOMEM; an empty n leaves the buffer released. */
int buf_append_exact(struct buf *b, const void *p, size_t n);
/* Drops n bytes from the front (n <= len); an emptied buffer starts again
 * at the front. */
void buf_consume(struct buf *b, size_t n);
/* Gives the memory back; the buffer is empty and usable again. NULL-safe. */
void buf_free(struct buf *b);

#endif
