/* Offered rates of the simulated VMs, evaluated every tick for every VM: the simulator's most
 * frequent computation. Constant loads are evaluated once; a VM whose load is one sine or one
 * burst term reads a clock shared by every VM of the same period (a group's instances differ only
 * in phase), so a tick costs one modulo (and one sine and cosine) per period, not per VM.
 * Invariant: sim_vm_rate() equals scale x dvmq_load_at() of the VM's load; bit for bit for bursts
 * (the same integer phase, the same division), up to rounding for sines, whose angle
 * 2 pi (t + phase) / period is taken as the sum of the clock's angle and the VM's phase angle. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "sim_internal.h"

static uint32_t clock_for(struct sim *m, uint64_t period_ns, bool sine)
{
	uint32_t c = 0;
	while (c < m->n_clocks && m->clocks[c].period_ns != period_ns)
		c++;
	if (c == m->n_clocks)
		m->clocks[m->n_clocks++] = (struct sim_clock){ .period_ns = period_ns };
	m->clocks[c].sine |= sine;
	m->clocks[c].users++;
	return c;
}

int sim_rates_setup(struct sim *m)
{
	m->clocks = calloc(m->n_vms ? m->n_vms : 1, sizeof(*m->clocks));
	if (!m->clocks)
		return -ENOMEM;
	for (uint32_t v = 0; v < m->n_vms; v++) {
		struct sim_vm *vm = &m->vm[v];
		if (vm->shard)
			continue; /* a group's other shards take their lead's rate */
		const struct dvmq_load *l = vm->load;
		const struct dvmq_load_term *t = &l->terms[0];
		vm->rate_kind = SIM_RATE_LOAD;
		if (dvmq_load_is_constant(l)) {
			vm->rate_kind = SIM_RATE_CONST;
			vm->p0 = vm->scale * dvmq_load_at(l, 0);
		} else if (l->n_terms == 1 && (t->kind == DVMQ_LOAD_SINE || t->kind == DVMQ_LOAD_BURST)) {
			bool sine = t->kind == DVMQ_LOAD_SINE;
			vm->clock = clock_for(m, t->period_ns, sine);
			uint64_t phase = t->phase_ns % t->period_ns;
			if (sine) {
				double phi = 2.0 * M_PI * ((double)phase / (double)t->period_ns);
				vm->rate_kind = SIM_RATE_SINE;
				vm->p0 = t->mean;
				vm->p1 = t->amp;
				vm->p2 = cos(phi);
				vm->p3 = sin(phi);
			} else {
				vm->rate_kind = SIM_RATE_BURST;
				vm->p0 = t->on;
				vm->p1 = t->off;
				vm->p2 = t->duty;
				vm->phase_mod = phase;
			}
		}
	}
	/* a clock of one VM costs as much as evaluating its load (a sine clock more): drop it */
	for (uint32_t v = 0; v < m->n_vms; v++) {
		struct sim_vm *vm = &m->vm[v];
		if (!vm->shard && (vm->rate_kind == SIM_RATE_SINE || vm->rate_kind == SIM_RATE_BURST) &&
		    m->clocks[vm->clock].users < 2)
			vm->rate_kind = SIM_RATE_LOAD;
	}
	return 0;
}

void sim_clocks_tick(struct sim *m, uint64_t now)
{
	for (uint32_t i = 0; i < m->n_clocks; i++) {
		struct sim_clock *c = &m->clocks[i];
		if (c->users < 2)
			continue;
		c->t_mod = now % c->period_ns;
		if (c->sine) {
			double theta = 2.0 * M_PI * ((double)c->t_mod / (double)c->period_ns);
			c->sin_t = sin(theta);
			c->cos_t = cos(theta);
		}
	}
}
