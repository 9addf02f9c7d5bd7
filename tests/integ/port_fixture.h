/* Fixture for the kernel port tests (test_port_*.c): private network namespaces that die with the
 * test's child process, devices named dvtp*, raw AF_PACKET peers, test frames with a magic and a
 * sequence number, and helpers that wait for frames with a deadline (never a timing assertion). */
#ifndef DVMQ_TEST_PORT_FIXTURE_H
#define DVMQ_TEST_PORT_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dvmq/port.h"

#define PF_MAGIC 0x70766474u /* "tdvp": marks the tests' own frames among the kernel's chatter */

/* Moves the calling process into a new network namespace with IPv6 autoconfiguration off (no
 * router solicitations or DAD frames on test devices) and lo up. Returns NULL, or why the test
 * cannot run here (not root, no namespaces) for SKIP. */
const char *pf_private_net(void);

/* Another namespace, for a peer: returns its descriptor (the caller stays where it was), -1. */
int pf_ns_new(void);
/* Enters namespace fd (pf_ns_new, or pf_ns_self() saved before); returns 0 or -errno. */
int pf_ns_enter(int fd);
int pf_ns_self(void);

/* Runs a shell command line (printf format) in the calling thread's namespace; returns its exit
 * status (0 = success). Output goes to stderr. */
int pf_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A raw AF_PACKET socket on ifname: frames it sends leave through that device, frames it
 * receives arrived on it (its own sends ignored). Returns the descriptor or -errno. */
int pf_raw_open(const char *ifname);
int pf_raw_send(int fd, const uint8_t *frame, uint32_t len);
/* Sends n frames in one sendmmsg batch (and repeats until all went). Returns n or -errno. */
int pf_raw_send_many(int fd, uint8_t *const *frames, const uint32_t *lens, unsigned n);
/* Receives one frame within timeout_ms, the VLAN tag the kernel moved to metadata put back.
 * Returns its length, 0 on timeout, or -errno. */
int pf_raw_recv(int fd, uint8_t *buf, uint32_t cap, int timeout_ms);

/* Builds an Ethernet[/802.1Q]/IPv4/UDP frame of len bytes (>= 64) carrying PF_MAGIC and seq,
 * with valid checksums. Returns len. */
uint32_t pf_frame(uint8_t *buf, uint32_t len, const uint8_t dst[6], const uint8_t src[6], uint16_t vlan,
		  uint32_t seq);
/* The sequence number of a test frame, or -1 when the frame is not one. */
int64_t pf_frame_seq(const uint8_t *frame, uint32_t len);

/* Collects test frames (others are ignored) from port p until `want` arrived or timeout_ms
 * passed, copying each into frames[i] (cap bytes each) and its length into lens[i]; max_burst
 * gets the largest burst rx_burst returned. Blocks in poll() on the port's descriptor.
 * Returns how many arrived, or the first negative rx_burst result other than -EAGAIN. */
int pf_port_collect(struct dvmq_port *p, uint8_t **frames, uint32_t *lens, uint32_t cap, unsigned want,
		    int timeout_ms, unsigned *max_burst);

/* Drops capabilities from the effective set (a list ended by -1). Returns 0 or -errno. */
int pf_drop_caps(const int *caps);

/* Whether an internet checksum over buf (with the pseudo header's sum already in `sum`) is valid. */
bool pf_csum_ok(const uint8_t *buf, uint32_t len, uint32_t sum);

uint64_t pf_now_ms(void);

/* A two-port hub on a thread of its own: whatever one port receives, the other sends, in bursts,
 * blocking in poll() when both are idle (spin: never blocking). With offload, frames travel with
 * their offloads (rx_burst_off / tx_burst_off); without, as complete frames. */
struct pf_fwd;
int pf_fwd_start(struct dvmq_port *a, struct dvmq_port *b, bool offload, bool spin, struct pf_fwd **out);
/* Stops and joins the thread; returns frames forwarded a->b and b->a. NULL is a no-op. */
void pf_fwd_stop(struct pf_fwd *f, uint64_t *a_to_b, uint64_t *b_to_a);

/* TCP between two namespaces: a server in ns_srv on addr:port receives `bytes` of a known
 * pattern that a client in ns_cli sends. Returns 0 when every byte arrived intact within
 * timeout_ms, else -1 with why filled; *gbps gets the transfer's rate (informative only). */
int pf_tcp_transfer(int ns_cli, int ns_srv, const char *addr, uint16_t port, uint64_t bytes, int timeout_ms,
		    double *gbps, char *why, size_t why_len);

/* The two-namespace topology of the TCP tests and the benchmark: namespace A ("external host",
 * 10.9.0.1 on dvtpa) on a veth whose end dvtpb here is the uplink port; namespace B ("VM",
 * 10.9.0.2 on dvtpt) on a TAP port. bridge: no ports, dvtpb and a second veth to B (dvtpc/dvtpd,
 * B's end has 10.9.0.2) on a Linux bridge dvtpbr instead (the baseline). */
typedef int (*pf_open_fn)(const char *, const struct dvmq_port_kopts *, struct dvmq_port **, char *, size_t);
struct pf_topo {
	int here, ns_a, ns_b;
	struct dvmq_port *up, *tap;
};
/* Returns 0, or -errno with err filled (-EOPNOTSUPP: afxdp not built). uplink NULL: bridge. */
int pf_topo_open(struct pf_topo *t, pf_open_fn uplink, const struct dvmq_port_kopts *uplink_opts, bool tap_offload,
		 char *err, size_t err_len);
void pf_topo_close(struct pf_topo *t);

/* UDP round trips from ns_cli to an echo in ns_srv (addr:port), n probes spaced gap_us apart,
 * each waited for up to 1 s. rtt_us[] gets each round trip (lost ones: -1). Returns answered. */
int pf_udp_rtt(int ns_cli, int ns_srv, const char *addr, uint16_t port, unsigned n, unsigned gap_us, double *rtt_us);

#endif
