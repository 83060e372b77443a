/* The sample log's reader (samples_file.h) on hostile bytes: the header is
 * accepted or refused with a message; an accepted one never points past the
 * input; every whole record decodes, renders as CSV and encodes back to its
 * own bytes (the reserved ones zeroed). */
#include <errno.h>

#include "fuzz.h"
#include "samples_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct samples_header h;
	char err[256] = "";
	uint8_t again[SAMPLES_RECORD_SIZE];

	int rc = samples_header_parse(data, size, &h, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || (rc == -EINVAL && err[0]));
	if (rc < 0)
		return 0;
	FUZZ_CHECK(h.data_off <= size && h.record_size >= SAMPLES_RECORD_SIZE);
	FILE *null = fopen("/dev/null", "w");
	if (!null)
		return 0;
	size_t n = (size - h.data_off) / h.record_size;
	for (size_t i = 0; i < n && i < 4096; i++) {
		const uint8_t *p = data + h.data_off + i * h.record_size;
		struct samples_record r;
		samples_record_decode(p, &r);
		samples_record_csv(null, &h, &r);
		samples_record_encode(&r, again);
		uint8_t want[SAMPLES_RECORD_SIZE];
		memcpy(want, p, sizeof(want));
		memset(want + 50, 0, 2);
		memset(want + 68, 0, 4);
		FUZZ_CHECK(memcmp(again, want, sizeof(want)) == 0);
	}
	char dest[80];
	samples_header_dest(&h, 0, dest, sizeof(dest));
	samples_header_dest(&h, 4294967295u, dest, sizeof(dest));
	fclose(null);
	return 0;
}
