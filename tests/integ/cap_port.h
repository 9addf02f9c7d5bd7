/* A capturing port for data-plane tests, and a data plane whose uplink and VMs are such ports
 * (struct sfx). The port keeps a copy of every frame it is given (with its
 * offloads, when it offers tx_burst_off) so a test can check what a VM or the uplink received,
 * byte by byte; and it can refuse frames, as a port whose link is down or whose device is gone
 * does (tx_burst takes fewer than it was given). Thread safe (a mutex): several data-plane
 * threads send to one port at once. */
#ifndef DVMQ_TEST_CAP_PORT_H
#define DVMQ_TEST_CAP_PORT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dp_fixture.h"
#include "dvmq/port.h"

#define CAP_KEEP 4096u

enum cap_mode { CAP_TAKE, CAP_REFUSE_ALL, CAP_REFUSE_FIRST };

struct cap_frame {
	uint8_t *data;
	uint32_t len;
	struct dvmq_offload off;
	bool has_off;
	int flooded;
};

struct cap_port {
	struct dvmq_port port;
	pthread_mutex_t lock;
	struct cap_frame f[CAP_KEEP];
	uint32_t n;                /* kept (the first CAP_KEEP) */
	_Atomic uint64_t taken, refused, calls;
	_Atomic int mode;          /* enum cap_mode */
};

static inline unsigned cap_take(struct dvmq_port *p, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
				unsigned n, int flooded)
{
	struct cap_port *c = (struct cap_port *)p;
	atomic_fetch_add(&c->calls, 1);
	int mode = atomic_load(&c->mode);
	unsigned start = mode == CAP_REFUSE_ALL ? n : mode == CAP_REFUSE_FIRST ? 1 : 0;
	if (start > n)
		start = n;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = start; i < n && c->n < CAP_KEEP; i++) {
		struct cap_frame *f = &c->f[c->n];
		f->data = malloc(pkts[i].len ? pkts[i].len : 1);
		if (!f->data)
			break;
		memcpy(f->data, pkts[i].data, pkts[i].len);
		f->len = pkts[i].len;
		f->has_off = off != NULL;
		f->off = off ? off[i] : (struct dvmq_offload){ 0, 0, 0, 0, 0, 0 };
		f->flooded = flooded;
		c->n++;
	}
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_add(&c->taken, n - start);
	atomic_fetch_add(&c->refused, start);
	return n - start;
}

static inline unsigned cap_tx(struct dvmq_port *p, const struct dvmq_pkt *pkts, unsigned n, int flooded)
{
	return cap_take(p, pkts, NULL, n, flooded);
}

static inline unsigned cap_tx_off(struct dvmq_port *p, const struct dvmq_pkt *pkts, const struct dvmq_offload *off,
				  unsigned n, int flooded)
{
	return cap_take(p, pkts, off, n, flooded);
}

static inline void cap_destroy(struct dvmq_port *p)
{
	struct cap_port *c = (struct cap_port *)p;
	for (uint32_t i = 0; i < c->n; i++)
		free(c->f[i].data);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static const struct dvmq_port_ops cap_ops = { .kind = "cap", .tx_burst = cap_tx, .destroy = cap_destroy };
static const struct dvmq_port_ops cap_off_ops = { .kind = "cap-off",
						  .tx_burst = cap_tx,
						  .destroy = cap_destroy,
						  .tx_burst_off = cap_tx_off };

/* A capturing port; with offloads it has tx_burst_off (frames keep their offloads), without it
 * the data plane must resolve them first. NULL: no memory. */
static inline struct cap_port *cap_open(bool offloads)
{
	struct cap_port *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->port.ops = offloads ? &cap_off_ops : &cap_ops;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

static inline uint32_t cap_count(struct cap_port *c)
{
	pthread_mutex_lock(&c->lock);
	uint32_t n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

#define SFX_SEC 1000000000ull
#define NV 8

struct sfx {
	struct dpfx fx;
	struct cap_port *vm[NV], *up;
	uint32_t id[NV];
	uint8_t mac[NV][6];
};

/* A data plane (2 workers, 4 queues, lossless) whose uplink is a capturing port (with
 * tx_burst_off when up_offloads). Returns 0 or -errno. */
static inline int sfx_init(struct sfx *s, bool up_offloads)
{
	memset(s, 0, sizeof(*s));
	int rc = dpfx_init(&s->fx, 2, 4, true, 60 * SFX_SEC);
	if (rc)
		return rc;
	s->up = cap_open(up_offloads);
	return s->up ? dvmq_dp_set_uplink(s->fx.dp, &s->up->port) : -ENOMEM;
}

/* VM i (MAC 02:00:00:00:00:i) on vlan, its port a capturing one (with tx_burst_off: offloads). */
static inline int sfx_vm(struct sfx *s, uint32_t i, uint16_t vlan, bool offloads)
{
	fx_mac(s->mac[i], i);
	s->vm[i] = cap_open(offloads);
	if (!s->vm[i])
		return -ENOMEM;
	return dvmq_dp_vm_add(s->fx.dp, s->mac[i], vlan, 0.0, &s->vm[i]->port, &s->id[i]);
}

static inline void sfx_fini(struct sfx *s)
{
	dpfx_fini(&s->fx);
	for (int i = 0; i < NV; i++)
		if (s->vm[i])
			dvmq_port_destroy(&s->vm[i]->port);
	if (s->up)
		dvmq_port_destroy(&s->up->port);
}


#endif
