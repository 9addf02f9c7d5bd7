/* xdp_link: the one way dvmq puts an XDP program on a device: a BPF link owned by the calling
 * process, so that the kernel takes the program off the device when the link's last descriptor
 * closes: at a clean stop, on a failed start, on SIGTERM and on kill -9 alike. Never a netlink
 * attach, never libxdp's attach (which falls back to netlink: a program that outlives dvmq and
 * runs every frame the device receives through a program nobody reads).
 * Before attaching, the device is inspected (bpf_xdp_query, each program's name, the BPF links
 * that hold it):
 *  - a program whose name starts with "dvmq" attached without a link (left by an older dvmq's
 *    netlink attach) is removed, with the expected id (XDP_FLAGS_REPLACE), and one log line says
 *    so;
 *  - a dvmq program held by a live link is refused (-EBUSY): another dvmq runs on the device,
 *    and the message names its process (found through /proc/PID/fdinfo's link_id);
 *  - any other program is refused (-EBUSY), named with its id, and left alone.
 * Modes: native, generic, or auto (native, else generic with a line saying that generic XDP is
 * slow). Thread safety: any thread; libbpf calls only, no shared state.
 * Built only with AF_XDP support (DVMQ_HAVE_XDP: libbpf). */
#ifndef DVMQ_PORT_XDP_LINK_H
#define DVMQ_PORT_XDP_LINK_H

#include <stddef.h>
#include <stdint.h>

/* The same numbers as struct dvmq_port_kopts' xdp_mode and the config's xdp_mode. */
enum dvmq_xdp_link_mode {
	DVMQ_XDP_LINK_AUTO = 0,
	DVMQ_XDP_LINK_NATIVE = 1,
	DVMQ_XDP_LINK_GENERIC = 2,
};

/* One log line, complete (it names the device); the caller adds its own prefix and level. */
typedef void (*dvmq_xdp_log_fn)(void *ctx, const char *line);

/* Attaches prog_fd (an XDP program) to ifindex in the calling thread's network namespace through
 * a BPF link, after the inspection above. mode: enum dvmq_xdp_link_mode.
 * On success *link_fd is the link (detach: close(*link_fd); the process's exit does it too) and
 * how (may be NULL) gets "BPF link, native XDP" or "BPF link, generic XDP".
 * log (may be NULL) gets the removal of a stale dvmq program and auto mode's generic line.
 * Returns 0, or a negative errno with err (may be NULL) filled with what is wrong, without a
 * prefix (the caller names itself: "afxdp eth1: " + err):
 *  -EBUSY: another program on the device (named, with its id; a live dvmq's with its PID);
 *  -EPERM: not allowed (CAP_NET_ADMIN, CAP_BPF);
 *  -ENODEV: no such device;
 *  -EOPNOTSUPP or another errno: the mode(s) asked for were refused (err says which). */
int dvmq_xdp_link_attach(int ifindex, int prog_fd, int mode, int *link_fd, char *how, size_t how_len,
			 dvmq_xdp_log_fn log, void *log_ctx, char *err, size_t err_len);

/* What an XDP program on a device is, as the inspection sees it. */
struct dvmq_xdp_attached {
	uint32_t prog_id;
	char name[16];     /* the program's name (BPF names are 15 characters at most) */
	int mode;          /* DVMQ_XDP_LINK_NATIVE, DVMQ_XDP_LINK_GENERIC, or 3: offloaded */
	uint32_t link_id;  /* the BPF link that holds it, 0 when none (a netlink attach) */
	int pid;           /* a process holding that link open, 0 when none was found */
};

/* The programs on ifindex now (one per mode at most, so cap 3 is enough). Returns how many
 * (0: the device is clean), or a negative errno (-ENODEV: no such device). */
int dvmq_xdp_link_inspect(int ifindex, struct dvmq_xdp_attached *out, unsigned cap);

#endif
