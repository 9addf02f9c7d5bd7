/* devwatch (devwatch.h): an rtnetlink socket subscribed to link events, read without blocking.
 * Invariant: every message the kernel delivered is either handed over as an event or skipped
 * because it is not a link message; a lost one (ENOBUFS) becomes a RESYNC, never silence. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devwatch.h"

#define DW_BUF 16384 /* a link message with its stats is ~1.5 KiB; several per read */

struct dvmq_devwatch {
	int fd;
	char *buf;
};

int dvmq_devwatch_open(struct dvmq_devwatch **out)
{
	struct dvmq_devwatch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->buf = malloc(DW_BUF);
	w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	int rc = !w->buf ? -ENOMEM : w->fd < 0 ? -errno : 0;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	if (!rc && bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		rc = -errno;
	if (rc) {
		dvmq_devwatch_close(w);
		return rc;
	}
	*out = w;
	return 0;
}

int dvmq_devwatch_open_netns(const char *netns_path, struct dvmq_devwatch **out)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	int ns = open(netns_path, O_RDONLY | O_CLOEXEC);
	int rc = ns < 0 ? -errno : 0;
	if (!rc && setns(ns, CLONE_NEWNET) != 0)
		rc = -errno;
	if (!rc) {
		rc = dvmq_devwatch_open(out);
		/* back home; if that fails this thread is lost in another namespace: nothing more
		 * may run in it, so abort rather than go on */
		if (setns(self, CLONE_NEWNET) != 0)
			abort();
	}
	if (ns >= 0)
		close(ns);
	close(self);
	return rc;
}

int dvmq_devwatch_fd(const struct dvmq_devwatch *w)
{
	return w->fd;
}

/* One RTM_NEWLINK/RTM_DELLINK into ev. Returns false for anything else or a short message. */
static bool dw_parse(const struct nlmsghdr *nh, struct dvmq_devwatch_event *ev)
{
	if ((nh->nlmsg_type != RTM_NEWLINK && nh->nlmsg_type != RTM_DELLINK) ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return false;
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	memset(ev, 0, sizeof(*ev));
	ev->kind = nh->nlmsg_type == RTM_NEWLINK ? DVMQ_DEVWATCH_NEW : DVMQ_DEVWATCH_DEL;
	ev->ifindex = ifi->ifi_index;
	ev->flags = ifi->ifi_flags;
	int len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)));
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != IFLA_IFNAME)
			continue;
		size_t n = RTA_PAYLOAD(a);
		if (n >= sizeof(ev->ifname))
			n = sizeof(ev->ifname) - 1;
		memcpy(ev->ifname, RTA_DATA(a), n);
		ev->ifname[n] = '\0';
	}
	return true;
}

int dvmq_devwatch_read(struct dvmq_devwatch *w, dvmq_devwatch_fn cb, void *ctx)
{
	int handed = 0;
	for (;;) {
		ssize_t n = recv(w->fd, w->buf, DW_BUF, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return handed;
		if (n < 0 && errno == ENOBUFS) {
			/* the kernel dropped events for us: say so once, then go on reading */
			struct dvmq_devwatch_event ev = { .kind = DVMQ_DEVWATCH_RESYNC };
			cb(ctx, &ev);
			handed++;
			continue;
		}
		if (n < 0)
			return -errno;
		int len = (int)n;
		for (const struct nlmsghdr *nh = (const struct nlmsghdr *)w->buf; NLMSG_OK(nh, (unsigned)len);
		     nh = NLMSG_NEXT(nh, len)) {
			struct dvmq_devwatch_event ev;
			if (dw_parse(nh, &ev)) {
				cb(ctx, &ev);
				handed++;
			}
		}
	}
}

void dvmq_devwatch_close(struct dvmq_devwatch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	free(w);
}
