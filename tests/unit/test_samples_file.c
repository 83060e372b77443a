/* samples_file: the record layout round-trips, hostile headers are refused
 * with a reason, parts merge under one header (a part cut short keeps its
 * whole records), and quota shares add up to the count exactly. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quota.h"
#include "samples_file.h"
#include "tap.h"

static size_t file_size(const char *p)
{
	FILE *f = fopen(p, "rb");
	long n = -1;
	if (f && fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	if (f)
		fclose(f);
	return n < 0 ? 0 : (size_t)n;
}

static int write_part(const char *path, int records, size_t extra_bytes)
{
	FILE *f = fopen(path, "wb");
	uint8_t rec[SAMPLES_RECORD_SIZE];
	if (!f || samples_header_write(f, "every 1\ndest 0 127.0.0.1:7000\n") < 0)
		return -1;
	for (int i = 0; i < records; i++) {
		struct samples_record r = {.intended_ns = i, .sent_ns = i, .done_ns = i + 5,
					   .conn = 1, .status = -1};
		samples_record_encode(&r, rec);
		fwrite(rec, 1, sizeof(rec), f);
	}
	fwrite(rec, 1, extra_bytes, f); /* a record cut short */
	return fclose(f);
}

int main(void)
{
	struct samples_record r = {.intended_ns = -3, .sent_ns = 1234567890123ll,
				   .done_ns = -1, .conn = 0xdeadbeef, .worker = 1023,
				   .outcome = 255, .family = 6, .src_port = 65535,
				   .dest = 7, .status = -1, .bytes_in = 9, .bytes_out = 4000000000u};
	struct samples_record back;
	uint8_t buf[SAMPLES_RECORD_SIZE];
	memset(r.src, 0xab, sizeof(r.src));
	samples_record_encode(&r, buf);
	samples_record_decode(buf, &back);
	ok(back.intended_ns == r.intended_ns && back.sent_ns == r.sent_ns &&
	   back.done_ns == r.done_ns && back.conn == r.conn && back.worker == r.worker &&
	   back.outcome == r.outcome && back.family == r.family &&
	   memcmp(back.src, r.src, 16) == 0 && back.src_port == r.src_port &&
	   back.dest == r.dest && back.status == r.status && back.bytes_in == r.bytes_in &&
	   back.bytes_out == r.bytes_out, "a record round-trips field for field");
	ok(buf[0] == 0xfd && buf[28] == 0xff && buf[29] == 0x03, "little-endian at the documented offsets");

	char dir[] = "/tmp/surge-samples-XXXXXX", p0[64], p1[64], out[64], err[256];
	struct samples_header h;
	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(p0, sizeof(p0), "%s/s.w0", dir);
	snprintf(p1, sizeof(p1), "%s/s.w1", dir);
	snprintf(out, sizeof(out), "%s/s", dir);
	ok(write_part(p0, 3, 0) == 0 && write_part(p1, 2, 10) == 0, "two parts written");
	char *parts[] = {p0, p1};
	is_int(samples_merge(out, false, parts, 2, err, sizeof(err)), 0, "the parts merge");
	ok(access(p0, F_OK) < 0 && access(p1, F_OK) < 0, "and are removed");
	FILE *f = fopen(out, "rb");
	uint8_t whole[4096];
	size_t n = f ? fread(whole, 1, sizeof(whole), f) : 0;
	if (f)
		fclose(f);
	is_int(samples_header_parse(whole, n, &h, err, sizeof(err)), 0, "the merged header parses");
	is_int((n - h.data_off) / h.record_size, 5, "3 + 2 whole records, the cut one left out");
	is_int((n - h.data_off) % h.record_size, 0, "nothing partial");
	char label[64];
	samples_header_dest(&h, 0, label, sizeof(label));
	ok(strcmp(label, "127.0.0.1:7000") == 0, "destination 0 named by the header (%s)", label);
	samples_header_dest(&h, 1, label, sizeof(label));
	ok(strcmp(label, "?") == 0, "an unknown destination is ?");
	ok(file_size(out) == n, "read whole");

	uint8_t bad[64];
	memcpy(bad, whole, sizeof(bad));
	memcpy(bad, "SURGEXXX", 8);
	is_int(samples_header_parse(bad, sizeof(bad), &h, err, sizeof(err)), -EINVAL, "bad magic");
	ok(strstr(err, "not a surge samples file") != NULL, "... says so (%s)", err);
	memcpy(bad, whole, sizeof(bad));
	bad[8] = 2;
	is_int(samples_header_parse(bad, sizeof(bad), &h, err, sizeof(err)), -EINVAL, "version 2");
	ok(strstr(err, "version 2") != NULL, "... names it (%s)", err);
	memcpy(bad, whole, sizeof(bad));
	bad[12] = 8;
	is_int(samples_header_parse(bad, sizeof(bad), &h, err, sizeof(err)), -EINVAL,
	       "a record smaller than version 1's");
	memcpy(bad, whole, sizeof(bad));
	bad[18] = 1; /* text of 65536+ bytes in a 64-byte file */
	is_int(samples_header_parse(bad, sizeof(bad), &h, err, sizeof(err)), -EINVAL,
	       "header text past the end");
	is_int(samples_header_parse(whole, 10, &h, err, sizeof(err)), -EINVAL, "too short");
	unlink(out);
	rmdir(dir);

	int exact = 1;
	for (uint64_t total = 0; total < 50; total++)
		for (uint32_t count = 1; count < 9; count++) {
			uint64_t sum = 0;
			for (uint32_t k = 0; k < count; k++) {
				uint64_t s = quota_share(total, k, count), own = 0;
				for (uint64_t i = k; i < total; i += count)
					own++; /* the schedule indices worker k takes */
				exact &= s == own;
				sum += s;
			}
			exact &= sum == total;
		}
	ok(exact, "quota shares are the schedule's first N, worker by worker, and sum to N");
	return tap_done();
}
