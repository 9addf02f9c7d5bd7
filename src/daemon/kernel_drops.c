/* Kernel mode's per-queue drops: a processor's ring drops split over its queues (kernel_drops.h). */
#include "kernel_drops.h"

uint64_t kernel_drops_attribute(uint64_t drops, uint32_t n, uint64_t *gap, uint32_t fallback, uint64_t *out)
{
	uint64_t total = 0;
	for (uint32_t q = 0; q < n; q++)
		total += gap[q];
	if (drops == 0)
		return 0;
	uint64_t over = drops > total ? drops - total : 0;
	uint64_t left = drops - over; /* <= total: fits in the gaps */
	if (left == total) {
		for (uint32_t q = 0; q < n; q++) {
			out[q] += gap[q];
			gap[q] = 0;
		}
	} else if (left > 0) {
		/* floor of each proportional share (left < total: every share < its gap), then the
		 * rounding remainder one frame at a time to queues with room (fewer than n frames) */
		uint64_t given = 0;
		for (uint32_t q = 0; q < n; q++) {
			uint64_t share = (uint64_t)((long double)left * (long double)gap[q] / (long double)total);
			if (share > gap[q])
				share = gap[q];
			if (share > left - given)
				share = left - given;
			out[q] += share;
			gap[q] -= share;
			given += share;
		}
		for (uint32_t q = 0; given < left; q = (q + 1) % n)
			if (gap[q] > 0) {
				out[q]++;
				gap[q]--;
				given++;
			}
	}
	if (over > 0 && fallback < n)
		out[fallback] += over;
	return over;
}
