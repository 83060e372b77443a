/* serve_fault: parsing, checks and decisions of `surge serve`'s fault modes
 * (serve_fault.h); serve.c applies them to its sockets. */
#include "serve_fault.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "serve.h"
#include "units.h"

const char serve_fault_usage[] =
	"fault modes (for reliability tests; combine freely):\n"
	"  --delay DURATION     hold every reply this long (e.g. 20ms)\n"
	"  --stall S/P          every period P, answer for P-S then hold all replies for S\n"
	"                       (e.g. 1s/5s), for testing coordinated omission\n"
	"  --drop FRACTION      never send this share of replies (e.g. 1%)\n"
	"  --garbage FRACTION   replace this share of replies with random bytes of the same\n"
	"                       length (dns keeps the length prefix and the ID, so the\n"
	"                       garbage reaches the client's parser as the query's answer)\n"
	"  --drip BYTES/INTERVAL  write replies BYTES at a time, one write per INTERVAL\n"
	"                       per connection (e.g. 1/10ms)\n"
	"  --reset-after BYTES  reset a connection (RST: close with SO_LINGER 0) once this\n"
	"                       many bytes have come in on it; the bytes before are answered\n"
	"  --half-close         shutdown(SHUT_WR) after a connection's first reply; keep\n"
	"                       reading (what comes later is read and not answered)\n"
	"  --close-on-accept    close every connection as soon as it is accepted\n"
	"  --never-read         accept and never read (nothing is answered; connections\n"
	"                       stay open until the server exits)\n"
	"  --close-after N      close a connection after its N-th reply (echo: a reply\n"
	"                       answers one read; dns: one query)\n"
	"  --die-after DURATION  every process exits that long after the start, as a crash\n"
	"                       would: replies not yet written are lost, the listener goes\n"
	"                       away (then connects are refused); exit status 0\n"
	"  Every mode works for echo and dns. rtsp takes --delay, --stall, --drop and\n"
	"  the connection faults (--reset-after, --close-on-accept, --never-read,\n"
	"  --die-after) and refuses the others (its stream has faults of its own).\n";

static const char *const flags[] = { "half-close", "close-on-accept", "never-read" };

bool serve_fault_is_flag(const char *key)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strcmp(key, flags[i]) == 0)
			return true;
	return false;
}

/* "A/B" into two strings of at most 63 bytes, or -EINVAL. */
static int split_slash(const char *value, char *a, char *b)
{
	const char *slash = strchr(value, '/');
	if (!slash || slash == value || (size_t)(slash - value) >= 64 || strlen(slash + 1) >= 64)
		return -EINVAL;
	memcpy(a, value, (size_t)(slash - value));
	a[slash - value] = 0;
	strcpy(b, slash + 1);
	return 0;
}

/* A whole number of bytes >= 1: "512", "64k". */
static int parse_bytes(const char *s, uint64_t *out)
{
	return units_count(s, out) || *out == 0 ? -EINVAL : 0;
}

