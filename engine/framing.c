/* framing: see framing.h. */
#include "framing.h"

#include <string.h>

long framing_measure(const struct options *o, const uint8_t *p, size_t n)
{
	size_t len;
	switch (o->framing) {
	case FRAME_FIXED:
		return n >= o->frame_size ? (long)o->frame_size : 0;
	case FRAME_U16:
		/* RFC 1035 4.2.2 style: the prefix counts the bytes after it. */
		if (n < 2)
			return 0;
		len = ((size_t)p[0] << 8 | p[1]) + 2;
		if (o->max_message && len > o->max_message)
			return FRAMING_OVERSIZED; /* refused at once, not after the bytes */
		return n >= len ? (long)len : 0;
	case FRAME_DELIM: {
		const uint8_t *d = o->delim_len && n >= o->delim_len ? memmem(p, n, o->delim, o->delim_len) : NULL;
		if (!d)
			return o->max_message && n > o->max_message ? FRAMING_OVERSIZED : 0;
		len = (size_t)(d - p) + o->delim_len;
		return o->max_message && len > o->max_message ? FRAMING_OVERSIZED : (long)len;
	}
	default:
		return (long)n;
	}
}
