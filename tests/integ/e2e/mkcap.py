#!/usr/bin/env python3
"""mkcap.py OUT.pcap SRC_MAC VLAN=MAC[,MAC...]... — the capture test_replay.sh plays into the uplink.
mkcap.py --send DEV COUNT DST SRC VLAN — COUNT frames put on DEV as they are (test_spoof.sh).

Well-formed frames only (the switch's parser drops malformed ones, counted, and that is another
test), all from SRC_MAC so the VMs' captures can tell them from their own stacks' chatter:
known unicast to every VM on its VLAN, the same MACs on the other VLAN (unknown there),
broadcast ARP, IPv4 and IPv6 multicast on each VLAN, unknown unicast, untagged frames and a
VLAN nobody carries. Which VM must see which frame is computed from this file with tcpdump -r
filters by the test, not here. Standard library only."""
import struct
import sys


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def eth(dst, src, vlan, ethertype, payload):
    h = mac(dst) + mac(src)
    if vlan:
        h += struct.pack("!HH", 0x8100, vlan)
    f = h + struct.pack("!H", ethertype) + payload
    return f + b"\0" * max(0, 60 - len(f))


def udp4(src_ip, dst_ip, sport, dport, data):
    u = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data  # checksum 0: none (IPv4)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 1, 0, 64, 17, 0,
                     bytes(src_ip), bytes(dst_ip))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + u


def udp6(src, dst, sport, dport, data):
    ln = 8 + len(data)
    u = struct.pack("!HHHH", sport, dport, ln, 0) + data
    pseudo = src + dst + struct.pack("!IxxxB", ln, 17)
    c = csum(pseudo + u) or 0xFFFF
    u = u[:6] + struct.pack("!H", c) + u[8:]
    return struct.pack("!IHBB", 6 << 28, ln, 17, 64) + src + dst + u


def arp_req(src_mac, src_ip, target_ip):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac(src_mac), bytes(src_ip),
                       b"\0" * 6, bytes(target_ip))


def main():
    out, src = sys.argv[1], sys.argv[2]
    vlans = {}
    for a in sys.argv[3:]:
        v, macs = a.split("=")
        vlans[int(v)] = macs.split(",")
    frames = []
    sip = [10, 77, 0, 200]
    n = 0

    def u4(dst, vlan, dip=(10, 77, 0, 99), dport=9):
        nonlocal n
        n += 1
        frames.append(eth(dst, src, vlan, 0x0800,
                          udp4(sip, list(dip), 40000 + n, dport, b"dvmq-e2e %d" % n)))

    for v, macs in vlans.items():
        other = [w for w in vlans if w != v][0]
        for m in macs:
            for _ in range(5):
                u4(m, v)                  # known unicast: that VM only
            for _ in range(3):
                u4(m, other)              # its MAC on the other VLAN: unknown there
        for k in range(3):
            frames.append(eth("ff:ff:ff:ff:ff:ff", src, v, 0x0806,
                              arp_req(src, sip, [10, 77, 99, k + 1])))
        for _ in range(2):
            u4("01:00:5e:00:00:fb", v, (224, 0, 0, 251), 5353)  # IPv4 multicast (mDNS)
            n += 1
            frames.append(eth("33:33:00:00:00:01", src, v, 0x86DD,  # IPv6 all-nodes
                              udp6(bytes.fromhex("fe80000000000000000000fffe0000c8"),
                                   bytes.fromhex("ff020000000000000000000000000001"),
                                   40000 + n, 9, b"dvmq-e2e %d" % n)))
        for _ in range(2):
            u4("02:dd:ee:00:00:99", v)    # unknown unicast on the VLAN
    first = vlans[min(vlans)][0]
    for _ in range(2):
        u4(first, 0)                      # untagged: no VM is on VLAN 0
    for _ in range(2):
        frames.append(eth("ff:ff:ff:ff:ff:ff", src, 30, 0x0806, arp_req(src, sip, [10, 77, 99, 9])))

    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000, i * 1000, len(fr), len(fr)) + fr)


def rawsend(dev, frame_args, count):
    """Sends count copies of eth(*frame_args) on dev through an AF_PACKET socket (as a VM's
    stack would put a frame on its NIC, with whatever source MAC and tag the test wants)."""
    import socket
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((dev, 0))
    f = eth(*frame_args)
    for _ in range(count):
        s.send(f)
    s.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--send":
        # --send DEV COUNT DST SRC VLAN: UDP frames from a VM's NIC (test_spoof.sh)
        dev, count, dst, src, vlan = sys.argv[2:7]
        rawsend(dev, (dst, src, int(vlan), 0x0800,
                      udp4([10, 77, 0, 201], [10, 77, 0, 202], 40000, 9, b"dvmq-e2e spoof")), int(count))
    else:
        main()
