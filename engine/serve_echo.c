/* serve_echo: RFC 862 over TCP — every byte back, in order, as it arrives. */
#include "serve.h"

static ssize_t echo_input(struct serve_conn *c, void *state, const uint8_t *in, size_t len)
{
	if (serve_conn_reply(c, in, len))
		return -1;
	return (ssize_t)len;
}

const struct serve_proto serve_echo_proto = {
	.name = "echo",
	.usage = "  (none: echo answers every byte with the same byte)\n",
	.on_input = echo_input,
};
