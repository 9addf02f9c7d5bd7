/* devwatch (src/port/devwatch.h): devices that come and go, heard from rtnetlink, in a private
 * network namespace on devices named dvtw* (root; skipped with the reason otherwise). */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "../../src/port/devwatch.h"
#include "port_fixture.h"

#define MAX_EV 256

struct evlog {
	unsigned n, resync;
	struct dvmq_devwatch_event ev[MAX_EV];
};

static void keep(void *ctx, const struct dvmq_devwatch_event *ev)
{
	struct evlog *l = ctx;
	l->resync += ev->kind == DVMQ_DEVWATCH_RESYNC;
	if (l->n < MAX_EV)
		l->ev[l->n++] = *ev;
}

/* Reads what is pending within 1 s (events follow the command that caused them at once). */
static int drain(struct dvmq_devwatch *w, struct evlog *l)
{
	int total = 0;
	for (;;) {
		struct pollfd p = { .fd = dvmq_devwatch_fd(w), .events = POLLIN };
		if (poll(&p, 1, total ? 50 : 1000) <= 0)
			return total;
		int n = dvmq_devwatch_read(w, keep, l);
		if (n < 0)
			return n;
		total += n;
	}
}

/* The last event about ifname: its kind, or -1 when none was seen. */
static int last_kind(const struct evlog *l, const char *ifname, int *ifindex)
{
	int k = -1;
	for (unsigned i = 0; i < l->n; i++)
		if (strcmp(l->ev[i].ifname, ifname) == 0) {
			k = (int)l->ev[i].kind;
			if (ifindex)
				*ifindex = l->ev[i].ifindex;
		}
	return k;
}

TEST(port_devwatch_hears_devices_come_and_go)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct dvmq_devwatch *w;
	CHECK(dvmq_devwatch_open(&w) == 0);
	struct evlog l = { 0 };
	CHECK(pf_sh("ip link add dvtw0 type veth peer name dvtw1") == 0);
	CHECK(drain(w, &l) > 0);
	int idx0 = 0;
	CHECK(last_kind(&l, "dvtw0", &idx0) == DVMQ_DEVWATCH_NEW && idx0 == (int)if_nametoindex("dvtw0"));
	CHECK(last_kind(&l, "dvtw1", NULL) == DVMQ_DEVWATCH_NEW);
	/* up: a NEWLINK with IFF_UP */
	memset(&l, 0, sizeof(l));
	CHECK(pf_sh("ip link set dvtw0 up") == 0);
	CHECK(drain(w, &l) > 0);
	CHECK(last_kind(&l, "dvtw0", NULL) == DVMQ_DEVWATCH_NEW && (l.ev[l.n - 1].flags & IFF_UP));
	/* a rename: the new name, same index */
	memset(&l, 0, sizeof(l));
	CHECK(pf_sh("ip link set dvtw1 name dvtw2") == 0);
	CHECK(drain(w, &l) > 0);
	int idx2 = 0;
	CHECK(last_kind(&l, "dvtw2", &idx2) == DVMQ_DEVWATCH_NEW && idx2 == (int)if_nametoindex("dvtw2"));
	/* moved to another namespace: gone from this one */
	memset(&l, 0, sizeof(l));
	char ns[32];
	snprintf(ns, sizeof(ns), "dvtw%d", (int)getpid());
	CHECK(pf_sh("ip netns add %s && ip link set dvtw2 netns %s; rc=$?; ip netns del %s; exit $rc", ns, ns, ns) == 0);
	CHECK(drain(w, &l) > 0); /* dvtw0 goes with its peer, some time later */
	CHECK_MSG(last_kind(&l, "dvtw2", NULL) == DVMQ_DEVWATCH_DEL, "%u events", l.n);
	/* deleted */
	CHECK(pf_sh("ip link add dvtw5 type bridge") == 0);
	memset(&l, 0, sizeof(l));
	CHECK(pf_sh("ip link del dvtw5") == 0);
	CHECK(drain(w, &l) > 0);
	CHECK(last_kind(&l, "dvtw5", NULL) == DVMQ_DEVWATCH_DEL);
	CHECK(l.resync == 0);
	dvmq_devwatch_close(w);
}

/* events the kernel had to drop are one RESYNC, not silence nor an error */
TEST(port_devwatch_lost_events_become_a_resync)
{
	const char *skip = pf_private_net();
	if (skip)
		SKIP("%s", skip);
	struct dvmq_devwatch *w;
	CHECK(dvmq_devwatch_open(&w) == 0);
	int small = 1; /* the kernel's minimum: a few link messages */
	CHECK(setsockopt(dvmq_devwatch_fd(w), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) == 0);
	CHECK(pf_sh("for i in $(seq 0 15); do ip link add dvtw$i type veth peer name dvtwp$i; done") == 0);
	struct evlog l = { 0 };
	int n = drain(w, &l);
	CHECK_MSG(n > 0 && l.resync >= 1, "read %d, resync %u", n, l.resync);
	dvmq_devwatch_close(w);
}
