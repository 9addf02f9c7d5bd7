/* The switch work a worker does on a batch of one queue: VLAN handling (the tag is stripped on
 * delivery: VM ports are access ports), the per-packet cost as real work on the frame's bytes,
 * delivery into the VM port (with the frame's offloads, txpath.c), and for the default queue the
 * full path: MAC learning, known unicast to its VM, flooding of broadcast, multicast and unknown
 * unicast to every VM on the VLAN except the source. What a port does not take is counted
 * (refused, flood_refused, and on the VM), never retried. A VM's cost (ns per frame) is the frame's whole cost: the work loop
 * runs for the cost minus the queue's measured own overhead per frame, so busy time per frame
 * matches the scenario, as in the simulator. Runs inside an RCU read-side section held by the worker. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "decide.h"
#include "dp_internal.h"

/* A checksum pass over the frame, repeated until work_bytes bytes were summed. */
uint32_t switch_work(const uint8_t *data, uint32_t len, uint32_t work_bytes)
{
	uint64_t sum = 0;
	uint32_t words = len / 8;
	if (words == 0 || work_bytes == 0)
		return 0;
	for (uint32_t done = 0; done < work_bytes; done += words * 8) {
		for (uint32_t i = 0; i < words; i++) {
			uint64_t v;
			memcpy(&v, data + 8 * i, 8);
			sum += v;
			sum += sum < v; /* end-around carry */
		}
	}
	return (uint32_t)sum ^ (uint32_t)(sum >> 32);
}

/* Bytes of switch_work per ns for frames of 2^(b+6) bytes: per-byte speed depends on the
 * frame's length (loop overhead on small frames), so each size class is measured. The buffer is
 * the caller's own: two data planes may calibrate at once. Returns 0 or -ENOMEM. */
int switch_calibrate(double bytes_per_ns[DP_WORK_CLASSES])
{
	const size_t size = 64u << (DP_WORK_CLASSES - 1);
	uint8_t *buf = fault_zalloc(1, size);
	if (!buf)
		return -ENOMEM;
	for (unsigned i = 0; i < size; i++)
		buf[i] = (uint8_t)(i * 7u);
	volatile uint32_t sink = 0;
	for (unsigned c = 0; c < DP_WORK_CLASSES; c++) {
		uint32_t len = 64u << c;
		double best = 1e9;
		for (int round = 0; round < 5; round++) {
			struct timespec a, b;
			clock_gettime(CLOCK_MONOTONIC, &a);
			for (int i = 0; i < 50; i++)
				sink += switch_work(buf, len, 16u * 1024u);
			clock_gettime(CLOCK_MONOTONIC, &b);
			double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
			double per_byte = ns / (50.0 * 16.0 * 1024.0);
			if (per_byte < best)
				best = per_byte;
		}
		bytes_per_ns[c] = 1.0 / (best > 1e-4 ? best : 1e-4);
	}
	(void)sink;
	free(buf);
	return 0;
}

uint32_t switch_work_bytes(const double bytes_per_ns[DP_WORK_CLASSES], double cost_ns, uint32_t len)
{
	unsigned c = 0;
	while (c + 1 < DP_WORK_CLASSES && (64u << (c + 1)) <= len)
		c++;
	double b = cost_ns * bytes_per_ns[c];
	return b <= 0.0 ? 0 : b > 1e9 ? 1000000000u : (uint32_t)b;
}

/* Strips an 802.1Q tag in place (the record is ours until released), offsets with it. */
static void to_access(struct dvmq_pkt *p, struct dvmq_offload *o)
{
	if (p->len >= 18 && p->data[12] == 0x81 && p->data[13] == 0x00) {
		memmove(p->data + 4, p->data, 12);
		p->data += 4;
		p->len -= 4;
		if (o)
			dp_off_shift(o, -4);
	}
}

static uint16_t frame_vlan(const uint8_t *d, uint32_t len)
{
	return len >= 18 && d[12] == 0x81 && d[13] == 0x00 ? (uint16_t)((d[14] & 0x0fu) << 8 | d[15]) : 0;
}

/* The work a frame still needs once the data plane's own cost per frame is paid: the VM's
 * cost is what a frame costs in all, as in the simulator. */
static inline double work_ns(const struct dvmq_dp *dp, const struct dp_queue *q, const struct dp_vm *vm)
{
	if (dp->cfg.virtual_cost)
		return vm_cost(vm); /* counted by the worker, never spent */
	double w = vm_cost(vm) - q->overhead_ns;
	return w > 0.0 ? w : 0.0;
}

/* Delivers one frame to vm; returns whether its port took it (a refusal is counted on the VM). */
static bool deliver_one(struct dvmq_dp *dp, struct dp_txctx *cx, struct dp_queue *q, struct dp_vm *vm,
			struct dvmq_pkt *p, const struct dvmq_offload *o, int flooded, double *w)
{
	double wk = work_ns(dp, q, vm);
	if (!dp->cfg.virtual_cost)
		q->work_sum += switch_work(p->data, p->len, switch_work_bytes(dp->bytes_per_ns, wk, p->len));
	*w += wk;
	if (dp_port_tx(cx, vm->port, p, o, 1, flooded) == 1)
		return true;
	atomic_fetch_add_explicit(&vm->refused, 1, memory_order_relaxed);
	return false;
}

