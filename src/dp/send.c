/* Frames VMs send (dvmq_dp_vm_send, include/dvmq/dp.h), switched on the calling thread: the
 * thread that read them from the VM's port. decide.h checks each frame and picks its
 * destination; this file builds per-destination bursts and sends them: into another VM's port
 * (untagged), out of the uplink port (tagged with the adapter's VLAN), or both for a flood.
 * Why on the calling thread, not through a queue: a VM's transmit side is not a VMQ (the NIC's
 * filter sorts what arrives from outside); the sender pays for its frames as a vCPU does in
 * Hyper-V's switch, with no hand-over between CPUs and nothing to reorder.
 * Invariants: each destination receives one call's frames in the order the VM sent them (a
 * burst to a VM is flushed before a frame to another VM, the uplink's before a flood's copy);
 * the caller's frames are never written (a re-tagged frame is a copy in the thread's arena);
 * every frame ends in exactly one counter. No allocation, no lock, no wait: the thread's
 * scratch was made when it registered. Also: reader registration, and the uplink port. */
#include <errno.h>
#include <stdlib.h>

#include "decide.h"
#include "dp_internal.h"

/* This thread's scratch (made by dvmq_dp_thread_register). */
static _Thread_local struct dp_txctx *tls_cx;

int dvmq_dp_thread_register(void)
{
	if (!tls_cx && !(tls_cx = dp_txctx_new()))
		return -ENOMEM;
	dp_rcu_register();
	return 0;
}

void dvmq_dp_thread_unregister(void)
{
	dp_rcu_unregister();
	dp_txctx_free(tls_cx);
	tls_cx = NULL;
}

int dvmq_dp_set_uplink(struct dvmq_dp *dp, struct dvmq_port *port)
{
	pthread_mutex_lock(&dp->ctl_lock);
	atomic_store_explicit(&dp->uplink, port, memory_order_release);
	pthread_mutex_unlock(&dp->ctl_lock);
	/* a sender that loaded the old port finishes with it before the caller may destroy it */
	bool reg = dp_rcu_enter();
	dp_rcu_sync();
	dp_rcu_exit(reg);
	return 0;
}

/* One vm_send call: its source, its scratch and its counts. */
struct send {
	struct dvmq_dp *dp;
	struct dp_txctx *cx;
	struct dp_vm *src;
	struct dvmq_port *up;
	struct dvmq_dp_send_counters t;
};

static const void *send_lookup(void *ctx, const uint8_t *mac, uint16_t vlan)
{
	return vmtab_lookup(ctx, mac, vlan);
}

static void flush_vm(struct send *s)
{
	struct dp_batch *b = &s->cx->vm;
	if (b->n == 0)
		return;
	struct dp_vm *dst = s->cx->vm_dst;
	unsigned took = dp_port_tx(s->cx, dst->port, b->pkts, b->any_off ? b->off : NULL, b->n, 0);
	s->t.to_vm += took;
	if (took < b->n) {
		s->t.vm_refused += b->n - took;
		atomic_fetch_add_explicit(&dst->refused, b->n - took, memory_order_relaxed);
	}
	b->n = 0;
	b->any_off = false;
}

static void flush_up(struct send *s)
{
	struct dp_batch *b = &s->cx->up;
	if (b->n == 0)
		return;
	unsigned took = dp_port_tx(s->cx, s->up, b->pkts, b->any_off ? b->off : NULL, b->n, 0);
	s->t.to_uplink += took;
	s->t.uplink_refused += b->n - took;
	b->n = 0;
	b->any_off = false;
}

/* Room for a rewritten frame of up to `need` bytes in the arena; when it is full, the bursts
 * that point into it leave first. */
static uint8_t *arena_room(struct send *s, uint32_t need)
{
	struct dp_txctx *cx = s->cx;
	if (DP_ARENA_BYTES - cx->arena_used < need) {
		flush_vm(s);
		flush_up(s);
		cx->arena_used = 0;
	}
	return cx->arena + cx->arena_used;
}

