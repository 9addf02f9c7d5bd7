/* Sleeping workers and their wake-ups (src/dp/worker.c): at most one eventfd write per worker
 * per classify call, whatever the number of its queues that got frames; a full ring while its
 * owner sleeps drops exactly what does not fit (lossy) and the owner still wakes; rings hold
 * queue_depth frames of the configured frame size; and no wake-up is ever lost when frames
 * arrive just as a worker goes to sleep. No timing is asserted: only counts, and deadlines far
 * longer than anything takes. */
#include <sched.h>
#include <time.h>

#include "../../src/dp/ring.h"
#include "../harness.h"
#include "dp_fixture.h"

#define SEC 1000000000ull

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static struct dvmq_dp_worker_stats wstats(const struct dpfx *fx, uint32_t w)
{
	struct dvmq_dp_worker_stats st;
	dvmq_dp_worker_stats(fx->dp, w, &st);
	return st;
}

/* Waits until worker w is blocked on its eventfd and nobody has woken it: `asleep`, the same
 * sleep for 2 ms (an eventfd write made while it was awake, by a handoff or dvmq_dp_drain, makes
 * its next sleep return at once). Returns false after 10 s. */
static bool asleep(const struct dpfx *fx, uint32_t w)
{
	uint64_t until = now_ns() + 10 * SEC;
	while (now_ns() < until) {
		struct dvmq_dp_worker_stats a = wstats(fx, w);
		if (a.asleep && a.sleeps > a.wakeups) {
			struct timespec pause = { 0, 2000000 };
			nanosleep(&pause, NULL);
			struct dvmq_dp_worker_stats b = wstats(fx, w);
			if (b.asleep && b.sleeps == a.sleeps && b.wakeups == a.wakeups)
				return true;
		}
		sched_yield();
	}
	return false;
}

/* Waits until VM i's sink got n frames. Returns false after 10 s. */
static bool delivered(const struct dpfx *fx, uint32_t i, uint64_t n)
{
	uint64_t until = now_ns() + 10 * SEC;
	while (dpfx_sink(fx, i).tx_packets < n)
		if (now_ns() > until)
			return false;
		else
			sched_yield();
	return true;
}

/* n frames for VM i, in one array (64-byte frames from an uplink MAC). */
static void frames_for(struct dvmq_pkt *p, uint8_t (*buf)[64], unsigned n, const uint32_t *vm_of)
{
	uint8_t up[6];
	fx_mac(up, 0x99);
	for (unsigned k = 0; k < n; k++) {
		uint8_t dst[6];
		fx_mac(dst, vm_of[k]);
		p[k] = (struct dvmq_pkt){ buf[k], fx_frame(buf[k], dst, up, 0), 0 };
	}
}

/* Issue 8 §3: one wake-up per burst. Worker 0 sleeps owning four queues, worker 1 sleeps owning
 * two: a burst spread over all six queues writes each worker's eventfd exactly once. */
TEST(dp_one_wakeup_per_worker_per_burst)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 2, 7, true, 60 * SEC) == 0);
	for (uint32_t i = 1; i <= 6; i++) {
		CHECK(dpfx_vm(&fx, i, 0, 0, 1) == 0);
		CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[i], i) == 0);
		CHECK(dvmq_dp_move(fx.dp, i, i <= 4 ? 0 : 1) == 0);
	}
	static uint8_t buf[48][64];
	struct dvmq_pkt p[48];
	uint32_t vm_of[48];
	for (unsigned k = 0; k < 48; k++)
		vm_of[k] = 1 + k % 6;
	frames_for(p, buf, 48, vm_of);
	/* the first burst of each VM carries its rebind barrier; the next ones are measured (waits
	 * watch the sinks, not dvmq_dp_drain: drain writes eventfds) */
	CHECK(dvmq_dp_classify(fx.dp, p, 48) == 48);
	CHECK(delivered(&fx, 6, 8));
	for (int round = 0; round < 20; round++) {
		CHECK(asleep(&fx, 0) && asleep(&fx, 1));
		uint64_t w0 = wstats(&fx, 0).wake_writes, w1 = wstats(&fx, 1).wake_writes;
		CHECK(dvmq_dp_classify(fx.dp, p, 48) == 48);
		uint64_t d0 = wstats(&fx, 0).wake_writes - w0, d1 = wstats(&fx, 1).wake_writes - w1;
		CHECK_MSG(d0 == 1 && d1 == 1, "round %d: %llu and %llu eventfd writes", round, (unsigned long long)d0,
			  (unsigned long long)d1);
		CHECK(delivered(&fx, 6, 8u * (round + 2)));
	}
	CHECK(dvmq_dp_drain(fx.dp, 10 * SEC) == 0);
	for (uint32_t i = 1; i <= 6; i++)
		CHECK(dpfx_sink(&fx, i).tx_packets == 8 * 21);
	dpfx_fini(&fx);
}