static double flood(struct dvmq_dp *dp, struct dp_txctx *cx, struct dp_queue *q, struct dvmq_pkt *p,
		    const struct dvmq_offload *o, uint16_t vlan, const uint8_t src[6])
{
	uint64_t copies = 0, refused = 0;
	double w = 0.0;
	uint32_t hw = atomic_load_explicit(&dp->slot_hw, memory_order_acquire);
	for (uint32_t s = 0; s < hw; s++) {
		struct dp_vm *vm = vmtab_slot(dp, s);
		if (!vm || vm->vlan != vlan || memcmp(vm->mac, src, 6) == 0)
			continue;
		if (deliver_one(dp, cx, q, vm, p, o, 1, &w))
			copies++;
		else
			refused++;
	}
	ctr_add(&dp->flooded, 1);
	ctr_add(&dp->flood_copies, copies);
	if (refused)
		ctr_add(&dp->flood_refused, refused);
	return w;
}

static double default_path(struct dvmq_dp *dp, struct dp_txctx *cx, struct dp_queue *q, struct ring_rec *rec,
			   uint64_t now)
{
	struct dvmq_pkt p = { ring_data(rec), ring_rec_len(rec), rec->ts_ns };
	struct dvmq_offload off, *o = NULL;
	if (ring_off(rec)) {
		off = *ring_off(rec);
		o = &off;
	}
	uint16_t vlan = frame_vlan(p.data, p.len);
	uint8_t src[6], dst[6];
	memcpy(dst, p.data, 6);
	memcpy(src, p.data + 6, 6);
	if (!dvmq_mac_is_multicast(src)) {
		int rc = fdb_learn(&dp->fdb, src, vlan, now);
		if (rc > 0)
			ctr_add(&dp->learned, 1);
		else if (rc < 0)
			ctr_add(&dp->fdb_full, 1);
	}
	to_access(&p, o);
	if (dvmq_mac_is_multicast(dst))
		return flood(dp, cx, q, &p, o, vlan, src);
	struct dp_vm *vm = vmtab_lookup(dp, dst, vlan);
	if (vm) {
		double w = 0.0;
		if (deliver_one(dp, cx, q, vm, &p, o, 0, &w))
			ctr_add(&dp->default_unicast, 1);
		else
			atomic_fetch_add_explicit(&dp->refused, 1, memory_order_relaxed);
		return w;
	}
	if (fdb_known(&dp->fdb, dst, vlan, now)) {
		ctr_add(&dp->filtered, 1); /* its destination is on the uplink it came from */
		return 0.0;
	}
	/* a unicast nobody here has: flooded on its VLAN as a learning switch does (a VM that
	 * changed its MAC may still be its owner), counted apart from broadcast and multicast */
	ctr_add(&dp->unknown_unicast, 1);
	return flood(dp, cx, q, &p, o, vlan, src);
}

double switch_deliver(struct dvmq_dp *dp, struct dp_txctx *cx, struct dp_queue *q, uint32_t qid,
		      struct ring_rec **recs, unsigned n)
{
	double work = 0.0;
	if (qid == DVMQ_DEFAULT_QUEUE) {
		uint64_t now = dp_age_clock(dp);
		for (unsigned i = 0; i < n; i++)
			work += default_path(dp, cx, q, recs[i], now);
		atomic_store_explicit(&dp->fdb_entries, dp->fdb.n, memory_order_relaxed);
		atomic_store_explicit(&dp->fdb_probes_max, dp->fdb.probes_max, memory_order_relaxed);
		return work;
	}
	struct dvmq_pkt pkts[DVMQ_BURST];
	struct dvmq_offload off[DVMQ_BURST];
	uint64_t delivered = 0, gone = 0, refused = 0;
	for (unsigned i = 0; i < n;) {
		uint32_t id = recs[i]->vm;
		unsigned k = 0;
		bool any_off = false;
		for (; i < n && recs[i]->vm == id && k < DVMQ_BURST; i++, k++) {
			pkts[k] = (struct dvmq_pkt){ ring_data(recs[i]), ring_rec_len(recs[i]), recs[i]->ts_ns };
			const struct dvmq_offload *o = ring_off(recs[i]);
			off[k] = o ? *o : (struct dvmq_offload){ 0, 0, 0, 0, 0, 0 };
			any_off |= o != NULL;
			to_access(&pkts[k], &off[k]);
		}
		/* the VM may have left (and its slot gone to another) since the frame was queued */
		struct dp_vm *vm = id < DVMQ_DP_NO_VM ? vmtab_slot(dp, id % dp->cfg.max_vms) : NULL;
		if (!vm || vm->id != id) {
			gone += k;
			continue;
		}
		double w = work_ns(dp, q, vm);
		for (unsigned j = 0; w > 0.0 && !dp->cfg.virtual_cost && j < k; j++)
			q->work_sum += switch_work(pkts[j].data, pkts[j].len,
						   switch_work_bytes(dp->bytes_per_ns, w, pkts[j].len));
		work += w * k;
		/* VMMQ: queue i of the VM's group leaves through tx queue i of its port */
		uint32_t txq = 0, n_group = atomic_load_explicit(&vm->n_group, memory_order_relaxed);
		while (n_group > 1 && txq < n_group && atomic_load_explicit(&vm->group[txq], memory_order_relaxed) != qid)
			txq++;
		unsigned took = dp_port_tx_q(cx, vm->port, txq < n_group ? txq : 0, pkts, any_off ? off : NULL, k);
		delivered += took;
		if (took < k) {
			refused += k - took;
			atomic_fetch_add_explicit(&vm->refused, k - took, memory_order_relaxed);
		}
	}
	if (delivered)
		atomic_fetch_add_explicit(&dp->vmq_delivered, delivered, memory_order_relaxed);
	if (gone)
		atomic_fetch_add_explicit(&dp->vm_gone, gone, memory_order_relaxed);
	if (refused)
		atomic_fetch_add_explicit(&dp->refused, refused, memory_order_relaxed);
	return work;
}