static void arena_take(struct send *s, uint32_t used)
{
	s->cx->arena_used += (used + 63u) & ~63u; /* frames start on cache lines */
}

/* Appends a frame (its offloads o, NULL: none) to burst b. */
static void batch_add(struct dp_batch *b, uint8_t *data, uint32_t len, const struct dvmq_offload *o)
{
	b->pkts[b->n] = (struct dvmq_pkt){ data, len, 0 };
	b->off[b->n] = o ? *o : (struct dvmq_offload){ 0, 0, 0, 0, 0, 0 };
	b->any_off |= o != NULL;
	b->n++;
}

/* The frame as VMs receive it (untagged): into *p and *o (o_in NULL: no offloads). */
static void access_view(struct send *s, const struct dvmq_pkt *in, const struct dvmq_offload *o_in,
			const struct dp_decision *d, struct dvmq_pkt *p, struct dvmq_offload *o)
{
	*p = *in;
	if (o_in)
		*o = *o_in;
	if (!d->tagged)
		return;
	uint8_t *buf = arena_room(s, in->len);
	p->len = dp_to_access(in->data, in->len, true, buf, in->len, o_in ? o : NULL);
	p->data = buf;
	arena_take(s, p->len);
}

/* The frame as the uplink carries it (the adapter's tag): into *p and *o. */
static void uplink_view(struct send *s, const struct dvmq_pkt *in, const struct dvmq_offload *o_in,
			const struct dp_decision *d, struct dvmq_pkt *p, struct dvmq_offload *o)
{
	*p = *in;
	if (o_in)
		*o = *o_in;
	uint8_t *buf = arena_room(s, in->len + DVMQ_VLAN_HLEN);
	uint32_t len = dp_to_uplink(in->data, in->len, d->tagged, d->vlan, buf, in->len + DVMQ_VLAN_HLEN,
				    o_in ? o : NULL);
	if (len) {
		p->data = buf;
		p->len = len;
		arena_take(s, len);
	}
}

static void to_vm(struct send *s, const struct dvmq_pkt *in, const struct dvmq_offload *o_in,
		  const struct dp_decision *d)
{
	struct dp_txctx *cx = s->cx;
	struct dp_vm *dst = (struct dp_vm *)(uintptr_t)d->vm;
	if (cx->vm.n && cx->vm_dst != dst)
		flush_vm(s);
	struct dvmq_pkt p;
	struct dvmq_offload o;
	access_view(s, in, o_in, d, &p, &o);
	cx->vm_dst = dst;
	batch_add(&cx->vm, p.data, p.len, o_in ? &o : NULL);
	if (cx->vm.n == DVMQ_BURST)
		flush_vm(s);
}

static void to_uplink(struct send *s, const struct dvmq_pkt *in, const struct dvmq_offload *o_in,
		      const struct dp_decision *d)
{
	if (!s->up) {
		s->t.drop[DVMQ_DP_DROP_NO_UPLINK]++;
		return;
	}
	struct dvmq_pkt p;
	struct dvmq_offload o;
	uplink_view(s, in, o_in, d, &p, &o);
	batch_add(&s->cx->up, p.data, p.len, o_in ? &o : NULL);
	if (s->cx->up.n == DVMQ_BURST)
		flush_up(s);
}

/* A copy to each other VM of the VLAN and one out of the uplink (when there is one), after
 * every frame this call sent before it. */
