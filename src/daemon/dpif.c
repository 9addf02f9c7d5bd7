/* Which data plane a configuration runs on (dpif.h): the uplink's mode. */
#include "dpif.h"

const struct run_dpif_ops *run_dpif_for(const struct dvmq_config *c)
{
	if (c->uplink.port == DVMQ_CONFIG_PORT_KERNEL) {
#ifdef DVMQ_HAVE_KDP
		return &run_dpif_kernel;
#else
		return NULL; /* built without kernel mode (-Dxdp): the daemon says so */
#endif
	}
	return &run_dpif_user;
}
