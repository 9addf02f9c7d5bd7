/* The Toeplitz flow hash of RSS, as NICs, Windows (vRSS, VMMQ) and `ethtool -X` compute it: a
 * 32-bit hash of the flow's tuple under a secret key, whose low 7 bits pick one of the 128
 * buckets of an indirection table (DVMQ_INDIRECTION_ENTRIES).
 * Input, in network byte order: IPv4 source address, destination address (8 bytes), then for
 * TCP and UDP the source and destination ports (4 more); IPv6 likewise (32 + 4 bytes). Frames
 * that are neither TCP nor UDP, and fragments (every fragment of a datagram, the first included:
 * only it holds the ports), hash on the addresses alone, so a datagram's fragments stay together;
 * frames that are not IP hash to 0. Verified against Microsoft's published vectors
 * (tests/unit/test_toeplitz.c).
 * Cost: one table lookup per input byte (12 for IPv4 with ports, 36 for IPv6): the tables, built
 * once from the key, take 36 x 256 x 4 bytes (the first 12 rows, 12 KiB, are all IPv4 touches).
 * Thread safety: a built table is read-only; any number of threads may hash with it. */
#ifndef DVMQ_TOEPLITZ_H
#define DVMQ_TOEPLITZ_H

#include <stddef.h>
#include <stdint.h>

#include "dvmq/frame.h"

#define DVMQ_RSS_KEY_BYTES 40u
#define DVMQ_RSS_INPUT_MAX 36u /* IPv6 addresses and ports */

/* The standard key (Microsoft's, the default of most NICs' drivers and of DPDK). */
extern const uint8_t dvmq_rss_default_key[DVMQ_RSS_KEY_BYTES];

struct dvmq_toeplitz {
	uint32_t t[DVMQ_RSS_INPUT_MAX][256]; /* the hash of byte value v at input position i */
};

/* Builds the tables for key (DVMQ_RSS_KEY_BYTES bytes). */
void dvmq_toeplitz_init(struct dvmq_toeplitz *t, const uint8_t *key);
/* The hash of in[0..len), len <= DVMQ_RSS_INPUT_MAX. */
uint32_t dvmq_toeplitz(const struct dvmq_toeplitz *t, const uint8_t *in, size_t len);
/* The same, bit by bit from the key (the definition; tests and one-off uses). len <= 36. */
uint32_t dvmq_toeplitz_bitwise(const uint8_t *key, const uint8_t *in, size_t len);
/* The RSS input of a frame the parser accepted (see above): writes it into out and returns its
 * length (0 for a frame that is not IP). */
size_t dvmq_rss_input(const uint8_t *frame, const struct dvmq_frame *f, uint8_t out[DVMQ_RSS_INPUT_MAX]);
/* The RSS hash of a frame the parser accepted, straight from the frame (no copy). */
uint32_t dvmq_rss_hash(const struct dvmq_toeplitz *t, const uint8_t *frame, const struct dvmq_frame *f);

#endif
