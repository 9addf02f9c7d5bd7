/* Fault injection (src/dp/fault.h): every fallible call on the data plane's create and control
 * paths, and in the ports' constructors, is made to fail in turn; each failure must come back as
 * the injected errno and leave nothing behind (no leak: LeakSanitizer in the ASan build; no
 * descriptor: counted here; no thread: the child process exits cleanly). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "../../src/fault/fault.h"
#include "../harness.h"
#include "dp_fixture.h"

#define SEC 1000000000ull

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static const struct dvmq_dp_config fault_cfg = { .n_workers = 3, .n_queues = 4, .queue_depth = 64, .mtu = 1500,
						 .max_vms = 4, .fdb_size = 16, .fdb_age_ns = SEC };

TEST(dp_create_fails_cleanly_at_every_fallible_call)
{
	int fds = count_fds();
	bool seen_nomem = false, seen_emfile = false, seen_eagain = false;
	unsigned long n;
	for (n = 1; n < 10000; n++) {
		struct dvmq_dp *dp = NULL;
		dvmq_fault_arm(n);
		int rc = dvmq_dp_create(&fault_cfg, &dp);
		int injected = dvmq_fault_injected();
		dvmq_fault_arm(0);
		if (rc == 0) {
			CHECK(injected == 0 && dp != NULL);
			dvmq_dp_destroy(dp);
			break;
		}
		CHECK_MSG(rc == injected && injected != 0, "call %lu: create returned %d, injected %d", n, rc, injected);
		seen_nomem |= rc == -ENOMEM;
		seen_emfile |= rc == -EMFILE;
		seen_eagain |= rc == -EAGAIN;
		CHECK_MSG(fcntl(0, F_GETFD) != -1, "call %lu: descriptor 0 was closed", n);
		CHECK_MSG(count_fds() == fds, "call %lu: %d descriptors open, %d before", n, count_fds(), fds);
	}
	CHECK_MSG(n > 10 && n < 10000, "create made %lu fallible calls", n - 1);
	/* every kind of failure was walked: allocations, eventfds, worker threads (some started) */
	CHECK(seen_nomem && seen_emfile && seen_eagain);
	CHECK(count_fds() == fds);
}

/* The control calls that allocate (vm_add) fail cleanly too, and leave the data plane usable:
 * the VMs added before and after still get their frames, and destroy frees everything. */
TEST(dp_vm_add_fails_cleanly_and_leaves_the_data_plane_working)
{
	struct dvmq_dp *dp;
	struct dvmq_port *sink[3] = { 0 };
	CHECK(dvmq_dp_create(&fault_cfg, &dp) == 0);
	dvmq_dp_thread_register();
	uint8_t mac[6], up[6], f[64];
	fx_mac(up, 0x99);
	uint32_t id[3];
	int ok = 1;
	for (uint32_t i = 0; i < 3 && ok; i++) {
		fx_mac(mac, i + 1);
		ok = dvmq_port_sink_open("vm", 0, 0, 1500, NULL, &sink[i]) == 0;
		int rc = -1;
		for (unsigned long n = 1; ok && n < 100; n++) {
			dvmq_fault_arm(n);
			rc = dvmq_dp_vm_add(dp, mac, 0, 0.0, sink[i], &id[i]);
			int injected = dvmq_fault_injected();
			dvmq_fault_arm(0);
			if (rc == 0)
				break;
			ok = rc == -ENOMEM && injected == -ENOMEM;
		}
		ok = ok && rc == 0 && dvmq_dp_vm_set_queue(dp, id[i], i + 1) == 0;
	}
	for (uint32_t i = 0; i < 3 && ok; i++) {
		fx_mac(mac, i + 1);
		fx_send_dp(dp, f, fx_frame(f, mac, up, 0));
	}
	ok = ok && dvmq_dp_drain(dp, 10 * SEC) == 0;
	for (uint32_t i = 0; i < 3 && ok; i++)
		ok = dpfx_sink_packets(sink[i]) == 1;
	dvmq_dp_thread_unregister();
	dvmq_dp_destroy(dp);
	for (uint32_t i = 0; i < 3; i++)
		dvmq_port_destroy(sink[i]);
	CHECK(ok);
}

static int open_ports(struct dvmq_port **out)
{
	struct dvmq_gen_vm g[2] = { { .mac = { 2, 0, 0, 0, 0, 1 }, .frame_bytes = 64, .flows = 3 },
				    { .mac = { 2, 0, 0, 0, 0, 2 }, .vlan = 5, .frame_bytes = 128, .flows = 2,
				      .flow_base = 3 } };
	char err[256];
	int rc = dvmq_port_gen_open("gen", g, 2, &out[0]);
	if (!rc)
		rc = dvmq_port_sink_open("sink", 0, 4, 1500, NULL, &out[1]);
	if (!rc)
		rc = dvmq_port_pcap_open_read(DVMQ_SOURCE_ROOT "/tests/data/pcaps/zeek_mapi.pcap", &out[2], err,
					      sizeof(err));
	if (!rc)
		rc = dvmq_port_pcap_open_write("/dev/null", &out[3], err, sizeof(err));
	return rc;
}

/* The ports' constructors, through the same hook: each failure returns -ENOMEM, leaks nothing. */
TEST(dp_ports_open_fails_cleanly_at_every_allocation)
{
	unsigned long n;
	for (n = 1; n < 1000; n++) {
		struct dvmq_port *p[4] = { 0 };
		dvmq_fault_arm(n);
		int rc = open_ports(p);
		int injected = dvmq_fault_injected();
		dvmq_fault_arm(0);
		for (int i = 0; i < 4; i++)
			dvmq_port_destroy(p[i]);
		if (rc == 0) {
			CHECK(injected == 0);
			break;
		}
		CHECK_MSG(rc == -ENOMEM && injected == -ENOMEM, "allocation %lu: rc %d, injected %d", n, rc, injected);
	}
	CHECK_MSG(n > 8 && n < 1000, "the ports made %lu allocations", n - 1);
}
