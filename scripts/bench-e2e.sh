#!/bin/bash
# bench-e2e.sh [--json] [--build DIR] — `dvmq bench e2e` (issue 9 §4): the end-to-end topology of
# tests/integ/e2e/lib.sh (an external host on a VLAN trunk, VMs on tap and afpacket ports, two
# VLANs) measured once with a Linux bridge in the host namespace and once with dvmq (afpacket uplink
# by default, the one to use on a veth: docs/ports.md; E2E_UPLINK=afxdp to compare), in one run,
# side by side:
#   tcp1_gbps      iperf3 TCP ext -> vm2 (afpacket), 1 stream
#   tcp4_gbps      the same, 4 streams (-P 4)
#   tcp1_tap_gbps  iperf3 TCP ext -> vm1 (tap), 1 stream
#   udp64_pps      64-byte UDP frames tcpreplay --topspeed puts on the trunk for vm2, counted as
#                  they arrive in vm2 (its NIC's rx packets): one sendto per frame bounds the
#                  offer, which is printed too (udp64_offered_pps)
#   ping_p50_ms, ping_p99_ms  ping ext -> vm1 every 10 ms under iperf3 TCP load ext -> vm2
# and the ratios dvmq / bridge (latency: lower is better). Root. Each mode runs in a child
# process of its own (its own topology, removed whatever happens). A benchmark, never a test:
# numbers on a shared 2-CPU machine are noisy; repeat it (BENCH_SECS, default 3 s per figure).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
json=0
build=$here/build
one=
while (($#)); do
	case $1 in
	--json) json=1 ;;
	--build) build=$2; shift ;;
	--one) one=$2; shift ;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench-e2e: unknown argument '$1' (--json, --build DIR)" >&2
		exit 2
		;;
	esac
	shift
done
SECS=${BENCH_SECS:-3}
export E2E_BUILD=$build
export E2E_UPLINK=${E2E_UPLINK:-afpacket}

# --one MODE: measure one mode, print one JSON object (a child of the top level)
if [[ -n $one ]]; then
	export E2E_MODE=$one
	source "$here/tests/integ/e2e/lib.sh"
	if ! why=$(e2e_need iperf3 ping tcpreplay python3); then
		jq -n --arg why "$why" '{skipped: $why}'
		exit 0
	fi
	e2e_init "bench-e2e-$one"
	exec 3>&1 1>&2 # the harness's lines go to stderr, the JSON to the saved stdout
	e2e_up
	e2e_servers
	gbps() { jq -r '(.end.sum_received.bits_per_second // 0) / 1e9' "$1"; }
	e2e_iperf "$NS_E" "${VM_IP4[2]}" "$E2E_TMP/t1.json" -t "$SECS" || true
	e2e_iperf "$NS_E" "${VM_IP4[2]}" "$E2E_TMP/t4.json" -t "$SECS" -P 4 || true
	e2e_iperf "$NS_E" "${VM_IP4[1]}" "$E2E_TMP/tt.json" -t "$SECS" || true

	# 64-byte frames: 1000 distinct UDP flows to vm2 on VLAN 10, looped at top speed
	python3 -c "
