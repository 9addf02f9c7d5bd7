/* devwatch: network devices that come and go, heard from rtnetlink link events (RTMGRP_LINK), not
 * polled. A daemon watches the devices its VMs name: one that is missing at start (a libvirt VM
 * that is not running: vnet3 exists only while it runs) is attached when the device appears, and
 * detached when it disappears; kernel mode attaches a VM's filter the same way.
 * The watcher is a non-blocking netlink socket in the network namespace of the thread that opens
 * it: poll its descriptor, then dvmq_devwatch_read() hands every pending event to a callback.
 * Events carry the kernel's view of one link at that instant; a rename is a NEWLINK with the new
 * name for the same ifindex. When the kernel had to drop events (the socket's buffer overflowed:
 * ENOBUFS), the callback gets one DVMQ_DEVWATCH_RESYNC: the caller must look again at every
 * device it cares about (if_nametoindex), since any of them may have changed unseen.
 * Thread safety: one thread uses a watcher; watchers are independent. Library code: never prints. */
#ifndef DVMQ_PORT_DEVWATCH_H
#define DVMQ_PORT_DEVWATCH_H

#include <stdbool.h>
#include <stdint.h>

enum dvmq_devwatch_kind {
	DVMQ_DEVWATCH_NEW,    /* the link exists (created, renamed, or its flags changed) */
	DVMQ_DEVWATCH_DEL,    /* the link is gone (deleted, or moved to another namespace) */
	DVMQ_DEVWATCH_RESYNC, /* events were lost: check every device again (name and index empty) */
};

struct dvmq_devwatch_event {
	enum dvmq_devwatch_kind kind;
	int ifindex;
	char ifname[16];
	unsigned flags;       /* IFF_UP, IFF_RUNNING, ... (NEW only) */
};

typedef void (*dvmq_devwatch_fn)(void *ctx, const struct dvmq_devwatch_event *ev);

struct dvmq_devwatch;

/* Opens a watcher in the calling thread's network namespace. Returns 0 or -errno (-EPERM is not
 * expected: link events need no privilege). */
int dvmq_devwatch_open(struct dvmq_devwatch **out);
/* Opens a watcher in the network namespace at netns_path (/run/netns/NAME, /proc/PID/ns/net): the
 * calling thread enters it for the socket's creation only, and is back in its own when this
 * returns, even on failure. The socket holds that namespace alive: close it when the namespace
 * should go (its path removed). Needs CAP_SYS_ADMIN. Returns 0, -ENOENT (no such path), -EINVAL
 * (the path is no namespace, e.g. not mounted yet), -EPERM, or another -errno. */
int dvmq_devwatch_open_netns(const char *netns_path, struct dvmq_devwatch **out);
/* The descriptor to poll for POLLIN (level-triggered). */
int dvmq_devwatch_fd(const struct dvmq_devwatch *w);
/* Hands every pending event to cb, in the kernel's order, and returns how many it handed (0 when
 * none was pending), or -errno when the socket failed otherwise than by overflow. */
int dvmq_devwatch_read(struct dvmq_devwatch *w, dvmq_devwatch_fn cb, void *ctx);
/* NULL: no-op. */
void dvmq_devwatch_close(struct dvmq_devwatch *w);

#endif
