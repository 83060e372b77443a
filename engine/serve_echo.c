/* serve_echo: RFC 862 over TCP — every byte back, in order, as it arrives —
 * and over UDP on the same port: every datagram back to its sender. */
#include "serve.h"

#include <string.h>

static ssize_t echo_input(struct serve_conn *c, void *state, const uint8_t *in, size_t len)
{
	if (serve_conn_reply(c, in, len))
		return -1;
	return (ssize_t)len;
}

/* RFC 862 §3: a UDP echo server sends back the data of each datagram. */
static size_t echo_datagram(void *config, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
			    uint64_t *counters)
{
	if (len == 0 || len > cap)
		return 0;
	memcpy(out, in, len);
	return len;
}

const struct serve_proto serve_echo_proto = {
	.name = "echo",
	.usage = "  (none: echo answers every byte with the same byte over TCP, and every\n"
		 "  datagram with the same datagram over UDP on the same port)\n",
	.on_input = echo_input,
	.on_datagram = echo_datagram,
};