/* One eventfd write per sleep: classify calls that follow the one that woke a worker, before it
 * runs again, find it taken and write nothing (each write is a syscall the uplink pays). */
TEST(dp_one_eventfd_write_per_sleep_whatever_the_calls_meanwhile)
{
	struct dpfx fx;
	CHECK(dpfx_init(&fx, 1, 2, true, 60 * SEC) == 0);
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 1) == 0);
	static uint8_t buf[1][64];
	struct dvmq_pkt p[1];
	const uint32_t vm_of[1] = { 1 };
	frames_for(p, buf, 1, vm_of);
	CHECK(dvmq_dp_classify(fx.dp, p, 1) == 1 && delivered(&fx, 1, 1));
	uint64_t sent = 1;
	for (int round = 0; round < 20; round++) {
		CHECK(asleep(&fx, 0));
		struct dvmq_dp_worker_stats before = wstats(&fx, 0);
		for (int k = 0; k < 200; k++, sent++)
			CHECK(dvmq_dp_classify(fx.dp, p, 1) == 1);
		CHECK(delivered(&fx, 1, sent));
		struct dvmq_dp_worker_stats after = wstats(&fx, 0);
		uint64_t writes = after.wake_writes - before.wake_writes, sleeps = after.sleeps - before.sleeps;
		/* the sleep it was in, and each one it began meanwhile, woken once each */
		CHECK_MSG(writes >= 1 && writes <= sleeps + 1, "round %d: %llu eventfd writes for %llu new sleeps", round,
			  (unsigned long long)writes, (unsigned long long)sleeps);
	}
	dpfx_fini(&fx);
}

/* Issue 8 §3: lossy overflow while the owner sleeps. The owner is asleep for the whole classify
 * call (it is woken at its end), so the ring takes exactly queue_depth frames of frame_bytes
 * (wherever the ring's head is: after the first frame's rebind barrier here) and the rest are
 * dropped and counted; then the owner wakes once and delivers all it took. */
TEST(dp_lossy_overflow_while_the_owner_sleeps_takes_exactly_the_depth)
{
	struct dpfx fx;
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 2, .queue_depth = 256, .frame_bytes = 64,
				      .mtu = 1500, .max_vms = 4, .fdb_size = 16, .fdb_age_ns = 60 * SEC };
	CHECK(dpfx_init_cfg(&fx, cfg, false) == 0);
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 1) == 0);
	static uint8_t buf[1000][64];
	static struct dvmq_pkt p[1000];
	static uint32_t vm_of[1000];
	for (unsigned k = 0; k < 1000; k++)
		vm_of[k] = 1;
	frames_for(p, buf, 1000, vm_of);
	for (int round = 0; round < 3; round++) {
		CHECK(asleep(&fx, 0));
		uint64_t writes = wstats(&fx, 0).wake_writes;
		unsigned took = dvmq_dp_classify(fx.dp, p, 1000);
		CHECK_MSG(took == 256, "round %d: the ring took %u frames", round, took);
		CHECK(wstats(&fx, 0).wake_writes == writes + 1);
		CHECK(delivered(&fx, 1, 256u * (round + 1)));
	}
	struct dvmq_dp_counters c;
	dvmq_dp_counters(fx.dp, &c);
	struct dvmq_dp_queue_stats q;
	dvmq_dp_queue_stats(fx.dp, 1, &q);
	CHECK_MSG(c.overflow == 3 * 744 && q.dropped == 3 * 744 && q.packets == 3 * 256 && c.vmq_delivered == 3 * 256,
		  "overflow %llu, served %llu", (unsigned long long)c.overflow, (unsigned long long)q.packets);
	CHECK(dpfx_sink(&fx, 1).tx_packets == 3 * 256);
	dpfx_fini(&fx);
}

/* Issue 8 §2: rings are sized by the frames they carry: (queue_depth + 1) frames of frame_bytes
 * in cells (the extra one for a wrap's skip and a rebind barrier), at least four MTU-sized
 * frames and two 64 KiB super-frames (issue 9: offloads), rounded up to a power of two; not
 * 2 KiB per slot whatever the size (1 MiB at least). */
