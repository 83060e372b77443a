/* msglog: which worker messages the coordinator prints, and the summary of
 * what it held back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msglog.h"
#include "tap.h"

static bool first(struct msglog *m, const char *s)
{
	return msglog_first(m, s, strlen(s));
}

/* The summary msglog_summary writes, as a string (free it). */
static char *summary(const struct msglog *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	msglog_summary(m, f);
	fclose(f);
	return buf;
}

int main(void)
{
	struct msglog *m = calloc(1, sizeof(*m));
	char line[128], *s;

	ok(first(m, "x.lua:12: attempt to index a nil value\nstack traceback:\n\tx.lua:12"),
	   "a new message is printed");
	ok(!first(m, "x.lua:12: attempt to index a nil value\nstack traceback:\n\tx.lua:12"),
	   "the same message again is not");
	ok(!first(m, "x.lua:12: attempt to index a nil value\nstack traceback:\n\tother"),
	   "a kind is its first line: another traceback is the same kind");
	ok(first(m, "x.lua:30: attempt to index a nil value"), "another file:line is another kind");
	ok(!first(m, "x.lua:30: attempt to index a nil value"), "... counted from then on");
	ok(first(m, "x.lua:7: bad id 17"), "a message quoting a value is printed once");
	ok(!first(m, "x.lua:7: bad id 4242"), "... and the same message with another number is not");
	ok(!first(m, "x.lua:7: bad id 0"), "numbers after the first word never split a kind");
	s = summary(m);
	ok(s && strstr(s, "surge: repeated 2 more times: x.lua:12: attempt to index a nil value\n") &&
		   strstr(s, "surge: repeated 1 more time: x.lua:30: attempt to index a nil value\n") &&
		   strstr(s, "surge: repeated 2 more times: x.lua:7: bad id 17\n") &&
		   !strstr(s, "not printed"),
	   "the summary counts each kind's repeats, with its first line");
	if (s && !strstr(s, "x.lua:7"))
		diag("%s", s);
	free(s);

	memset(m, 0, sizeof(*m));
	int printed = 0;
	for (int i = 0; i < 3 * MSGLOG_KINDS; i++) {
		snprintf(line, sizeof(line), "w: message kind %c%c", 'a' + i % 26, 'a' + i / 26);
		printed += first(m, line);
	}
	is_int(printed, 2 * MSGLOG_KINDS, "past the table, new kinds are still printed up to as many again");
	ok(!first(m, "w: message kind aa"), "a kind in the table is still recognized when full");
	s = summary(m);
	snprintf(line, sizeof(line), "surge: %d more messages of other kinds were not printed\n",
		 MSGLOG_KINDS);
	ok(s && strstr(s, line), "the summary says how many were not printed");
	free(s);

	/* A first line longer than the summary keeps ends with "...", never
	 * mid-word as if whole. */
	memset(m, 0, sizeof(*m));
	char longl[400];
	memset(longl, 'w', sizeof(longl) - 1);
	longl[sizeof(longl) - 1] = '\0';
	first(m, longl);
	first(m, longl);
	s = summary(m);
	ok(s && strstr(s, "www...\n") && strlen(s) < 200,
	   "a long message's repeat line is cut with '...'");
	free(s);
	free(m);
	return tap_done();
}
