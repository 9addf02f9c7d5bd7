/* The Toeplitz hash (include/dvmq/toeplitz.h). The hash of an input is the XOR, over every input
 * bit that is set (most significant bit of the first byte first), of the 32 key bits starting at
 * that bit's position: so the hash of one byte value at one position is a constant, and the
 * tables hold those constants (the hash of the input is the XOR of its bytes' entries). */
#include <string.h>

#include "dvmq/toeplitz.h"

const uint8_t dvmq_rss_default_key[DVMQ_RSS_KEY_BYTES] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

#define ETH_P_IPV4 0x0800u
#define ETH_P_IPV6 0x86ddu

/* The 32 key bits starting at bit `bit` (bit 0: the most significant bit of key[0]). */
static uint32_t key_window(const uint8_t *key, unsigned bit)
{
	unsigned byte = bit / 8, shift = bit % 8;
	uint64_t w = 0;
	for (unsigned i = 0; i < 5; i++)
		w = w << 8 | (byte + i < DVMQ_RSS_KEY_BYTES ? key[byte + i] : 0u);
	return (uint32_t)(w >> (8 - shift));
}

uint32_t dvmq_toeplitz_bitwise(const uint8_t *key, const uint8_t *in, size_t len)
{
	uint32_t h = 0;
	for (size_t i = 0; i < len && i < DVMQ_RSS_INPUT_MAX; i++)
		for (unsigned b = 0; b < 8; b++)
			if (in[i] & (0x80u >> b))
				h ^= key_window(key, (unsigned)i * 8 + b);
	return h;
}

void dvmq_toeplitz_init(struct dvmq_toeplitz *t, const uint8_t *key)
{
	for (unsigned i = 0; i < DVMQ_RSS_INPUT_MAX; i++) {
		uint32_t bit[8];
		for (unsigned b = 0; b < 8; b++)
			bit[b] = key_window(key, i * 8 + b);
		for (unsigned v = 0; v < 256; v++) {
			uint32_t h = 0;
			for (unsigned b = 0; b < 8; b++)
				if (v & (0x80u >> b))
					h ^= bit[b];
			t->t[i][v] = h;
		}
	}
}

static inline uint32_t hash_at(const struct dvmq_toeplitz *t, unsigned pos, const uint8_t *in, size_t len)
{
	uint32_t h = 0;
	for (size_t i = 0; i < len; i++)
		h ^= t->t[pos + i][in[i]];
	return h;
}

uint32_t dvmq_toeplitz(const struct dvmq_toeplitz *t, const uint8_t *in, size_t len)
{
	return hash_at(t, 0, in, len > DVMQ_RSS_INPUT_MAX ? DVMQ_RSS_INPUT_MAX : len);
}

/* Where a frame's addresses are, and how long they are; 0 when it is not IP. The parser set
 * l4_proto only for TCP and UDP with their ports present, never for a fragment. */
static size_t addrs_of(const uint8_t *frame, const struct dvmq_frame *f, const uint8_t **addrs)
{
	if (f->ethertype == ETH_P_IPV4) {
		*addrs = frame + f->l3_off + 12;
		return 8;
	}
	if (f->ethertype == ETH_P_IPV6) {
		*addrs = frame + f->l3_off + 8;
		return 32;
	}
	return 0;
}

size_t dvmq_rss_input(const uint8_t *frame, const struct dvmq_frame *f, uint8_t out[DVMQ_RSS_INPUT_MAX])
{
	const uint8_t *addrs;
	size_t n = addrs_of(frame, f, &addrs);
	if (n == 0)
		return 0;
	memcpy(out, addrs, n);
	if (f->l4_proto && f->l4_off) {
		memcpy(out + n, frame + f->l4_off, 4); /* source and destination ports */
		n += 4;
	}
	return n;
}

uint32_t dvmq_rss_hash(const struct dvmq_toeplitz *t, const uint8_t *frame, const struct dvmq_frame *f)
{
	const uint8_t *addrs;
	size_t n = addrs_of(frame, f, &addrs);
	if (n == 0)
		return 0;
	uint32_t h = hash_at(t, 0, addrs, n);
	if (f->l4_proto && f->l4_off)
		h ^= hash_at(t, (unsigned)n, frame + f->l4_off, 4);
	return h;
}
