/* pcap: replay a capture into the data plane (reader) or record what a port receives (writer),
 * through libpcap. The writer serialises tx_burst callers with a mutex: it is a debugging and
 * test tool, not a fast path. */
#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "../fault/fault.h"
#include "dvmq/port.h"

#define PCAP_SNAP 65535u

struct pcap_port {
	struct dvmq_port port;
	pcap_t *pc;
	pcap_dumper_t *dump;
	pthread_mutex_t lock;
	uint8_t *buf;           /* reader: DVMQ_BURST copies */
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
};

static int pcap_rx(struct dvmq_port *port, struct dvmq_pkt *pkts, unsigned n)
{
	struct pcap_port *p = (struct pcap_port *)port;
	unsigned k = 0;
	if (n > DVMQ_BURST)
		n = DVMQ_BURST;
	while (k < n) {
		struct pcap_pkthdr *h;
		const u_char *data;
		int rc = pcap_next_ex(p->pc, &h, &data);
		if (rc != 1)
			break; /* -2: end of file; -1: read error, reported as the end too */
		uint32_t len = h->caplen < PCAP_SNAP ? h->caplen : PCAP_SNAP;
		uint8_t *dst = p->buf + (size_t)k * PCAP_SNAP;
		memcpy(dst, data, len);
		pkts[k].data = dst;
		pkts[k].len = len;
		pkts[k].ts_ns = 0;
		p->rx_bytes += len;
		k++;
	}
	p->rx_packets += k;
	return k == 0 ? -ENODATA : (int)k;
}

static unsigned pcap_tx(struct dvmq_port *port, const struct dvmq_pkt *pkts, unsigned n, int flooded)
{
	(void)flooded;
	struct pcap_port *p = (struct pcap_port *)port;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < n; i++) {
		struct pcap_pkthdr h = { .ts = tv, .caplen = pkts[i].len, .len = pkts[i].len };
		pcap_dump((u_char *)p->dump, &h, pkts[i].data);
		p->tx_bytes += pkts[i].len;
	}
	p->tx_packets += n;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void pcap_port_stats(const struct dvmq_port *port, struct dvmq_port_stats *o)
{
	struct pcap_port *p = (struct pcap_port *)(uintptr_t)port;
	pthread_mutex_lock(&p->lock);
	o->rx_packets = p->rx_packets;
	o->rx_bytes = p->rx_bytes;
	o->tx_packets = p->tx_packets;
	o->tx_bytes = p->tx_bytes;
	pthread_mutex_unlock(&p->lock);
}

static void pcap_port_destroy(struct dvmq_port *port)
{
	struct pcap_port *p = (struct pcap_port *)port;
	if (p->dump)
		pcap_dump_close(p->dump);
	if (p->pc)
		pcap_close(p->pc);
	pthread_mutex_destroy(&p->lock);
	free(p->buf);
	free(p);
}

static const struct dvmq_port_ops pcap_read_ops = {
	.kind = "pcap",
	.rx_burst = pcap_rx,
	.stats = pcap_port_stats,
	.destroy = pcap_port_destroy,
};

static const struct dvmq_port_ops pcap_write_ops = {
	.kind = "pcap",
	.tx_burst = pcap_tx,
	.stats = pcap_port_stats,
	.destroy = pcap_port_destroy,
};

static struct pcap_port *pcap_port_new(const struct dvmq_port_ops *ops, const char *path)
{
	struct pcap_port *p = fault_zalloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->port.ops = ops;
	snprintf(p->port.name, sizeof(p->port.name), "%s", path);
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

int dvmq_port_pcap_open_read(const char *path, struct dvmq_port **out, char *err, size_t err_len)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_port *p = pcap_port_new(&pcap_read_ops, path);
	if (!p)
		return -ENOMEM;
	p->buf = fault_zalloc(1, (size_t)PCAP_SNAP * DVMQ_BURST);
	if (!p->buf) {
		pcap_port_destroy(&p->port);
		return -ENOMEM;
	}
	p->pc = pcap_open_offline(path, ebuf);
	if (!p->pc) {
		snprintf(err, err_len, "%s: %s", path, ebuf);
		pcap_port_destroy(&p->port);
		return -ENOENT;
	}
	if (pcap_datalink(p->pc) != DLT_EN10MB) {
		snprintf(err, err_len, "%s: not an Ethernet capture (link type %s)", path,
			 pcap_datalink_val_to_name(pcap_datalink(p->pc)));
		pcap_port_destroy(&p->port);
		return -EINVAL;
	}
	*out = &p->port;
	return 0;
}

int dvmq_port_pcap_open_write(const char *path, struct dvmq_port **out, char *err, size_t err_len)
{
	struct pcap_port *p = pcap_port_new(&pcap_write_ops, path);
	if (!p)
		return -ENOMEM;
	p->pc = pcap_open_dead(DLT_EN10MB, (int)PCAP_SNAP);
	p->dump = p->pc ? pcap_dump_open(p->pc, path) : NULL;
	if (!p->dump) {
		snprintf(err, err_len, "%s: %s", path, p->pc ? pcap_geterr(p->pc) : "out of memory");
		pcap_port_destroy(&p->port);
		return -EIO;
	}
	*out = &p->port;
	return 0;
}
