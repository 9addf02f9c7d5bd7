/* VMs whose device comes and goes, for the daemon: the device watcher (src/port/devwatch.h,
 * rtnetlink link events, not polling) tells the control loop when an interface appears, changes
 * or goes; each VM it concerns is checked (run_vm_check_device: attached when its device is
 * there, detached when it went, one log line and a count each). Lost ports (a TAP deleted with
 * its namespace), which no event in this namespace reports, are checked every interval.
 * The rule for a detached VM's queue: it leaves the engine, so its VMQ goes back to the pool (to
 * the heaviest VM waiting); when its device is back it asks for one again by its weight, and an
 * operator's pin on it holds again (docs/config.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../port/devwatch.h"
#include "run_internal.h"

int run_devices_open(struct run *r, struct dvmq_diag *diag)
{
	(void)diag;
	int rc = dvmq_devwatch_open(&r->devwatch);
	if (rc) {
		/* no watcher: devices present at start work, absent ones wait for a reload */
		run_log(r, DVMQ_LOG_WARN, "cannot watch network devices (rtnetlink: %s): a VM whose device is absent "
			"stays detached", strerror(-rc));
		r->devwatch = NULL;
	}
	return 0;
}

void run_devices_close(struct run *r)
{
	dvmq_devwatch_close(r->devwatch);
	r->devwatch = NULL;
}

int run_devices_fd(const struct run *r)
{
	return r->devwatch ? dvmq_devwatch_fd(r->devwatch) : -1;
}

static bool concerns(const struct run_vm *vm, const struct dvmq_devwatch_event *ev)
{
	if (!vm->used || !vm->device[0])
		return false;
	return ev->kind == DVMQ_DEVWATCH_RESYNC || strcmp(ev->ifname, vm->device) == 0 ||
	       (vm->port_open && vm->ifindex == ev->ifindex);
}

static void on_event(void *ctx, const struct dvmq_devwatch_event *ev)
{
	struct run *r = ctx;
	if (ev->kind == DVMQ_DEVWATCH_RESYNC)
		run_log(r, DVMQ_LOG_INFO, "device events were lost: every VM's device checked again");
	for (uint32_t i = 0; i < r->cap_vms; i++)
		if (concerns(&r->vm[i], ev))
			run_vm_check_device(r, i, false);
}

void run_devices_event(struct run *r)
{
	if (!r->devwatch)
		return;
	int n = dvmq_devwatch_read(r->devwatch, on_event, r);
	if (n < 0) {
		run_log(r, DVMQ_LOG_ERR, "device watcher: %s: VMs' devices are no longer followed", strerror(-n));
		run_devices_close(r);
		return;
	}
	if (n > 0 && run_sync_dp(r))
		run_log(r, DVMQ_LOG_ERR, "the data plane failed to follow the engine after a device change");
}

void run_devices_check_lost(struct run *r)
{
	if (!r->dpif->vm_port_lost || !r->dpif_priv)
		return;
	bool any = false;
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		struct run_vm *vm = &r->vm[i];
		if (vm->used && vm->port_open && vm->kind != DVMQ_CONFIG_PORT_SINK && r->dpif->vm_port_lost(r, i)) {
			run_vm_check_device(r, i, true);
			any = true;
		}
	}
	if (any && run_sync_dp(r))
		run_log(r, DVMQ_LOG_ERR, "the data plane failed to follow the engine after a lost port");
}
