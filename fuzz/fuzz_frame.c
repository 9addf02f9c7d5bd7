/* libFuzzer target: the frame parser (src/frame/frame.c) on any bytes and on every truncation
 * of them, each copied into a buffer of exactly its size (so ASan sees any read past the end):
 * a verdict in range, never a crash, and when it accepts a frame, offsets inside it, the same
 * answer twice, and the same flow hash from the same headers. `make fuzz-frame` runs it;
 * `fuzz-frame-replay` (in `make test`) replays fuzz/corpus-frame under the sanitizers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dvmq/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAME 65535u
#define ALL_TRUNCATIONS 192u /* every prefix up to this; beyond, headers are whole anyway */

static void check(const uint8_t *data, size_t len, uint32_t mtu)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, data, len);
	struct dvmq_frame f, g;
	enum dvmq_frame_verdict v = dvmq_frame_parse(copy, len, mtu, &f);
	if ((unsigned)v >= DVMQ_FRAME_VERDICT_COUNT || dvmq_frame_verdict_name(v)[0] == '?')
		abort();
	if (v == DVMQ_FRAME_OK) {
		if (f.dst != copy || f.src != copy + 6 || f.l3_off > len || f.vlan > 4095)
			abort();
		if (f.l4_proto && (f.l4_off < f.l3_off || f.l4_off + (f.l4_proto == 6 ? 20u : 8u) > len))
			abort();
		if (!f.l4_proto && (f.sport || f.dport || f.l4_off))
			abort();
		if (len - f.l3_off > mtu + 0u)
			abort();
		if (dvmq_frame_parse(copy, len, mtu, &g) != v || g.hash != f.hash || g.l4_off != f.l4_off)
			abort();
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > MAX_FRAME)
		return 0;
	for (size_t k = 0; k <= size && k <= ALL_TRUNCATIONS; k++)
		check(data, k, 1500);
	if (size > ALL_TRUNCATIONS) {
		check(data, size - 1, 1500);
		check(data, size, 1500);
	}
	check(data, size, 9000);
	check(data, size, 68);
	return 0;
}
