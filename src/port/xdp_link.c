/* xdp_link (xdp_link.h): inspect a device's XDP programs, remove what a dead dvmq left, refuse
 * what belongs to someone else, attach through a BPF link.
 * Invariant: nothing here ever attaches through netlink; the only netlink-side call is the
 * removal of a program named dvmq* that no link holds, with XDP_FLAGS_REPLACE and that
 * program's own descriptor, so that a program attached meanwhile by anyone is never removed. */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "kport.h"
#include "xdp_link.h"

#define XL_OFFLOADED 3

static const char *const xl_mode_names[] = { "auto", "native", "generic", "offloaded" };

static int xl_fail(char *err, size_t err_len, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int xl_fail(char *err, size_t err_len, int rc, const char *fmt, ...)
{
	if (err && err_len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void xl_log(dvmq_xdp_log_fn log, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void xl_log(dvmq_xdp_log_fn log, void *ctx, const char *fmt, ...)
{
	if (!log)
		return;
	char line[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log(ctx, line);
}

/* The program's name, or "" when it cannot be read (gone meanwhile). */
static void xl_prog_name(uint32_t id, char *name, size_t cap)
{
	name[0] = '\0';
	int fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return;
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		snprintf(name, cap, "%.*s", (int)sizeof(info.name), info.name);
	close(fd);
}

/* The XDP link that holds prog_id on ifindex, or 0 (attached through netlink). */
static uint32_t xl_link_of(int ifindex, uint32_t prog_id)
{
	uint32_t id = 0;
	while (bpf_link_get_next_id(id, &id) == 0) {
		int fd = bpf_link_get_fd_by_id(id);
		if (fd < 0)
			continue; /* gone meanwhile */
		struct bpf_link_info info;
		uint32_t len = sizeof(info);
		memset(&info, 0, sizeof(info));
		bool match = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.type == BPF_LINK_TYPE_XDP &&
			     info.prog_id == prog_id && info.xdp.ifindex == (uint32_t)ifindex;
		close(fd);
		if (match)
			return id;
	}
	return 0;
}

/* Whether /proc/PID/fdinfo/FD says "link_id:\t<link_id>". */
static bool xl_fdinfo_has(const char *path, uint32_t link_id)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[128];
	bool found = false;
	unsigned long v;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "link_id: %lu", &v) == 1 && v == link_id;
	fclose(f);
	return found;
}

/* A process that holds link_id open (the first found), or 0 (pinned in bpffs, or gone). */
static int xl_link_pid(uint32_t link_id)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	int pid = 0;
	struct dirent *p;
	while (!pid && (p = readdir(proc))) {
		char *end;
		long v = strtol(p->d_name, &end, 10);
		if (*end || v <= 0)
			continue;
		char dir[64];
		snprintf(dir, sizeof(dir), "/proc/%ld/fdinfo", v);
		DIR *fds = opendir(dir);
		if (!fds)
			continue; /* gone, or not ours to read */
		struct dirent *fe;
		while (!pid && (fe = readdir(fds))) {
			if (fe->d_name[0] == '.')
				continue;
			char path[128];
			snprintf(path, sizeof(path), "%s/%.32s", dir, fe->d_name);
			if (xl_fdinfo_has(path, link_id))
				pid = (int)v;
		}
		closedir(fds);
	}
	closedir(proc);
	return pid;
}

int dvmq_xdp_link_inspect(int ifindex, struct dvmq_xdp_attached *out, unsigned cap)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int rc = bpf_xdp_query(ifindex, 0, &q);
	if (rc)
		return rc;
	const uint32_t ids[3] = { q.drv_prog_id, q.skb_prog_id, q.hw_prog_id };
	const int modes[3] = { DVMQ_XDP_LINK_NATIVE, DVMQ_XDP_LINK_GENERIC, XL_OFFLOADED };
	unsigned n = 0;
	for (int i = 0; i < 3 && n < cap; i++) {
		if (!ids[i])
			continue;
		struct dvmq_xdp_attached *a = &out[n++];
		memset(a, 0, sizeof(*a));
		a->prog_id = ids[i];
		a->mode = modes[i];
		xl_prog_name(ids[i], a->name, sizeof(a->name));
		a->link_id = xl_link_of(ifindex, ids[i]);
		a->pid = a->link_id ? xl_link_pid(a->link_id) : 0;
	}
	return (int)n;
}

static bool xl_is_dvmq(const struct dvmq_xdp_attached *a)
{
	return strncmp(a->name, "dvmq", 4) == 0;
}

/* Takes a dvmq program that no link holds off the device, only if it is still that program. */
static int xl_remove_stale(int ifindex, const char *ifname, const struct dvmq_xdp_attached *a, dvmq_xdp_log_fn log,
			   void *log_ctx, char *err, size_t err_len)
{
	int fd = bpf_prog_get_fd_by_id(a->prog_id);
	if (fd < 0)
		return 0; /* gone meanwhile: nothing to remove */
	LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = fd);
	uint32_t flags = XDP_FLAGS_REPLACE | (a->mode == DVMQ_XDP_LINK_NATIVE    ? XDP_FLAGS_DRV_MODE
					      : a->mode == DVMQ_XDP_LINK_GENERIC ? XDP_FLAGS_SKB_MODE
										  : XDP_FLAGS_HW_MODE);
	int rc = bpf_xdp_detach(ifindex, flags, &o);
	close(fd);
	if (rc == -EPERM || rc == -EACCES)
		return xl_fail(err, err_len, -EPERM, "removing %s (id %u), left on the device by an earlier dvmq, "
			       "needs CAP_NET_ADMIN", a->name, a->prog_id);
	if (rc)
		return xl_fail(err, err_len, rc == -EEXIST ? -EBUSY : rc, "removing %s (id %u), left on the device by an "
			       "earlier dvmq: %s", a->name, a->prog_id, rc == -EEXIST ? "another program replaced it meanwhile"
			       : strerror(-rc));
	xl_log(log, log_ctx, "%s: removed XDP program %s (id %u, %s mode) that an earlier dvmq left attached without "
	       "a link (a netlink attach outlives its process)", ifname, a->name, a->prog_id, xl_mode_names[a->mode]);
	return 0;
}

