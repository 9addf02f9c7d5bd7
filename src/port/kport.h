/* kport: what the kernel ports (tap, afpacket, afxdp) share: one-line errors that name the
 * capability a refused operation needs, interface names and lookups, the counters every port
 * keeps, and the scratch space for offloads resolved in software.
 * Counters: rx_* have one writer (the rx thread) and are bumped with a relaxed load and store;
 * tx_* and the rest may have several (tx_burst runs on many threads) and use fetch_add. Readers
 * on any thread see each counter whole, never torn. */
#ifndef DVMQ_PORT_KPORT_H
#define DVMQ_PORT_KPORT_H

#include <linux/capability.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvmq/port.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define KPORT_DEFAULT_MTU 1500u
#define KPORT_DEFAULT_RING_KIB 4096u
/* room beyond the MTU: Ethernet header, two VLAN tags, and slack so that a frame somewhat over
 * the MTU still reaches the parser (which counts it over-mtu) instead of being cut here */
#define KPORT_FRAME_SLACK 256u
#define KPORT_GSO_MAX 65536u /* largest super-frame the kernel hands over (no BIG TCP) */

struct kport_counters {
	_Atomic uint64_t rx_packets, rx_bytes, rx_dropped;
	_Atomic uint64_t tx_packets, tx_bytes, tx_dropped;
	_Atomic uint64_t link_events;
};

/* Single writer (the rx thread). */
static inline void kport_bump1(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

/* One rx burst's outcome: frames handed over, their bytes, frames lost on the way (rx thread). */
static inline void kport_count_rx(struct kport_counters *c, unsigned k, uint64_t bytes, uint64_t dropped)
{
	kport_bump1(&c->rx_packets, k);
	kport_bump1(&c->rx_bytes, bytes);
	if (dropped)
		kport_bump1(&c->rx_dropped, dropped);
}

/* Any number of writers. */
static inline void kport_bump(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

void kport_stats(const struct kport_counters *c, struct dvmq_port_stats *o);

/* Formats "fmt...: strerror(-rc)" into err (when err_len > 0) and returns rc. */
int kport_fail(char *err, size_t err_len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* For an operation the kernel refused with EPERM/EACCES: names the first capability of caps[] the
 * process lacks ("<who>: <what> needs CAP_NET_ADMIN"), or, when it has them all, says that a
 * policy (an LSM, a user namespace, a sysctl) refused. Returns -EPERM. */
int kport_denied(char *err, size_t err_len, const char *who, const char *what, const int *caps, unsigned n_caps);

/* Whether the process lacks capability cap in its effective set (capget). */
bool kport_lacks_cap(int cap);
const char *kport_cap_name(int cap);

/* Checks an interface name (1..15 bytes, no '/', ':' or white space). Returns 0 or -EINVAL
 * with err filled. */
int kport_check_ifname(const char *ifname, const char *kind, char *err, size_t err_len);

/* The mtu and ring options with their defaults applied; NULL options are all defaults. */
uint32_t kport_mtu(const struct dvmq_port_kopts *o);
uint32_t kport_ring_kib(const struct dvmq_port_kopts *o);

/* The interface's flags (IFF_UP, IFF_RUNNING, ...), or -ENODEV when ifindex is gone. */
int kport_ifflags(unsigned ifindex);

/* The rx queues the device uses now (ETHTOOL_GCHANNELS, 1 for drivers without channels): asked
 * in the calling thread's namespace, where /sys/class/net would show the namespace sysfs was
 * mounted in. Returns >= 1, or -errno. */
int kport_rx_queues(unsigned ifindex);

/* Link state for ports the kernel tells nothing (AF_XDP): sampled with one ioctl at most every
 * KPORT_LINK_SAMPLE_MS, from any thread (a race only samples twice). */
#define KPORT_LINK_SAMPLE_MS 100u
struct kport_link {
	unsigned ifindex;
	_Atomic uint64_t next_ms;  /* CLOCK_MONOTONIC_COARSE */
	_Atomic int state;         /* 1 up, 0 down, -ENODEV gone */
};
/* Returns the state, sampling it when due (or now, with force). A change to down or gone
 * counts one link event; *changed (may be NULL) says whether this call saw a change. */
int kport_link_state(struct kport_link *l, struct kport_counters *c, bool force, bool *changed);

#endif
