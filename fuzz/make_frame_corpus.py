#!/usr/bin/env python3
"""Writes the seed corpus of the frame parser's fuzz target (fuzz/corpus-frame/).

Two kinds of seeds, one file per frame:
  cap-*    frames from the captures in tests/data/pcaps (Zeek, BSD licence), one per distinct
           header shape (ethertype, tags, IP version, header length, fragment bits, protocol),
           and size class (256-byte steps), so the fuzzer starts from every kind of real frame
           the captures hold;
  made-*   frames built here for what the captures lack: IPv4 options, fragments (first,
           middle, last), 802.3/LLC and SNAP, QinQ, IPv6 TCP/UDP, tagged frames, a jumbo frame.
The fuzz target itself tries every truncation of each seed. Run from the repository root:
  python3 fuzz/make_frame_corpus.py
"""
import glob
import os
import struct

OUT = "fuzz/corpus-frame"


def pcap_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield data[off:off + caplen]
        off += caplen


def shape(fr):
    if len(fr) < 14:
        return ("runt", len(fr))
    off, tags = 12, 0
    etype = struct.unpack(">H", fr[off:off + 2])[0]
    while etype in (0x8100, 0x88A8, 0x9100) and off + 6 <= len(fr):
        tags += 1
        off += 4
        etype = struct.unpack(">H", fr[off:off + 2])[0]
    l3 = fr[off + 2:]
    key = [etype if etype > 1500 else "802.3", tags, min(len(fr) // 256, 6)]
    if etype == 0x0800 and len(l3) >= 20:
        key += [l3[0] & 0x0F, struct.unpack(">H", l3[6:8])[0] & 0x3FFF != 0, l3[9]]
    elif etype == 0x86DD and len(l3) >= 40:
        key += [l3[6]]
    return tuple(key)


def eth(dst, src, etype, payload, vlans=()):
    hdr = bytes(dst) + bytes(src)
    for tpid, vid in vlans:
        hdr += struct.pack(">HH", tpid, vid)
    return hdr + struct.pack(">H", etype) + payload


def ipv4(proto, payload, ihl=5, frag=0, options=b""):
    options = options.ljust((ihl - 5) * 4, b"\x01")
    total = 20 + len(options) + len(payload)
    hdr = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, total, 1, frag, 64, proto, 0,
                      bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return hdr + options + payload


def udp(sport, dport, body):
    return struct.pack(">HHHH", sport, dport, 8 + len(body), 0) + body


def tcp(sport, dport):
    return struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 65535, 0, 0)


def ipv6(nh, payload):
    return struct.pack(">IHBB16s16s", 0x60000000, len(payload), nh, 64,
                       bytes(15) + b"\x01", bytes(15) + b"\x02") + payload


def made():
    a, b = [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]
    bcast, stp = [0xFF] * 6, [0x01, 0x80, 0xC2, 0, 0, 0]
    body = bytes(range(32))
    u = udp(12345, 4789, body)
    yield "ipv4-udp", eth(a, b, 0x0800, ipv4(17, u))
    yield "ipv4-tcp", eth(a, b, 0x0800, ipv4(6, tcp(443, 50000)))
    yield "ipv4-options-ihl6", eth(a, b, 0x0800, ipv4(17, u, ihl=6, options=b"\x94\x04\x00\x00"))
    yield "ipv4-options-ihl15", eth(a, b, 0x0800, ipv4(6, tcp(80, 1), ihl=15, options=b"\x07\x27\x04"))
    yield "ipv4-frag-first", eth(a, b, 0x0800, ipv4(17, u[:24], frag=0x2000))
    yield "ipv4-frag-middle", eth(a, b, 0x0800, ipv4(17, body[:16], frag=0x2003))
    yield "ipv4-frag-last", eth(a, b, 0x0800, ipv4(17, body[:8], frag=0x0005))
    yield "ipv4-tagged", eth(a, b, 0x0800, ipv4(17, u), vlans=[(0x8100, 42)])
    yield "ipv4-qinq", eth(a, b, 0x0800, ipv4(17, u), vlans=[(0x88A8, 100), (0x8100, 42)])
    yield "ipv6-udp", eth(a, b, 0x86DD, ipv6(17, u))
    yield "ipv6-tcp-tagged", eth(a, b, 0x86DD, ipv6(6, tcp(22, 2222)), vlans=[(0x8100, 7)])
    yield "ipv6-hop-by-hop", eth(a, b, 0x86DD, ipv6(0, bytes([17, 0, 1, 4, 0, 0, 0, 0]) + u))
    llc_stp = bytes([0x42, 0x42, 0x03]) + bytes(35)
    yield "8023-stp", eth(stp, b, len(llc_stp), llc_stp)
    snap = bytes([0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00]) + ipv4(17, u)
    yield "8023-snap-ipv4", eth(a, b, len(snap), snap)
    yield "8023-tagged", eth(bcast, b, 46, bytes([0xF0, 0xF0, 0x03]) + bytes(43), vlans=[(0x8100, 5)])
    yield "arp", eth(bcast, b, 0x0806, bytes(28))
    yield "jumbo-udp", eth(a, b, 0x0800, ipv4(17, udp(1, 2, bytes(8900))))


def main():
    os.makedirs(OUT, exist_ok=True)
    for old in glob.glob(os.path.join(OUT, "*")):
        os.remove(old)
    seen = set()
    for path in sorted(glob.glob("tests/data/pcaps/*.pcap")):
        name = os.path.basename(path)[:-5]
        for i, fr in enumerate(pcap_frames(path)):
            key = shape(fr)
            if key in seen:
                continue
            seen.add(key)
            with open(os.path.join(OUT, "cap-%s-%04d" % (name, i)), "wb") as f:
                f.write(fr)
    for name, fr in made():
        with open(os.path.join(OUT, "made-" + name), "wb") as f:
            f.write(fr)


if __name__ == "__main__":
    main()
