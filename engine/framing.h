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
 * delimited one its delimiter), 0 need more bytes, FRAMING_OVERSIZED
 * longer than max_message (when it is not 0), whole or not: a u16 prefix
 * announcing more, a delimiter past it or none within it. Fixed messages
 * are not checked (the scenario loader refuses a size above max_message);
 * conn.c checks every whole message's length, for the Lua and HTTP kinds. */
#define FRAMING_OVERSIZED (-3) /* apart from FRAME_SCRIPT_ERROR (-2) */
long framing_measure(const struct options *o, const uint8_t *p, size_t n);

#endif