static void flood(struct send *s, const struct dvmq_pkt *in, const struct dvmq_offload *o_in,
		  const struct dp_decision *d)
{
	flush_vm(s);
	flush_up(s);
	struct dvmq_dp *dp = s->dp;
	struct dvmq_pkt p;
	struct dvmq_offload o;
	const struct dvmq_offload *op = o_in ? &o : NULL;
	uint64_t copies = 0, refused = 0;
	access_view(s, in, o_in, d, &p, &o);
	uint32_t hw = atomic_load_explicit(&dp->slot_hw, memory_order_acquire);
	for (uint32_t slot = 0; slot < hw; slot++) {
		struct dp_vm *vm = vmtab_slot(dp, slot);
		if (!vm || vm == s->src || vm->vlan != d->vlan)
			continue;
		if (dp_port_tx(s->cx, vm->port, &p, op, 1, 1) == 1) {
			copies++;
		} else {
			refused++;
			atomic_fetch_add_explicit(&vm->refused, 1, memory_order_relaxed);
		}
	}
	if (s->up) {
		uplink_view(s, in, o_in, d, &p, &o);
		if (dp_port_tx(s->cx, s->up, &p, op, 1, 1) == 1)
			copies++;
		else
			refused++;
	}
	s->t.flooded++;
	s->t.flood_copies += copies;
	s->t.flood_refused += refused;
}

/* Adds this call's counts to the VM's (one writer: plain adds) and to the totals (atomic). */
static void count(struct send *s)
{
	uint64_t t[DP_SEND_WORDS];
	memcpy(t, &s->t, sizeof(t));
	for (size_t i = 0; i < DP_SEND_WORDS; i++) {
		if (!t[i])
			continue;
		if (s->src)
			ctr_add(&s->src->sent[i], t[i]);
		atomic_fetch_add_explicit(&s->dp->sent[i], t[i], memory_order_relaxed);
	}
}

unsigned dvmq_dp_vm_send_off(struct dvmq_dp *dp, uint32_t vm_id, const struct dvmq_pkt *pkts,
			     const struct dvmq_offload *off, unsigned n)
{
	struct send s = { .dp = dp, .cx = tls_cx };
	s.t.rx = n;
	if (!s.cx) { /* not registered: the caller broke the contract; no read-side section either */
		s.t.drop[DVMQ_DP_DROP_UNKNOWN_VM] = n;
		count(&s);
		return 0;
	}
	dp_rcu_read_lock();
	struct dp_vm *src = vm_id < DVMQ_DP_NO_VM ? vmtab_slot(dp, vm_id % dp->cfg.max_vms) : NULL;
	if (!src || src->id != vm_id) {
		s.t.drop[DVMQ_DP_DROP_UNKNOWN_VM] = n;
		n = 0;
	}
	s.src = n ? src : NULL;
	s.up = atomic_load_explicit(&dp->uplink, memory_order_acquire);
	for (unsigned i = 0; i < n; i++) {
		const struct dvmq_offload *o = off && offload_pending(&off[i]) ? &off[i] : NULL;
		struct dp_decision d;
		dp_decide_vm(&d, pkts[i].data, pkts[i].len, o, dp->cfg.mtu, src->mac, src->vlan, src, send_lookup, dp);
		switch (d.dest) {
		case DP_DEST_VM:
			to_vm(&s, &pkts[i], o, &d);
			break;
		case DP_DEST_UPLINK:
			to_uplink(&s, &pkts[i], o, &d);
			break;
		case DP_DEST_FLOOD:
			flood(&s, &pkts[i], o, &d);
			break;
		case DP_DEST_QUEUE:
		case DP_DEST_DROP:
			if (d.verdict != DVMQ_FRAME_OK)
				s.t.verdict[d.verdict]++;
			else
				s.t.drop[d.drop]++;
			break;
		}
	}
	flush_vm(&s);
	flush_up(&s);
	s.cx->arena_used = 0;
	count(&s); /* before the read-side section ends: the VM may be removed meanwhile */
	dp_rcu_read_unlock();
	return (unsigned)(s.t.to_vm + s.t.to_uplink + s.t.flooded);
}

unsigned dvmq_dp_vm_send(struct dvmq_dp *dp, uint32_t vm_id, const struct dvmq_pkt *pkts, unsigned n)
{
	return dvmq_dp_vm_send_off(dp, vm_id, pkts, NULL, n);
}