int serve_fault_option(struct serve_fault *f, const char *key, const char *value, char *err,
		       size_t errlen)
{
	char a[64], b[64];
	const char *want;

	if (serve_fault_is_flag(key)) {
		if (value) {
			snprintf(err, errlen, "--%s takes no value (got '%s')", key, value);
			return -EINVAL;
		}
		if (strcmp(key, "half-close") == 0)
			f->half_close = true;
		else if (strcmp(key, "close-on-accept") == 0)
			f->close_on_accept = true;
		else
			f->never_read = true;
		return 0;
	}
	if (strcmp(key, "delay") == 0) {
		want = "a duration like 20ms";
		if (value && units_duration(value, &f->delay_ns) == 0)
			return 0;
	} else if (strcmp(key, "stall") == 0) {
		want = "STALL/PERIOD with 0 < STALL < PERIOD, e.g. 1s/5s";
		if (value && split_slash(value, a, b) == 0 && units_duration(a, &f->stall_ns) == 0 &&
		    units_duration(b, &f->stall_period_ns) == 0 && f->stall_ns > 0 &&
		    f->stall_ns < f->stall_period_ns)
			return 0;
	} else if (strcmp(key, "drop") == 0) {
		want = "a share like 1% or 0.01";
		if (value && units_fraction(value, &f->drop) == 0)
			return 0;
	} else if (strcmp(key, "garbage") == 0) {
		want = "a share like 10% or 0.1";
		if (value && units_fraction(value, &f->garbage) == 0)
			return 0;
	} else if (strcmp(key, "drip") == 0) {
		want = "BYTES/INTERVAL with BYTES >= 1 and INTERVAL > 0, e.g. 1/10ms";
		if (value && split_slash(value, a, b) == 0 && parse_bytes(a, &f->drip_bytes) == 0 &&
		    units_duration(b, &f->drip_ns) == 0 && f->drip_ns > 0)
			return 0;
	} else if (strcmp(key, "reset-after") == 0) {
		want = "a number of bytes >= 1, e.g. 640 or 64k";
		if (value && parse_bytes(value, &f->reset_after) == 0)
			return 0;
	} else if (strcmp(key, "close-after") == 0) {
		want = "a number of replies >= 1, e.g. 10";
		if (value && parse_bytes(value, &f->close_after) == 0)
			return 0;
	} else if (strcmp(key, "die-after") == 0) {
		want = "a duration > 0 like 2s";
		if (value && units_duration(value, &f->die_after_ns) == 0 && f->die_after_ns > 0)
			return 0;
	} else {
		return -ENOENT;
	}
	if (!value)
		snprintf(err, errlen, "--%s needs a value: %s (see --help)", key, want);
	else
		snprintf(err, errlen, "--%s '%s': expected %s", key, value, want);
	return -EINVAL;
}

int serve_fault_check(const struct serve_fault *f, const struct serve_proto *proto, char *err,
		      size_t errlen)
{
	/* RTSP streams RTP through serve_conn_stream, which these faults do not
	 * see: garbage in, or a drip of, the RTSP replies alone would test
	 * something no one asked for. */
	if (strcmp(proto->name, "rtsp") == 0) {
		const char *no = f->garbage > 0 ? "garbage" : f->drip_bytes ? "drip"
				 : f->half_close ? "half-close" : f->close_after ? "close-after" : NULL;
		if (no) {
			snprintf(err, errlen,
				 "--%s is not available for rtsp (its stream has --loss, --reorder and "
				 "other faults of its own; see --help)", no);
			return -EINVAL;
		}
	}
	if (f->close_on_accept && f->never_read) {
		snprintf(err, errlen, "--close-on-accept and --never-read exclude each other");
		return -EINVAL;
	}
	return 0;
}

bool serve_fault_stalled(const struct serve_fault *f, uint64_t since, uint64_t *wait)
{
	if (!f->stall_ns)
		return false;
	/* Each period answers for period - stall, then holds replies for stall. */
	uint64_t phase = since % f->stall_period_ns;
	if (phase < f->stall_period_ns - f->stall_ns)
		return false;
	*wait = f->stall_period_ns - phase;
	return true;
}

bool serve_fault_chance(double p, uint64_t r)
{
	return p > 0 && (double)(r >> 11) * 0x1.0p-53 < p;
}

void serve_fault_garble(uint8_t *p, size_t n, size_t keep, uint64_t *rng)
{
	for (size_t i = keep; i < n; i++) {
		/* splitmix64: any seed, even 0, gives well-mixed bytes. */
		uint64_t z = *rng += 0x9e3779b97f4a7c15ull;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		p[i] = (uint8_t)(z ^ (z >> 31));
	}
}

bool serve_fault_line_add(struct serve_fault_line *l, struct serve_fault_turn *t, uint64_t due)
{
	t->queued = true;
	t->due = due;
	t->next = NULL;
	t->prev = l->tail;
	if (l->tail)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
	return l->head == t;
}

void serve_fault_line_remove(struct serve_fault_line *l, struct serve_fault_turn *t)
{
	if (!t->queued)
		return;
	t->queued = false;
	if (t->prev)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		l->tail = t->prev;
	t->prev = t->next = NULL;
}

struct serve_fault_turn *serve_fault_line_pop(struct serve_fault_line *l, uint64_t now)
{
	struct serve_fault_turn *t = l->head;
	if (!t || t->due > now)
		return NULL;
	serve_fault_line_remove(l, t);
	return t;
}
