/*
 * addrset: source address sets (single addresses, a-b ranges, IPv4/IPv6
 * CIDRs, mixed), indexed per family without expanding them; port ranges and
 * their disjoint per-worker slices; and pickers that choose each connection's
 * (source, port) by round-robin, seeded random, or a no-repeat permutation
 * of address x port in O(1) memory.
 */
#ifndef SURGE_ADDRSET_H
#define SURGE_ADDRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Older libc headers lack the Linux options every bound socket uses. */
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

/* Family slots: addresses of each family are indexed 0..size-1 on their own,
 * because a connection can only take a source of its destination's family. */
enum { ADDRSET_V4, ADDRSET_V6, ADDRSET__FAMILIES };

struct addrset_range {
	uint64_t hi, lo;  /* first address, host order (IPv4: lo only) */
	uint64_t count;   /* addresses in the range, >= 1 */
	uint64_t off;     /* index of the first address within its family */
};

struct addrset {
	struct addrset_range *r[ADDRSET__FAMILIES];
	size_t nr[ADDRSET__FAMILIES];
	uint64_t size[ADDRSET__FAMILIES];
};

/* Appends the entries of spec to s (zeroed or earlier filled). Entries are
 * separated by commas or blanks: "10.0.0.1", "10.0.0.1-10.0.0.9",
 * "10.0.0.0/24" (network and broadcast excluded below /31),
 * "2001:db8::/120" (the subnet-router anycast address excluded below /127,
 * prefixes shorter than /64 refused). Entries may not overlap.
 * Returns 0; -EINVAL (bad syntax, overlap), -ERANGE (too many addresses) or
 * -ENOMEM with a message for people in err. s keeps what it had on error. */
int addrset_parse(struct addrset *s, const char *spec, char *err, size_t errlen);
void addrset_free(struct addrset *s); /* NULL-safe; leaves s empty */

/* Checks spec alone (for the scenario loader through LuaJIT's FFI): 0 or
 * -errno with err filled. */
int addrset_validate(const char *spec, char *err, size_t errlen);

/* Addresses of one family slot, or both (total, saturating). */
uint64_t addrset_size(const struct addrset *s, int slot);
uint64_t addrset_total(const struct addrset *s);
/* AF_INET -> ADDRSET_V4, AF_INET6 -> ADDRSET_V6, else -1. */
int addrset_slot(int family);

/* The i-th address of a family slot as a sockaddr with port 0. Returns 0, or
 * -ERANGE when i >= addrset_size(s, slot). */
int addrset_at(const struct addrset *s, int slot, uint64_t i, struct sockaddr_storage *out,
	       socklen_t *outlen);
/* Global index: IPv4 addresses first, then IPv6 (the report's order). */
int addrset_at_global(const struct addrset *s, uint64_t g, struct sockaddr_storage *out,
		      socklen_t *outlen);
/* Text form of a sockaddr's address, without port ("10.0.0.1", "2001:db8::1"). */
void addrset_ntop(const struct sockaddr_storage *a, char *buf, size_t len);

/* Port ranges, inclusive. lo == 0 means "not set". */
struct addrset_ports {
	uint16_t lo, hi;
};

/* "20000-29999" or "20000". Returns 0 or -EINVAL with err filled. */
int addrset_ports_parse(const char *spec, struct addrset_ports *out, char *err, size_t errlen);
uint32_t addrset_ports_count(const struct addrset_ports *p); /* 0 when not set */
/* Worker k of n: a disjoint contiguous slice; slices cover the range and
 * differ in size by at most one. Returns 0, or -ERANGE when the range has
 * fewer ports than workers. */
int addrset_ports_slice(const struct addrset_ports *p, uint32_t k, uint32_t n,
			struct addrset_ports *out);

