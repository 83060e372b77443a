/* framing: where one message ends in a byte stream, for the framings the C
 * core does itself (fixed size, 2-byte big-endian length prefix, delimiter),
 * so responses are split without a call into Lua. */
#ifndef SURGE_FRAMING_H
#define SURGE_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* Length of the message starting at p (n bytes available): > 0 a whole
 * message of that many bytes (a u16 message includes its prefix, a
 * delimited one its delimiter), 0 need more bytes, -1 malformed (longer
 * than max_message, when max_message is not 0). */
long framing_measure(const struct options *o, const uint8_t *p, size_t n);

#endif
