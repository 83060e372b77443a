/* serve_dns_answer on hostile queries: a reply that fits the buffer, keeps
 * the query's ID and says what it is (FORMERR for what is not a query). The first byte picks
 * a configuration (default, no NXDOMAIN suffix, a deep suffix) and whether
 * the buffer is the 512 bytes the header promises always suffice, and
 * whether the reply is for UDP (TC above 512 or the query's EDNS size). */
#include "fuzz.h"
#include "serve_dns.h"

#include <stdbool.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct serve_dns_config cfg[3];
	bool tc;
	static int ready;
	static uint8_t out[65536];
	char err[256];
	enum serve_dns_kind kind;

	if (!ready++) {
		for (int i = 0; i < 3; i++)
			serve_dns_config_init(&cfg[i]);
		serve_dns_config_set(&cfg[1], "nxdomain", "none", err, sizeof(err));
		serve_dns_config_set(&cfg[2], "nxdomain", "a.b.c.d.e.f.example.", err, sizeof(err));
		serve_dns_config_set(&cfg[2], "ttl", "0", err, sizeof(err));
		serve_dns_config_set(&cfg[2], "records", "40", err, sizeof(err)); /* TC over UDP */
	}
	uint8_t mode = fuzz_byte(&data, &size);
	size_t cap = mode & 4 ? 512 : sizeof(out);
	/* An exact-size copy, so ASan sees a read past the query. */
	uint8_t *q = malloc(size ? size : 1);
	if (!q)
		return 0;
	memcpy(q, data, size);
	size_t n = mode & 8 ? serve_dns_answer_udp(&cfg[(mode & 3) % 3], q, size, out, cap, &kind, &tc)
			    : serve_dns_answer(&cfg[(mode & 3) % 3], q, size, out, cap, &kind);
	FUZZ_CHECK(n <= cap);
	/* Over UDP without OPT in the reply, never more than 512 (RFC 1035 §4.2.1). */
	FUZZ_CHECK(!(mode & 8) || n < 12 || out[11] != 0 || n <= 512);
	if (n > 0) {
		FUZZ_CHECK(n >= 12);
		FUZZ_CHECK(size < 2 || (out[0] == q[0] && out[1] == q[1])); /* the ID echoed */
		FUZZ_CHECK(out[2] & 0x80);                                   /* QR: a response */
		FUZZ_CHECK(kind >= SERVE_DNS_ANSWER && kind <= SERVE_DNS_BADVERS);
	}
	free(q);
	return 0;
}