import sys; sys.path.insert(0, '$here/tests/integ/e2e'); import mkcap, struct
dst = '${VM_MAC[2]}'; ip = [int(x) for x in '${VM_IP4[2]}'.split('.')]
with open('$E2E_TMP/u64.pcap', 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(1000):
        fr = mkcap.eth(dst, '02:dd:00:00:00:02', 10, 0x0800, mkcap.udp4([10, 77, 10, 254], ip, 20000 + i, 9, b''))
        f.write(struct.pack('<IIII', 0, i, len(fr), len(fr)) + fr)
"
	rx() { ip -j -s -n "${VM_NS[2]}" link show "${VM_IF[2]}" | jq '.[0].stats64.rx.packets'; }
	r0=$(rx)
	t0=$(date +%s.%N)
	ip netns exec "$NS_E" timeout $((SECS + 5)) tcpreplay -q --topspeed --duration "$SECS" --loop 0 \
		-i "$UP_E" "$E2E_TMP/u64.pcap" >"$E2E_TMP/replay.out" 2>&1 || true
	t1=$(date +%s.%N)
	sleep 0.3
	r1=$(rx)
	sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$E2E_TMP/replay.out" | head -n 1)

	# latency under load
	e2e_spawn "$NS_E" iperf3 -c "${VM_IP4[2]}" -p 5201 -t $((SECS + 2)) >/dev/null 2>&1
	load=$SPAWNED
	sleep 0.5
	ip netns exec "$NS_E" ping -n -i 0.01 -c $((SECS * 100)) -W 1 "${VM_IP4[1]}" >"$E2E_TMP/ping.out" 2>&1 || true
	e2e_stop "$load"
	pct() { sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$E2E_TMP/ping.out" | sort -g |
		awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) print "null"; else { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] } }'; }
	jq -n --argjson t1 "$(gbps "$E2E_TMP/t1.json")" --argjson t4 "$(gbps "$E2E_TMP/t4.json")" \
		--argjson tt "$(gbps "$E2E_TMP/tt.json")" \
		--argjson pps "$(awk -v a="$r0" -v b="$r1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", (b - a) / (e - s) }')" \
		--argjson off "$(awk -v n="${sent:-0}" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", n / (e - s) }')" \
		--argjson p50 "$(pct 50)" --argjson p99 "$(pct 99)" --arg uplink "$([[ $one == dvmq ]] && echo "$E2E_UPLINK" || echo bridge)" \
		'{uplink: $uplink, tcp1_gbps: $t1, tcp4_gbps: $t4, tcp1_tap_gbps: $tt, udp64_pps: $pps,
		  udp64_offered_pps: $off, ping_p50_ms: $p50, ping_p99_ms: $p99}' >&3
	exit 0
fi

if [[ $(id -u) != 0 ]]; then
	echo "dvmq bench e2e: needs root (network namespaces, veth, TAP, XDP)" >&2
	exit 1
fi
"$here/scripts/deps.sh" iperf3 tcpreplay tcpdump iputils-ping python3 jq iproute2 ethtool clang >&2
tmp=$(mktemp -d /tmp/dvmq-bench-e2e.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for m in bridge dvmq; do
	if ! "$0" --one "$m" --build "$build" >"$tmp/$m.json" 2>"$tmp/$m.err" || ! jq -e . "$tmp/$m.json" >/dev/null 2>&1; then
		jq -n --arg why "$(grep -E '^FAIL' "$tmp/$m.err" | head -n 3)$(tail -c 300 "$tmp/$m.err")" '{failed: $why}' >"$tmp/$m.json"
	fi
done
res=$(jq -n --slurpfile b "$tmp/bridge.json" --slurpfile d "$tmp/dvmq.json" --arg secs "$SECS" '
	def ratio(k): if ($b[0][k] | type) == "number" and ($d[0][k] | type) == "number" and $b[0][k] > 0
		then ($d[0][k] / $b[0][k] * 1000 | round / 1000) else null end;
	{benchmark: "e2e", seconds_per_figure: ($secs | tonumber), bridge: $b[0], dvmq: $d[0],
	 ratio_dvmq_over_bridge: ({} | reduce ("tcp1_gbps", "tcp4_gbps", "tcp1_tap_gbps", "udp64_pps",
		"ping_p50_ms", "ping_p99_ms") as $k (.; .[$k] = ratio($k))),
	 goal: "dvmq >= bridge on every figure (ping: ratio <= 1)"}')
if ((json)); then
	echo "$res"
else
	echo "$res" | jq -r '
		def f(x): if x == null then "-" elif (x | type) == "number" then (x * 100 | round / 100 | tostring) else x end;
		"dvmq bench e2e (\(.seconds_per_figure) s per figure; dvmq uplink: \(.dvmq.uplink // "-"))",
		(if .dvmq.skipped then "dvmq: skipped: \(.dvmq.skipped)" elif .dvmq.failed then "dvmq: failed: \(.dvmq.failed)" else empty end),
		(if .bridge.skipped then "bridge: skipped: \(.bridge.skipped)" elif .bridge.failed then "bridge: failed: \(.bridge.failed)" else empty end),
		"figure               bridge        dvmq   dvmq/bridge",
		(. as $r | ("tcp1_gbps", "tcp4_gbps", "tcp1_tap_gbps", "udp64_pps", "udp64_offered_pps", "ping_p50_ms", "ping_p99_ms") |
			"\(. + "                    " | .[0:18]) \(f($r.bridge[.]) | " " * (10 - length) + .)  \(f($r.dvmq[.]) | " " * (10 - length) + .)  \(f($r.ratio_dvmq_over_bridge[.]) | " " * (12 - length) + .)")'
fi