TEST(dp_rings_are_sized_by_frame_bytes)
{
	static const struct {
		uint32_t depth, frame_bytes, mtu;
	} cases[] = { { 255, 64, 1500 }, { 1024, 64, 1500 }, { 256, 1500, 1500 }, { 256, 0, 1500 }, { 8, 64, 9000 },
		       { 4096, 64, 1500 }, { 2048, 0, 9000 } };
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 2, .queue_depth = cases[i].depth,
					      .frame_bytes = cases[i].frame_bytes, .mtu = cases[i].mtu, .max_vms = 1,
					      .fdb_size = 1, .fdb_age_ns = SEC };
		struct dvmq_dp *dp;
		CHECK(dvmq_dp_create(&cfg, &dp) == 0);
		struct dvmq_dp_queue_stats q;
		dvmq_dp_queue_stats(dp, 1, &q);
		dvmq_dp_destroy(dp);
		/* a frame with its 16-byte header, in whole cells */
		uint32_t frame = cases[i].frame_bytes ? cases[i].frame_bytes : cases[i].mtu + 18;
		uint64_t rec = ((16u + frame + RING_CELL - 1) / RING_CELL) * RING_CELL;
		uint64_t jumbo = ((16u + cases[i].mtu + 18 + RING_CELL - 1) / RING_CELL) * RING_CELL;
		/* and two of the largest super-frame, its offload cell and a barrier's */
		uint64_t super = 2 * (((16u + DVMQ_DP_FRAME_MAX + RING_CELL - 1) / RING_CELL) * RING_CELL + 2 * RING_CELL);
		uint64_t least = 4 * jumbo > super ? 4 * jumbo : super;
		uint64_t need = (cases[i].depth + 1) * rec > least ? (cases[i].depth + 1) * rec : least;
		CHECK_MSG((q.ring_bytes & (q.ring_bytes - 1)) == 0 && q.ring_bytes >= need && q.ring_bytes < 2 * need,
			  "case %u: %llu bytes for %llu needed", i, (unsigned long long)q.ring_bytes,
			  (unsigned long long)need);
	}
}

/* Issue 8 §2: no lost wake-up. Frames arrive one at a time, each as near as this machine allows
 * to the moment the worker gives up spinning and goes to sleep (the window where a missing fence
 * lets both sides miss each other's store): the gap after each delivery follows a staircase
 * around that moment (shorter after a frame that had to wake the worker, longer after one it
 * took while spinning), with a little jitter, 8,000 times; the worker and this thread on CPUs of
 * their own, so that the moment is this thread's to choose. Each frame is delivered (a lost
 * wake-up leaves the worker asleep with the frame queued until the 10 s deadline). */
TEST(dp_no_wakeup_is_lost_when_frames_arrive_as_the_worker_sleeps)
{
	/* the worker on CPU 0, this thread (the classifier) on CPU 1 when there is one: neither
	 * waits for the other's time slice, so the gap is what this thread spins */
	static const int cpu0[1] = { 0 };
	struct dvmq_dp_config cfg = { .n_workers = 1, .n_queues = 2, .queue_depth = 1024, .mtu = 1500,
				      .max_vms = FX_MAX_VMS, .fdb_size = 64, .fdb_age_ns = 60 * SEC, .lossless = true,
				      .cpus = cpu0 };
	struct dpfx fx;
	CHECK(dpfx_init_cfg(&fx, cfg, false) == 0);
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(1, &one);
	sched_setaffinity(0, sizeof(one), &one); /* best effort: a one-CPU machine keeps it shared */
	CHECK(dpfx_vm(&fx, 1, 0, 0, 1) == 0);
	CHECK(dvmq_dp_vm_set_queue(fx.dp, fx.vm[1], 1) == 0);
	uint8_t f[64], a[6], up[6];
	fx_mac(a, 1), fx_mac(up, 0x99);
	unsigned seed = 11;
	uint64_t gap = 20000, woke = 0, took = 0; /* the worker spins 20 us before it sleeps */
	/* 8,000 frames, and on to 40,000 while either side of the boundary has been seen 100 times
	 * or less (a loaded machine, or a sanitizer's slower worker, stays near it less often) */
	uint32_t n = 1;
	for (; n <= 8000 || (n <= 40000 && (woke <= 100 || took <= 100)); n++) {
		uint64_t before = wstats(&fx, 0).wakeups;
		fx_send(&fx, f, fx_frame(f, a, up, 0));
		uint64_t until = now_ns() + 10 * SEC;
		/* polled without yielding: the gap must start when the worker went idle, not a time
		 * slice later */
		while (dpfx_sink(&fx, 1).tx_packets < n)
			CHECK_MSG(now_ns() < until, "frame %u waited 10 s: its worker slept through it", n);
		if (wstats(&fx, 0).wakeups > before) { /* it was asleep: come sooner */
			woke++;
			gap = gap > 200 ? gap - 200 : 0;
		} else { /* taken while spinning: come later */
			took++;
			gap += 200;
		}
		uint64_t wait = gap + (uint64_t)(rand_r(&seed) % 400u), t0 = now_ns();
		while (now_ns() - t0 < wait)
			;
	}
	/* the staircase stayed at the boundary: both sides of it, many times (with both fences
	 * removed, the first lost wake-up came within 40 frames in each of 11 runs; with one of them
	 * removed, within 3,400 in each of 6) */
	dpfx_fini(&fx);
	/* no frame was lost; but where this machine could not keep the frames at the boundary, the
	 * run did not test it: said as a skip, not counted as a pass */
	if (woke <= 100 || took <= 100)
		SKIP("this machine kept the frames off the sleep boundary: %llu of %u frames woke the worker, %llu "
		     "found it spinning (none lost; the window was not exercised)", (unsigned long long)woke, n - 1,
		     (unsigned long long)took);
}
