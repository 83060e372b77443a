/*
 * samples_file: the per-request sample log's format (--samples FILE), its
 * reader and the merge of the workers' parts. Little-endian throughout.
 *
 *   header   "SURGESMP"  8 bytes magic
 *            u32 version (1), u32 record size (72 in version 1: readers skip
 *            bytes past the fields they know), u32 text length T
 *            T bytes of text, one "key value" a line: "fields" (the record's
 *            field names, in order), "every" (1 in how many requests),
 *            "start_epoch" (wall clock of the run's start), "dest I ADDR" (the
 *            destination table), "outcome I NAME"
 *   records  from 20 + T on, each of `record size` bytes:
 *      0 i64 intended_ns  since the run's start (the schedule's time; the
 *                         actual send in the closed model)
 *      8 i64 sent_ns      since the run's start
 *     16 i64 done_ns      answer (or error) time since the start; -1 none
 *     24 u32 conn         the worker's connection serial (1, 2, ...)
 *     28 u16 worker
 *     30 u8  outcome      0 answered; 1 + error class (stats.h, ffi.h
 *                         SURGE_ERR_*); SAMPLES_UNFINISHED in flight at the end
 *     31 u8  family       4, 6, or 0 when the source is unknown
 *     32 u8[16] src       source address (IPv4 in the first 4 bytes)
 *     48 u16 src_port
 *     50 u16 (zero)
 *     52 u32 dest         index in the header's destination table
 *     56 i32 status       the protocol's status (surge.status), -1 none
 *     60 u32 bytes_in     answer bytes
 *     64 u32 bytes_out    request bytes
 *     68 u32 (zero)
 * The latency the report records for an answered request is done - intended.
 */
#ifndef SURGE_SAMPLES_FILE_H
#define SURGE_SAMPLES_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SAMPLES_MAGIC "SURGESMP"
#define SAMPLES_VERSION 1
#define SAMPLES_RECORD_SIZE 72
#define SAMPLES_FIXED_HEADER 20
#define SAMPLES_TEXT_MAX (1u << 20)
#define SAMPLES_UNFINISHED 255
#define SAMPLES_FIELDS                                                                          \
	"intended_ns,sent_ns,done_ns,conn,worker,outcome,family,src,src_port,dest,status,"      \
	"bytes_in,bytes_out"

struct samples_record {
	int64_t intended_ns, sent_ns, done_ns;
	uint32_t conn;
	uint16_t worker;
	uint8_t outcome;
	uint8_t family;
	uint8_t src[16];
	uint16_t src_port;
	uint32_t dest;
	int32_t status;
	uint32_t bytes_in, bytes_out;
};

/* Encodes r into out (SAMPLES_RECORD_SIZE bytes). */
void samples_record_encode(const struct samples_record *r, uint8_t *out);
/* Decodes a record of at least SAMPLES_RECORD_SIZE bytes. */
void samples_record_decode(const uint8_t *p, struct samples_record *r);

/* Writes the header (text: the lines after "fields", each ending in '\n').
 * 0 or -errno. */
int samples_header_write(FILE *f, const char *text);

/* A parsed file held in memory or read from one. */
struct samples_header {
	uint32_t version, record_size;
	const char *text; /* not NUL-terminated: text_len bytes */
	uint32_t text_len;
	size_t data_off; /* where the records begin */
};

/* Checks the header at buf (len bytes available): 0 and *h, or -EINVAL with
 * err saying what is wrong (bad magic, an unknown version, a record size below
 * version 1's, a text longer than the file). */
int samples_header_parse(const uint8_t *buf, size_t len, struct samples_header *h, char *err,
			 size_t errlen);

/* The destination label for index i from the header text ("?" when absent). */
void samples_header_dest(const struct samples_header *h, uint32_t i, char *out, size_t outlen);

/* One record as a CSV line (no header line), with outcome and addresses as
 * text, dest as the header's label. */
void samples_record_csv(FILE *f, const struct samples_header *h, const struct samples_record *r);
/* The CSV header line. */
void samples_csv_header(FILE *f);

/* Concatenates the records of parts[0..n) (each a whole samples file, as the
 * workers write them) under parts[0]'s header into path, then removes the
 * parts. path is replaced by parts[0] renamed (beside it, on its file
 * system), or with in_place (a FIFO, a device) opened and written into.
 * 0 or -errno, err naming the file; the parts stay on failure. */
int samples_merge(const char *path, bool in_place, char *const *parts, size_t n, char *err,
		  size_t errlen);

/* Writes the samples file bin as CSV (samples_csv_header, then a line a
 * record) to csv. 0 or -errno with err naming the file. */
int samples_csv_file(const char *bin, const char *csv, char *err, size_t errlen);

/* `surge samples FILE [--csv]`: a summary, or every record as CSV. */
int samples_main(int argc, char **argv);

#endif
