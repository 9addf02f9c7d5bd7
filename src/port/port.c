/* The generic part of the port interface. */
#include <string.h>

#include "dvmq/port.h"

void dvmq_port_stats(const struct dvmq_port *p, struct dvmq_port_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (p && p->ops->stats)
		p->ops->stats(p, out);
}

void dvmq_port_destroy(struct dvmq_port *p)
{
	if (p)
		p->ops->destroy(p);
}
