/* hist_base64_decode (RFC 4648 4) on hostile text: it accepts or returns
 * -EINVAL, and what it accepts survives a round trip. The input is also
 * encoded, which must decode back to exactly the input. */
#include <errno.h>

#include "fuzz.h"
#include "surge/hist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL, *back = NULL;
	char *text = NULL;
	size_t outlen, backlen;

	int rc = hist_base64_decode((const char *)data, size, &out, &outlen);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc == 0) {
		FUZZ_CHECK(outlen <= size / 4 * 3);
		if (hist_base64_encode(out, outlen, &text) == 0) {
			FUZZ_CHECK(hist_base64_decode(text, strlen(text), &back, &backlen) == 0);
			FUZZ_CHECK(backlen == outlen && memcmp(back, out, outlen) == 0);
			free(back);
			free(text);
		}
		free(out);
	}
	if (hist_base64_encode(data, size, &text) == 0) {
		FUZZ_CHECK(strlen(text) == (size + 2) / 3 * 4);
		FUZZ_CHECK(hist_base64_decode(text, strlen(text), &back, &backlen) == 0);
		FUZZ_CHECK(backlen == size && memcmp(back, data, size) == 0);
		free(back);
		free(text);
	}
	return 0;
}
