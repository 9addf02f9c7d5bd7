#!/bin/bash
# test_blast.sh BUILD_DIR — dvmq-blast, the benchmarks' frame sender (bench/blast.c): usage and
# bad input; then (root) in a private namespace of its own, on a veth pair it creates (dvtbl*):
# every frame it says it sent arrives at the peer, built as asked (MACs, VLAN tag, size, UDP to
# the port), the flows spread over the destinations, and with --seq each flow's tags count
# 0, 1, 2, ... in order; --rate offers what it says (sent + late + refused = count). No timing
# is asserted.
set -u
b=$1
cd "$(dirname "$0")/../.."
source tests/cli/harness.sh
blast=$b/bench/dvmq-blast
tmp=$(mktemp -d /tmp/dvmq-blast.XXXXXX)
ns=dvtbl$$
cleanup() {
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

expect() { # expect NAME CODE PATTERN -- ARGS...: exit code and a line of output matching PATTERN
	local name=$1 code=$2 pat=$3 out rc
	shift 4
	out=$("$blast" "$@" 2>&1)
	rc=$?
	if ((rc == code)) && grep -qE -- "$pat" <<<"$out"; then ok "$name"; else bad "$name" "exit $rc: $(head -c 300 <<<"$out")"; fi
}
expect blast-help 0 '^usage: dvmq-blast --dev IFNAME --dst MAC' -- --help
expect blast-needs-dev-and-dst 2 '--dev and --dst are required' -- --dst 02:00:00:00:00:01
expect blast-bad-mac 2 "bad --dst: MAC\[,MAC...\] \(up to 64\) \('02:00:zz'\)" -- --dev lo --dst 02:00:zz
expect blast-bad-size 2 "bad --size: 60..9018 \('59'\)" -- --dev lo --dst 02:00:00:00:00:01 --size 59
expect blast-bad-vlan 2 "bad --vlan: 1..4094 \('4095'\)" -- --dev lo --dst 02:00:00:00:00:01 --vlan 4095
expect blast-bad-rate 2 "bad --rate" -- --dev lo --dst 02:00:00:00:00:01 --rate -5
expect blast-ip-per-mac 2 '--dst-ip gives 2 addresses for 3 MACs' -- --dev lo \
	--dst 02:00:00:00:00:01,02:00:00:00:00:02,02:00:00:00:00:03 --dst-ip 10.0.0.1,10.0.0.2
expect blast-tag-needs-room 2 '--size 60 is too short for the headers and the tag \(62 bytes\)' -- \
	--dev lo --dst 02:00:00:00:00:01 --vlan 5 --seq
expect blast-no-such-device 1 "no device 'dvtbl-none' here" -- --dev dvtbl-none --dst 02:00:00:00:00:01

if [[ $(id -u) != 0 ]]; then
	skip blast-frames-arrive-as-built "needs root (a network namespace and a veth pair)"
	finish
	exit
fi
if ! ip netns add "$ns" 2>"$tmp/err" || ! ip -n "$ns" link add dvtbla type veth peer name dvtblb 2>>"$tmp/err" ||
	! ip -n "$ns" link set dvtbla up || ! ip -n "$ns" link set dvtblb up; then
	bad blast-frames-arrive-as-built "namespace and veth: $(head -c 300 "$tmp/err")"
	finish
	exit
fi

# a receiver on the peer (started before the sender, ready when it prints), then the sender
recv() { # recv OUT N: reads up to N frames on dvtblb (20 s for the first, then until 5 s pass
	# without one) and writes one line per IPv4 frame
	ip netns exec "$ns" python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE: the whole burst fits
s.bind(("dvtblb", 0))
s.settimeout(20)
print("ready", flush=True)
out = open(sys.argv[1], "w")
n = 0
while n < int(sys.argv[2]):
    try:
        f = s.recv(70000)
    except socket.timeout:
        break
    s.settimeout(5)
    # a veth with rxvlan on hands the tag apart (auxdata); without, it is in the frame: drop it
    if f[12:14] == b"\x81\x00":
        f = f[:12] + f[16:]
    dst, src, et = f[0:6].hex(":"), f[6:12].hex(":"), struct.unpack("!H", f[12:14])[0]
    if et != 0x0800:
        continue  # IPv6 neighbour discovery of the veth itself
    n += 1
    ip = f[14:34]
    sport, dport = struct.unpack("!HH", f[34:38])
    tag = f[42:58]
    magic, flow, seq = struct.unpack("<IIQ", tag) if len(tag) == 16 else (0, 0, 0)
    out.write("%s %s %d %d %d %d %x %d %d\n" % (dst, src, len(f), sport, dport, ip[9], magic, flow, seq))
' "$1" "$2"
}
run_pair() { # run_pair NAME N ARGS...: blast N frames with ARGS, the receiver expecting N
	local name=$1 n=$2
	shift 2
	coproc RX { recv "$tmp/$name.rx" "$n"; }
	# bash unsets RX and RX_PID once it has reaped the coprocess (a receiver that ended early, a
	# loaded machine): kept here, as they were at the start
	local rx_pid=$RX_PID rx_fd=${RX[0]}
	read -r -t 20 line <&"$rx_fd" || true
	ip netns exec "$ns" "$blast" --dev dvtbla --count "$n" --json "$@" >"$tmp/$name.json" 2>"$tmp/$name.err"
	local rc=$?
	wait "$rx_pid" 2>/dev/null
	return $rc
}

# 1. 2000 frames, 4 flows over 2 MACs, tagged VLAN 7 (the receiver sees it untagged: the tag is
#    in auxdata), 128 bytes, UDP port 5000, sequence tags from flow 10 on
m1=02:00:00:00:b1:01 m2=02:00:00:00:b1:02
if run_pair seq 2000 --dst "$m1,$m2" --src 02:dd:00:00:00:07 --flows 4 --first-flow 10 --size 128 --vlan 7 \
	--dst-port 5000 --seq &&
	jq -e '.sent == 2000 and .refused == 0 and .late == 0 and .flows == 4 and .seq == true' "$tmp/seq.json" >/dev/null; then
	got=$(wc -l <"$tmp/seq.rx")
	# frames per destination MAC and flow, and whether each flow's tags count up from 0
	check=$(awk -v m1="$m1" -v m2="$m2" '
		{ n++; if ($2 != "02:dd:00:00:00:07" || $3 != 124 || $5 != 5000 || $6 != 17 || $7 != "51564d44") badf++
		  f = $8; if (f < 10 || f > 13) badf++
		  if ((f % 2 == 0 && $1 != m1) || (f % 2 == 1 && $1 != m2)) badm++
		  if ($9 != next_seq[f]) order++; next_seq[f] = $9 + 1; per[f]++ }
		END { printf "%d %d %d %d %d %d %d %d\n", n, badf, badm, order, per[10], per[11], per[12], per[13] }' "$tmp/seq.rx")
	if [[ $check == "2000 0 0 0 500 500 500 500" ]]; then
		ok blast-frames-arrive-as-built
	else
		bad blast-frames-arrive-as-built "received $got; frames, bad fields, wrong MAC, out of order, per flow 10..13: $check"
	fi
else
	bad blast-frames-arrive-as-built "$(cat "$tmp/seq.json" "$tmp/seq.err" | head -c 400)"
fi

# 2. --rate: whatever the machine's load, every frame of --count is sent, late or refused, and
#    what it says it sent arrives
if run_pair rate 500 --dst "$m1" --rate 5000 &&
	jq -e '.sent + .late + .refused == 500 and .sent >= 1 and .rate_asked == 5000' "$tmp/rate.json" >/dev/null &&
	(($(wc -l <"$tmp/rate.rx") == $(jq .sent "$tmp/rate.json"))); then
	ok blast-rate-accounts-for-every-frame
else
	bad blast-rate-accounts-for-every-frame "$(cat "$tmp/rate.json" "$tmp/rate.err" | head -c 400); received $(wc -l <"$tmp/rate.rx" 2>/dev/null)"
fi
finish
