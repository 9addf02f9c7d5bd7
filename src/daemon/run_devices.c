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
#include <unistd.h>

#include <limits.h>
#include <sys/epoll.h>
#include <sys/inotify.h>

#include "../port/devwatch.h"
#include "run_internal.h"

/* A container's namespace (a VM's `netns`) is followed without polling: inotify on its path's
 * directory says when the namespace comes and goes (an open TAP or socket there holds the namespace
 * alive, so its path going is the container going: dvmq lets go of it then), and a devwatch inside
 * the namespace, while it exists, says when the container's TAP appears or goes. All in one epoll
 * set, one descriptor in the event loop: the inotify as NS_INOTIFY, each VM's devwatch as its slot. */
#define NS_INOTIFY UINT64_MAX

int run_devices_open(struct run *r, struct dvmq_diag *diag)
{
	(void)diag;
	r->ns_ep = epoll_create1(EPOLL_CLOEXEC);
	r->ns_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = NS_INOTIFY };
	if (r->ns_ep >= 0 && r->ns_watch >= 0)
		epoll_ctl(r->ns_ep, EPOLL_CTL_ADD, r->ns_watch, &ev);
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
	for (uint32_t i = 0; i < r->cap_vms; i++)
		if (r->vm[i].nsw) {
			dvmq_devwatch_close(r->vm[i].nsw);
			r->vm[i].nsw = NULL;
		}
	if (r->ns_watch >= 0)
		close(r->ns_watch);
	if (r->ns_ep >= 0)
		close(r->ns_ep);
	r->ns_watch = r->ns_ep = -1;
}

int run_devices_ns_fd(const struct run *r)
{
	return r->ns_ep;
}

/* The VM's devwatch in its namespace follows the namespace's path: opened while it exists (a path
 * not yet mounted as a namespace is tried again each interval), closed when it goes. */
static void ns_sync(struct run *r, uint32_t slot, bool forget)
{
	struct run_vm *vm = &r->vm[slot];
	bool there = !forget && access(vm->netns, F_OK) == 0;
	if (vm->nsw && !there) {
		if (r->ns_ep >= 0)
			epoll_ctl(r->ns_ep, EPOLL_CTL_DEL, dvmq_devwatch_fd(vm->nsw), NULL);
		dvmq_devwatch_close(vm->nsw);
		vm->nsw = NULL;
	} else if (!vm->nsw && there && r->ns_ep >= 0) {
		int rc = dvmq_devwatch_open_netns(vm->netns, &vm->nsw);
		if (rc) {
			vm->nsw = NULL;
			if (rc != -EINVAL && !vm->nsw_warned) /* -EINVAL: the path is there, its mount not yet */
				run_log(r, DVMQ_LOG_WARN, "vm %s: cannot watch network namespace %s: %s (its TAP is "
					"looked for each interval)", vm->name, vm->netns, strerror(-rc));
			vm->nsw_warned = rc != -EINVAL;
			return;
		}
		vm->nsw_warned = false;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = slot };
		epoll_ctl(r->ns_ep, EPOLL_CTL_ADD, dvmq_devwatch_fd(vm->nsw), &ev);
	}
}

void run_devices_follow_netns(struct run *r, uint32_t slot, bool forget)
{
	struct run_vm *vm = &r->vm[slot];
	if (!forget && r->ns_watch >= 0) {
		char dir[PATH_MAX];
		const char *slash = strrchr(vm->netns, '/');
		if (slash && slash != vm->netns) {
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - vm->netns), vm->netns);
			/* a directory watched twice is one watch (inotify returns the same descriptor) */
			if (inotify_add_watch(r->ns_watch, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM) < 0)
				run_log(r, DVMQ_LOG_WARN, "vm %s: cannot watch %s for its network namespace: %s", vm->name,
					dir, strerror(errno));
		}
	}
	ns_sync(r, slot, forget);
}

/* Each VM in a namespace: its devwatch follows the path; the VM is detached when the path is gone
 * (so the namespace can die), and tried again when path and namespace are there. */
static bool ns_check(struct run *r)
{
	bool any = false;
	for (uint32_t i = 0; i < r->cap_vms; i++) {
		struct run_vm *vm = &r->vm[i];
		if (!vm->used || !vm->netns[0])
			continue;
		ns_sync(r, i, false);
		bool there = access(vm->netns, F_OK) == 0;
		if (vm->port_open && !there) {
			run_vm_check_device(r, i, true);
			any = true;
		} else if (!vm->port_open && vm->nsw) { /* a namespace, not just its path (not mounted yet) */
			run_vm_check_device(r, i, false);
			any |= vm->port_open;
		}
	}
	return any;
}

struct ns_ctx {
	struct run *r;
	uint32_t slot;
	bool any;
};

static void on_ns_event(void *ctx, const struct dvmq_devwatch_event *ev)
{
	struct ns_ctx *c = ctx;
	struct run_vm *vm = &c->r->vm[c->slot];
	if (ev->kind != DVMQ_DEVWATCH_RESYNC && strcmp(ev->ifname, vm->device) != 0)
		return;
	if (vm->port_open && ev->kind == DVMQ_DEVWATCH_DEL) {
		run_vm_check_device(c->r, c->slot, true);
		c->any = true;
	} else if (!vm->port_open && ev->kind != DVMQ_DEVWATCH_DEL) {
		run_vm_check_device(c->r, c->slot, false);
		c->any |= vm->port_open;
	}
}

void run_devices_ns_event(struct run *r)
{
	struct epoll_event evs[16];
	int n = epoll_wait(r->ns_ep, evs, 16, 0);
	bool any = false;
	for (int k = 0; k < n; k++) {
		if (evs[k].data.u64 == NS_INOTIFY) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			while (read(r->ns_watch, buf, sizeof(buf)) > 0)
				; /* which names changed matters not: every VM with a netns is checked */
			any |= ns_check(r);
			continue;
		}
		uint32_t slot = (uint32_t)evs[k].data.u64;
		struct run_vm *vm = &r->vm[slot];
		if (slot >= r->cap_vms || !vm->nsw)
			continue; /* closed by an earlier event of this round */
		struct ns_ctx c = { r, slot, false };
		int rc = dvmq_devwatch_read(vm->nsw, on_ns_event, &c);
		if (rc < 0) {
			run_log(r, DVMQ_LOG_ERR, "vm %s: watching network namespace %s: %s", vm->name, vm->netns,
				strerror(-rc));
			ns_sync(r, slot, true);
		}
		any |= c.any;
	}
	if (any && run_sync_dp(r))
		run_log(r, DVMQ_LOG_ERR, "the data plane failed to follow the engine after a namespace change");
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
	/* a namespace whose path appeared before its mount: tried again until it is one */
	for (uint32_t i = 0; i < r->cap_vms; i++)
		if (r->vm[i].used && r->vm[i].netns[0] && !r->vm[i].nsw && !r->vm[i].port_open &&
		    access(r->vm[i].netns, F_OK) == 0) {
			any = ns_check(r);
			break;
		}
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
