#!/usr/bin/env python3
"""Writes the seed corpus of the switch decision's fuzz target (fuzz/corpus-switch/).

Each seed is fuzz_switch.c's input: a 13-byte header (flags: 1 from a VM, 2 offloads follow,
4 the VM's MAC is the frame's source; the VM's VLAN; struct dvmq_offload little-endian) and a
frame. Seeds:
  up-* vm-* vs-* vf-*  every frame of the parser's corpus (fuzz/corpus-frame: the captures' header
               shapes and the made ones) from the uplink, from a VM that owns its source, from a
               VM that does not (spoofed), tagged ones from a VM on another VLAN;
  gso-*        super-frames with offloads (TCPv4/TCPv6 GSO, USO, a partial checksum alone),
               untagged, priority-tagged and tagged, from a VM and from the uplink, and a few
               offloads the switch must refuse (gso_size 0, UFO, a checksum in the IP header, ECN
               alone).
Run from the repository root:  python3 fuzz/make_switch_corpus.py
"""
import glob
import os
import struct

OUT = "fuzz/corpus-switch"


def hdr(flags, vlan, off=(0, 0, 0, 0, 0, 0)):
    return struct.pack("<BHBBHHHH", flags, vlan, *off)


def frame_vlan(fr):
    if len(fr) >= 16 and fr[12:14] == b"\x81\x00":
        return struct.unpack(">H", fr[14:16])[0] & 0xFFF
    return 0


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def l4_frame(v6, tcp, tag, payload):
    """Ethernet [+ tag] + IPv4/IPv6 + TCP/UDP + payload; returns (frame, l3, l4)."""
    eth = bytes([2, 0, 0, 0, 0, 0x99, 2, 0, 0, 0, 0, 1])
    if tag is not None:
        eth += b"\x81\x00" + struct.pack(">H", tag)
    eth += b"\x86\xdd" if v6 else b"\x08\x00"
    l3 = len(eth)
    data = bytes((i * 31 + 7) & 0xFF for i in range(payload))
    if tcp:
        l4h = struct.pack(">HHIIBBHHH", 40000, 80, 1000, 1, 5 << 4, 0x18, 65535, 0, 0)
    else:
        l4h = struct.pack(">HHHH", 40000, 53, 8 + payload, 0)
    proto = 6 if tcp else 17
    if v6:
        ip = struct.pack(">IHBB", 0x60000000, len(l4h) + payload, proto, 64) + bytes(range(32))
    else:
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4h) + payload, 0x1234, 0x4000, 64, proto, 0,
                         bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2]))
        ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    return eth + ip + l4h + data, l3, l3 + len(ip)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in glob.glob(os.path.join(OUT, "*")):
        os.remove(f)
    n = 0
    for path in sorted(glob.glob("fuzz/corpus-frame/*")):
        fr = open(path, "rb").read()
        name = os.path.basename(path)
        open(os.path.join(OUT, "up-" + name), "wb").write(hdr(0, frame_vlan(fr)) + fr)
        open(os.path.join(OUT, "vm-" + name), "wb").write(hdr(5, frame_vlan(fr) or 5) + fr)
        open(os.path.join(OUT, "vs-" + name), "wb").write(hdr(1, frame_vlan(fr)) + fr)  # spoofed
        n += 3
        if frame_vlan(fr):  # a VM on another VLAN than its tag's
            open(os.path.join(OUT, "vf-" + name), "wb").write(hdr(5, frame_vlan(fr) % 4094 + 1) + fr)
            n += 1
    cases = []
    for v6 in (False, True):
        for tag in (None, 0, 5):
            fr, l3, l4 = l4_frame(v6, True, tag, 6000)
            gso = 4 if v6 else 1
            cases.append(("tcp%s-%s" % (6 if v6 else 4, "untagged" if tag is None else "vid%d" % tag), fr,
                          (1, gso, l4 + 20, 1448, l4, 16)))
    fr, l3, l4 = l4_frame(False, False, None, 4000)
    cases.append(("uso", fr, (1, 5, l4 + 8, 1472, l4, 6)))
    fr, l3, l4 = l4_frame(False, True, 5, 1000)
    cases.append(("csum-only", fr, (1, 0, 0, 0, l4, 16)))
    fr, l3, l4 = l4_frame(False, True, None, 6000)
    cases.append(("bad-gso-size-0", fr, (1, 1, l4 + 20, 0, l4, 16)))
    cases.append(("bad-ufo", fr, (1, 3, l4 + 20, 1448, l4, 16)))
    cases.append(("bad-csum-in-ip", fr, (1, 1, l4 + 20, 1448, l3 + 2, 16)))
    cases.append(("over-mtu-gso-1461", fr, (1, 1, l4 + 20, 1461, l4, 16)))
    # ECN without a GSO type: the resolver divided by gso_size 0 (found by this target)
    cases.append(("bad-ecn-only", fr, (1, 0x80, l4 + 20, 0, l4, 16)))
    for name, fr, off in cases:
        for flags, who in ((7, "vm"), (2, "up")):
            open(os.path.join(OUT, "gso-%s-%s" % (who, name)), "wb").write(hdr(flags, 5, off) + fr)
            n += 1
    print("%d seeds in %s" % (n, OUT))


if __name__ == "__main__":
    main()
