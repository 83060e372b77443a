/*
 * msglog: the coordinator's filter for what workers say. A script error in a
 * request callback repeats for every request: the first of each message is
 * printed, the rest are counted, and the counts are summed up once at the end.
 * A kind is the first line with the numbers after its first word (the
 * file:line of a Lua error) left out.
 */
#ifndef SURGE_MSGLOG_H
#define SURGE_MSGLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MSGLOG_KINDS 64

struct msglog {
	struct {
		uint64_t hash, count;
		char head[160]; /* the message's first line, for the summary */
	} kind[MSGLOG_KINDS];
	size_t nkinds;
	uint64_t unlisted; /* messages of kinds beyond the table: the first MSGLOG_KINDS printed */
};

/* Counts msg; true when it is the first of its kind and should be printed. */
bool msglog_first(struct msglog *m, const char *msg, size_t len);
/* "surge: repeated 521 more times: FIRST LINE" for each kind seen twice or more. */
void msglog_summary(const struct msglog *m, FILE *f);

#endif
