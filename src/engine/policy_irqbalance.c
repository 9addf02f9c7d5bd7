/* `irqbalance`: the irqbalance daemon's balancing, version 1.9.4 (irqlist.c, placement.c,
 * procinterrupts.c), with each queue as one interrupt of class ethernet (balanced down to a
 * processor) and one processor per cache domain, one package per NUMA node. Every
 * `irqbalance-interval` (its SLEEP_INTERVAL, 10 s):
 * - a processor's load is its interrupt and softirq time over the interval: the network busy time
 *   of its queues, nothing else (irqbalance does not see the VMs' vCPUs); an interrupt's load is
 *   its share of its processor's interrupts (packets here) times that load;
 * - the first scan only starts the counters (irqbalance's cycle 0 measures nothing);
 * - every processor above the least loaded one with two interrupts or more offers its interrupts,
 *   heaviest first, while moving one to the least loaded would not reverse the imbalance
 *   (least + irq < remaining - irq; both updated as interrupts are picked; its last interrupt
 *   never leaves);
 * - powersave (`--powerthresh`): from the 7th scan on, when no processor is a standard deviation
 *   above the mean and at least `irqbalance-powerthresh` are one below it, the first such
 *   processor not yet saving power enters powersave and all its interrupts leave; any processor a
 *   standard deviation above the mean takes every processor out of powersave;
 * - the picked interrupts, heaviest first, go to the least loaded NUMA node, then its least
 *   loaded processor not in powersave (ties: fewer interrupts), each adding its load there.
 * The NIC's own NUMA node is taken as unknown (irqbalance would keep its interrupts on that node). */
#include <math.h>

#include "engine_internal.h"

/* Picks the interrupts of processor p to move (irqlist.c, move_candidate_irqs): appends them to
 * sel[*ns], updates *min_load. load[] is per processor; neg[] per queue, minus its load (the
 * sort's key: heaviest first). */
static void pick_overloaded(struct dvmq_engine *e, uint32_t p, const double *load, const double *neg,
			    double *min_load, uint32_t *sel, uint32_t *ns)
{
	const struct eng_proc *pp = &e->procs[p];
	uint32_t *qs = e->scratch, nq = 0;
	for (uint32_t q = pp->qhead; q != ENG_NIL; q = e->qnext[q])
		qs[nq++] = q;
	eng_sort_by_key(qs, nq, neg);
	double adjust = load[p];
	uint32_t left = nq;
	for (uint32_t k = 0; k < nq && left > 1; k++) {
		double l = -neg[qs[k]];
		if (l <= 0.0 || e->queues[qs[k]].pinned) /* 1 ns or less: not worth moving; a pin: banned */
			continue;
		if (*min_load + l >= adjust - l)
			continue; /* moving it would reverse the imbalance */
		adjust -= l;
		*min_load += l;
		if (*min_load > adjust)
			*min_load = adjust;
		sel[(*ns)++] = qs[k];
		left--;
	}
}

/* The NUMA nodes of the set, each once, into nodes[]; returns how many. */
static uint32_t set_nodes(const struct dvmq_engine *e, uint32_t *nodes)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t node = e->procs[e->set_list[i]].numa, k = 0;
		while (k < n && nodes[k] != node)
			k++;
		if (k == n)
			nodes[n++] = node;
	}
	return n;
}

/* Least loaded NUMA node with a processor able to take an interrupt (ties: fewer interrupts),
 * then its least loaded such processor (ties: fewer interrupts, then set order);
 * DVMQ_NO_PROCESSOR if none. */
static uint32_t place(const struct dvmq_engine *e, const uint32_t *nodes, uint32_t n_nodes, const double *load,
		      const uint32_t *count)
{
	uint32_t best = DVMQ_NO_PROCESSOR, best_irqs = 0;
	double best_load = 0.0;
	for (uint32_t k = 0; k < n_nodes; k++) {
		double nl = 0.0;
		uint32_t irqs = 0, cpu = DVMQ_NO_PROCESSOR;
		for (uint32_t i = 0; i < e->n_set; i++) {
			uint32_t p = e->set_list[i];
			if (e->procs[p].numa != nodes[k])
				continue;
			nl += load[p];
			irqs += count[p];
			if (e->procs[p].peer & ENG_PEER_POWERSAVE)
				continue;
			if (cpu == DVMQ_NO_PROCESSOR || load[p] < load[cpu] || (load[p] == load[cpu] && count[p] < count[cpu]))
				cpu = p;
		}
		if (cpu != DVMQ_NO_PROCESSOR &&
		    (best == DVMQ_NO_PROCESSOR || nl < best_load || (nl == best_load && irqs < best_irqs))) {
			best = cpu;
			best_load = nl;
			best_irqs = irqs;
		}
	}
	return best;
}

