/* addrset_parse on hostile --bind specs: 0, -EINVAL, -ERANGE or -ENOMEM with
 * a message, the set unchanged on error. An accepted set answers addrset_at
 * for its first and last address of each family, and every picker picks
 * inside it. The same text goes to the port-range and picker-name parsers. */
#include <errno.h>

#include "addrset.h"
#include "fuzz.h"

static void check_family(struct addrset *s, int slot)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char text[64];
	uint64_t n = addrset_size(s, slot);

	if (n == 0)
		return;
	FUZZ_CHECK(addrset_at(s, slot, 0, &ss, &len) == 0);
	addrset_ntop(&ss, text, sizeof(text));
	FUZZ_CHECK(addrset_at(s, slot, n - 1, &ss, &len) == 0);
	addrset_ntop(&ss, text, sizeof(text));
	FUZZ_CHECK(addrset_at(s, slot, n, &ss, &len) == -ERANGE);
	for (int mode = ADDRSET_ROUND_ROBIN; mode <= ADDRSET_PERMUTATION; mode++) {
		struct addrset_ports ports = { 20000, 20099 };
		struct addrset_picker p;
		if (addrset_picker_init(&p, s, (enum addrset_pick)mode, 7, 1, 3, &ports, false) < 0)
			continue;
		for (uint32_t k = 0; k < 8; k++) {
			uint64_t idx;
			uint16_t port;
			if (addrset_pick(&p, slot, k % 3, &idx, &port) == 0) {
				FUZZ_CHECK(idx < n);
				FUZZ_CHECK(port == 0 || (port >= ports.lo && port <= ports.hi));
			}
		}
		addrset_picker_free(&p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = fuzz_cstr(data, size), err[256];
	struct addrset s = { 0 };
	struct addrset_ports ports;
	enum addrset_pick pick;

	if (!spec)
		return 0;
	err[0] = '\0';
	int rc = addrset_parse(&s, spec, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE || rc == -ENOMEM);
	FUZZ_CHECK(rc == 0 || err[0]);
	FUZZ_CHECK((addrset_validate(spec, err, sizeof(err)) == 0) == (rc == 0));
	if (rc == 0) {
		FUZZ_CHECK(addrset_total(&s) >= addrset_size(&s, ADDRSET_V4));
		check_family(&s, ADDRSET_V4);
		check_family(&s, ADDRSET_V6);
		/* Parsing the same entries again must be refused: they overlap. */
		if (addrset_total(&s) && addrset_parse(&s, spec, err, sizeof(err)) == 0)
			FUZZ_CHECK(!"an entry overlapping itself was accepted");
	} else {
		FUZZ_CHECK(addrset_total(&s) == 0);
	}
	addrset_free(&s);
	if (addrset_ports_parse(spec, &ports, err, sizeof(err)) == 0) {
		FUZZ_CHECK(ports.lo >= 1 && ports.lo <= ports.hi);
		FUZZ_CHECK(addrset_ports_count(&ports) == (uint32_t)(ports.hi - ports.lo + 1));
	}
	if (addrset_pick_parse(spec, &pick) == 0)
		FUZZ_CHECK(strcmp(addrset_pick_name(pick), spec) == 0);
	free(spec);
	return 0;
}