/* The inspection's verdict: 0 when the device is free (stale dvmq programs removed), else
 * -EBUSY (or the removal's error) with err filled. */
static int xl_clear(int ifindex, const char *ifname, dvmq_xdp_log_fn log, void *log_ctx, char *err, size_t err_len)
{
	struct dvmq_xdp_attached a[3];
	int n = dvmq_xdp_link_inspect(ifindex, a, 3);
	if (n == -ENODEV)
		return xl_fail(err, err_len, n, "no such interface");
	if (n < 0)
		return xl_fail(err, err_len, n, "reading the device's XDP programs: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		if (!xl_is_dvmq(&a[i]))
			return xl_fail(err, err_len, -EBUSY, "another XDP program is attached to the device: %s (id %u, %s "
				       "mode); dvmq leaves it alone",
				       a[i].name[0] ? a[i].name : "(unnamed)", a[i].prog_id, xl_mode_names[a[i].mode]);
		if (a[i].link_id && a[i].pid)
			return xl_fail(err, err_len, -EBUSY, "%s (id %u) is attached by a running dvmq: pid %d%s holds its "
				       "BPF link %u; one dvmq per device", a[i].name, a[i].prog_id, a[i].pid,
				       a[i].pid == getpid() ? " (this process)" : "", a[i].link_id);
		if (a[i].link_id)
			return xl_fail(err, err_len, -EBUSY, "%s (id %u) is held by BPF link %u that no process has open "
				       "(pinned in bpffs? removing the pin detaches it)", a[i].name, a[i].prog_id,
				       a[i].link_id);
	}
	for (int i = 0; i < n; i++) {
		int rc = xl_remove_stale(ifindex, ifname, &a[i], log, log_ctx, err, err_len);
		if (rc)
			return rc;
	}
	return 0;
}

int dvmq_xdp_link_attach(int ifindex, int prog_fd, int mode, int *link_fd, char *how, size_t how_len,
			 dvmq_xdp_log_fn log, void *log_ctx, char *err, size_t err_len)
{
	*link_fd = -1;
	if (mode < DVMQ_XDP_LINK_AUTO || mode > DVMQ_XDP_LINK_GENERIC)
		return xl_fail(err, err_len, -EINVAL, "bad XDP mode %d", mode);
	char ifname[IF_NAMESIZE];
	if (ifindex <= 0 || !if_indextoname((unsigned)ifindex, ifname))
		return xl_fail(err, err_len, -ENODEV, "no such interface");
	int rc = xl_clear(ifindex, ifname, log, log_ctx, err, err_len);
	if (rc)
		return rc;
	static const uint32_t flags[3] = { 0, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE };
	int first = mode == DVMQ_XDP_LINK_GENERIC ? 2 : 1, last = mode == DVMQ_XDP_LINK_NATIVE ? 1 : 2;
	int native_rc = 0;
	for (int m = first; m <= last; m++) {
		LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = flags[m]);
		int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lo);
		if (fd >= 0) {
			*link_fd = fd;
			if (how && how_len)
				snprintf(how, how_len, "BPF link, %s XDP", xl_mode_names[m]);
			if (mode == DVMQ_XDP_LINK_AUTO && m == DVMQ_XDP_LINK_GENERIC)
				xl_log(log, log_ctx, "%s: no native XDP here (%s): generic XDP, which is slow (every frame "
				       "becomes an skb first); `xdp_mode = generic` says it is meant", ifname,
				       strerror(-native_rc));
			return 0;
		}
		rc = -errno;
		if (rc == -EPERM || rc == -EACCES)
			return xl_fail(err, err_len, -EPERM, "attaching an XDP program needs %s",
				       kport_lacks_cap(CAP_NET_ADMIN) ? "CAP_NET_ADMIN"
				       : kport_lacks_cap(CAP_BPF) ? "CAP_BPF" : "CAP_NET_ADMIN and CAP_BPF (a policy refused)");
		if (rc == -EBUSY || rc == -EEXIST)
			return xl_fail(err, err_len, -EBUSY, "another XDP program was attached to the device meanwhile");
		if (m == DVMQ_XDP_LINK_NATIVE)
			native_rc = rc;
	}
	if (mode == DVMQ_XDP_LINK_AUTO)
		return xl_fail(err, err_len, rc, "attaching dvmq's XDP program: native (%s) and generic (%s) refused",
			       strerror(-native_rc), strerror(-rc));
	return xl_fail(err, err_len, rc, "attaching dvmq's XDP program in %s mode: %s", xl_mode_names[first],
		       strerror(-rc));
}