void eng_policy_irqbalance(struct dvmq_engine *e)
{
	const struct dvmq_engine_params *pa = &e->params;
	for (uint32_t i = 0; i < e->n_set; i++)
		e->procs[e->set_list[i]].peer_acc += e->procs[e->set_list[i]].net_load;
	for (uint32_t q = 0; q < e->n_queues; q++)
		if (e->queues[q].active)
			e->queues[q].peer_acc += e->queues[q].arrivals;
	if (e->peer_cycles > 0 && e->now_ns < e->peer_last_ns + pa->irqb_interval_ns)
		return;
	e->peer_last_ns = e->now_ns;
	uint64_t cycle = e->peer_cycles++;
	double *load = e->tmp;      /* per processor: its interrupt load over the interval */
	uint32_t *count = e->order; /* per processor: its interrupts, as placement goes */
	for (uint32_t p = 0; p < e->n_procs; p++) {
		load[p] = e->procs[p].peer_acc;
		count[p] = e->procs[p].n_queues;
		e->procs[p].peer_acc = 0.0;
	}
	double *neg = e->qkey;      /* per queue: minus its interrupt load */
	double *irqs = e->pkey;     /* per processor: its interrupts (packets) over the interval */
	for (uint32_t p = 0; p < e->n_procs; p++)
		irqs[p] = 0.0;
	for (uint32_t q = 0; q < e->n_queues; q++)
		if (e->queues[q].active)
			irqs[e->queues[q].proc] += e->queues[q].peer_acc;
	for (uint32_t q = 0; q < e->n_queues; q++) {
		struct eng_queue *qq = &e->queues[q];
		neg[q] = qq->active && irqs[qq->proc] > 0.0 ? -(qq->peer_acc / irqs[qq->proc] * load[qq->proc]) : 0.0;
		qq->peer_acc = 0.0;
	}
	if (cycle == 0)
		return;
	/* statistics over the set (find_overloaded_objs) */
	double sum = 0.0, min_load = 0.0, dev = 0.0;
	for (uint32_t i = 0; i < e->n_set; i++) {
		double l = load[e->set_list[i]];
		sum += l;
		if (i == 0 || l < min_load)
			min_load = l;
	}
	double avg = sum / (double)e->n_set;
	for (uint32_t i = 0; i < e->n_set; i++)
		dev += (load[e->set_list[i]] - avg) * (load[e->set_list[i]] - avg);
	double sd = e->n_set > 1 ? sqrt(dev / (double)(e->n_set - 1)) : 0.0;
	uint32_t *sel = e->bucket, ns = 0;
	uint32_t n_over = 0, n_under = 0, n_powersave = 0, saver = DVMQ_NO_PROCESSOR;
	for (uint32_t i = 0; i < e->n_set; i++) {
		uint32_t p = e->set_list[i];
		struct eng_proc *pp = &e->procs[p];
		n_powersave += (pp->peer & ENG_PEER_POWERSAVE) != 0;
		if (load[p] + sd <= avg) {
			n_under++;
			if (pa->irqb_powerthresh && saver == DVMQ_NO_PROCESSOR && !(pp->peer & ENG_PEER_POWERSAVE))
				saver = p;
		} else if (load[p] - sd >= avg) {
			n_over++;
		}
		if (load[p] > min_load && pp->n_queues > 1)
			pick_overloaded(e, p, load, neg, &min_load, sel, &ns);
	}
	if (pa->irqb_powerthresh && cycle > 5) {
		if (n_over == 0 && n_under >= pa->irqb_powerthresh && saver != DVMQ_NO_PROCESSOR) {
			e->procs[saver].peer |= ENG_PEER_POWERSAVE;
			for (uint32_t q = e->procs[saver].qhead; q != ENG_NIL; q = e->qnext[q]) {
				bool picked = e->queues[q].pinned; /* a pinned queue stays, as a banned irq */
				for (uint32_t k = 0; k < ns && !picked; k++)
					picked = sel[k] == q;
				if (!picked)
					sel[ns++] = q;
			}
		} else if (n_over && n_powersave) {
			for (uint32_t i = 0; i < e->n_set; i++)
				e->procs[e->set_list[i]].peer &= (uint8_t)~ENG_PEER_POWERSAVE;
		}
	}
	if (ns == 0)
		return;
	/* placement (calculate_placement): heaviest first; sources keep their measured load */
	for (uint32_t k = 0; k < ns; k++)
		count[e->queues[sel[k]].proc]--;
	eng_sort_by_key(sel, ns, neg);
	uint32_t *nodes = e->scratch, n_nodes = set_nodes(e, nodes);
	for (uint32_t k = 0; k < ns; k++) {
		uint32_t q = sel[k];
		uint32_t to = place(e, nodes, n_nodes, load, count);
		if (to == DVMQ_NO_PROCESSOR)
			to = e->queues[q].proc; /* nowhere to go: it stays */
		load[to] += -neg[q];
		count[to]++;
		eng_move(e, q, to, DVMQ_REASON_REBALANCE, -neg[q]);
	}
}
