/* Which data plane a configuration runs on (dpif.h). */
#include "dpif.h"

const struct run_dpif_ops *run_dpif_for(const struct dvmq_config *c)
{
	(void)c; /* one data plane so far: the kernel steering will be chosen by the uplink's mode */
	return &run_dpif_user;
}