enum addrset_pick {
	ADDRSET_ROUND_ROBIN, /* even per destination: its j-th connection from worker k takes
				source (j + k * size / W) mod size */
	ADDRSET_RANDOM,      /* seeded, reproducible; independent per worker */
	ADDRSET_PERMUTATION, /* a shuffled walk over address x port, no repeats */
};

/* "round-robin" | "random" | "permutation" -> 0 and *out, or -EINVAL. */
int addrset_pick_parse(const char *name, enum addrset_pick *out);
const char *addrset_pick_name(enum addrset_pick p);

/* A bijection on [0, n), n <= 2^62: a 4-round Feistel network over the next
 * even power of two, cycle-walked back into range. O(1) memory. */
struct addrset_perm {
	uint64_t n, mask;
	uint32_t half;
	uint64_t key[4];
};

int addrset_perm_init(struct addrset_perm *p, uint64_t n, uint64_t seed); /* 0 or -ERANGE */
uint64_t addrset_perm_at(const struct addrset_perm *p, uint64_t i); /* i < n */

/* One worker's picker. Round-robin and random leave the port to the kernel
 * (0) unless explicit_ports; permutation always names the port. */
struct addrset_picker {
	const struct addrset *set;
	enum addrset_pick mode;
	uint32_t worker, nworkers;
	uint64_t *per_dest; /* round-robin: connections so far, per destination index */
	uint32_t nper_dest;
	struct addrset_ports ports; /* this worker's ports (its slice, or the whole range
				       for permutation, whose walk is what is sliced) */
	bool explicit_ports;        /* the kernel has no IP_LOCAL_PORT_RANGE: name ports */
	uint64_t rng;
	uint64_t cursor[ADDRSET__FAMILIES]; /* permutation position / explicit-port cursor */
	uint64_t base[ADDRSET__FAMILIES], span[ADDRSET__FAMILIES]; /* indexes drawn from:
				       [base, base + span) (a shard's slice, else all) */
	struct addrset_perm perm[ADDRSET__FAMILIES];
};

/* ports: the run's range (not set: permutation is refused with -EINVAL).
 * Returns 0, -EINVAL or -ERANGE (ports fewer than workers, space too big).
 * addrset_picker_free releases it (NULL-safe); set stays the caller's. */
int addrset_picker_init(struct addrset_picker *p, const struct addrset *set,
			enum addrset_pick mode, uint64_t seed, uint32_t worker, uint32_t nworkers,
			const struct addrset_ports *ports, bool explicit_ports);
void addrset_picker_free(struct addrset_picker *p);
/* Shard k of n (shard.h): round-robin and random draw from the k-th of n even
 * contiguous slices of each family that has at least n addresses (smaller
 * families are shared; indexes stay the whole set's), and the ports, the
 * shard's range already, are re-sliced by worker of nworkers within the
 * shard. Permutation is left as it is: its walk is split by slot. 0 or
 * -ERANGE (fewer ports than workers). */
int addrset_picker_shard(struct addrset_picker *p, uint32_t k, uint32_t n, uint32_t worker,
			 uint32_t nworkers, const struct addrset_ports *ports);
/* How many addresses of family slot shard k of n draws from (as
 * addrset_picker_shard slices them): its slice, or the whole family when it
 * has fewer than n. */
uint64_t addrset_shard_size(const struct addrset *s, int slot, uint32_t k, uint32_t n);
/* Shard k of n's addresses (as addrset_picker_shard draws them) as a set of
 * their own in *out (free with addrset_free). 0 or -ENOMEM. */
int addrset_slice(const struct addrset *s, uint32_t k, uint32_t n, struct addrset *out);
/* The source for a new connection to destination index dest (any number;
 * destinations may be added during a run) of family slot fam: *index within
 * the family, *port (0: the kernel picks, within p->ports when set). Returns
 * 0, -EAFNOSUPPORT when the set has no address of that family, or -ENOMEM. */
int addrset_pick(struct addrset_picker *p, int fam, uint32_t dest, uint64_t *index,
		 uint16_t *port);

#endif
