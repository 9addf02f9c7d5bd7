#!/bin/bash
# bench-e2e.sh [--json] [--build DIR] [--rounds N] [--modes "bridge dvmq ovs"] — `dvmq bench e2e`
# (issues 9 §4, 18 §1): the end-to-end topology of tests/integ/e2e/lib.sh (an external host on a
# VLAN trunk, VMs on tap and afpacket ports, two VLANs) with each switch in the host namespace:
# a Linux bridge (the baseline), dvmq (afpacket uplink by default, the one to use on a veth:
# docs/ports.md; E2E_UPLINK=afxdp to compare) and Open vSwitch's userspace datapath (netdev,
# userspace TSO; a peer that cannot start, or is not installed, is reported, not fatal). Rounds
# are interleaved (round 1: bridge, dvmq, ovs; round 2: ...; default 3 rounds), each mode in a
# child process with a topology of its own, removed whatever happens. Figures, each as median,
# min and max over the rounds:
#   tcp1_gbps      iperf3 TCP ext -> vm2 (afpacket), 1 stream
#   tcp4_gbps      the same, 4 streams (-P 4)
#   tcp1_tap_gbps  iperf3 TCP ext -> vm1 (tap; a veth for the bridge and OVS), 1 stream
#   cpu_s_per_gb   during tcp1: the switch's process CPU time (dvmq, ovs-vswitchd: all its threads)
#                  per GB received; for the bridge, which has no process, the host's busy time
#   host_cpu_s_per_gb  during tcp1: the host's busy time (/proc/stat) per GB, every mode (it counts
#                  iperf3 and whatever else runs: read it beside the load figures)
#   udp64_offered_pps, udp64_pps  64-byte UDP frames dvmq-blast (sendmmsg, 64 flows) puts on the
#                  trunk for vm2 as fast as it can, and what arrives (vm2's NIC rx packets);
#                  udp64_delivered = udp64_pps / udp64_offered_pps
#   ping_idle_p50_ms, ping_idle_p99_ms  ping ext -> vm1 every 5 ms, nothing else running
#   ping_p50_ms, ping_p99_ms  the same under load: iperf3 TCP ext -> vm2 meanwhile (the pinged
#                  VM is not the loaded one)
# and the ratios dvmq / bridge, dvmq / ovs and ovs / bridge, taken within each round (side by side)
# then summarised the same way (latency and CPU: lower is better). `machine` records the load
# average around each mode's run and says whether the machine was busy with other work: numbers
# from a shared machine are noisy, the ratios within a round are the figure to read. Root.
# BENCH_SECS: seconds per figure (default 3). dvmq and ovs-vswitchd run at nice -10, as their
# units start them (dist/dvmq.service.in; ovs-ctl's default); E2E_SWITCH_NICE=0 to compare.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
json=0
build=$here/build
one=
rounds=${BENCH_ROUNDS:-3}
modes="bridge dvmq ovs"
while (($#)); do
	case $1 in
	--json) json=1 ;;
	--build) build=$2; shift ;;
	--one) one=$2; shift ;;
	--rounds) rounds=$2; shift ;;
	--modes) modes=$2; shift ;;
	-h | --help)
		sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench-e2e: unknown argument '$1' (--json, --build DIR, --rounds N, --modes LIST)" >&2
		exit 2
		;;
	esac
	shift
done
if [[ ! $rounds =~ ^[0-9]+$ ]] || ((rounds < 1 || rounds > 20)); then
	echo "bench-e2e: --rounds wants 1..20, not '$rounds'" >&2
	exit 2
fi
for m in $modes; do
	[[ $m == bridge || $m == dvmq || $m == ovs ]] || { echo "bench-e2e: unknown mode '$m' (bridge, dvmq, ovs)" >&2; exit 2; }
done
SECS=${BENCH_SECS:-3}
export E2E_BUILD=$build
export E2E_UPLINK=${E2E_UPLINK:-afpacket}
export E2E_SWITCH_NICE=${E2E_SWITCH_NICE:--10}
BLAST=$build/bench/dvmq-blast

# --one MODE: measure one mode once, print one JSON object (a child of the top level)
if [[ -n $one ]]; then
	export E2E_MODE=$one
	source "$here/tests/integ/e2e/lib.sh"
	if ! why=$(e2e_need iperf3 ping python3); then
		jq -n --arg why "$why" '{skipped: $why}'
		exit 0
	fi
	[[ -x $BLAST ]] || { jq -n --arg why "$BLAST is not built (make build)" '{skipped: $why}'; exit 0; }
	e2e_init "bench-e2e-$one"
	exec 3>&1 1>&2 # the harness's lines go to stderr, the JSON to the saved stdout
	e2e_up
	e2e_servers
	hz=$(getconf CLK_TCK)
	host_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
	proc_ticks() { [[ -n $1 ]] && e2e_cpu_ticks "$1" || echo 0; }
	gbps() { jq -r '(.end.sum_received.bits_per_second // 0) / 1e9' "$1"; }
	spid=$(e2e_switch_pid)

	# warm-up: every VM's MAC learned by the switches that learn (OVS), caches warm
	for i in "${E2E_VMS[@]}"; do e2e_ping "${VM_NS[$i]}" -c 1 -W 1 "${VM_EXT4[$i]}" || true; done

	# TCP, 1 stream, with the CPU it cost
	b0=$(host_busy) s0=$(proc_ticks "$spid")
	e2e_iperf "$NS_E" "${VM_IP4[2]}" "$E2E_TMP/t1.json" -t "$SECS" || true
	b1=$(host_busy) s1=$(proc_ticks "$spid")
	bytes=$(jq -r '.end.sum_received.bytes // 0' "$E2E_TMP/t1.json")
	e2e_iperf "$NS_E" "${VM_IP4[2]}" "$E2E_TMP/t4.json" -t "$SECS" -P 4 || true
	e2e_iperf "$NS_E" "${VM_IP4[1]}" "$E2E_TMP/tt.json" -t "$SECS" || true

	# 64-byte frames from dvmq-blast on the trunk, tagged VLAN 10, for vm2
	rx() { ip -j -s -n "${VM_NS[2]}" link show "${VM_IF[2]}" | jq '.[0].stats64.rx.packets'; }
	r0=$(rx)
	ip netns exec "$NS_E" "$BLAST" --dev "$UP_E" --dst "${VM_MAC[2]}" --src 02:dd:00:00:00:02 --vlan 10 \
		--src-ip 10.77.10.254 --dst-ip "${VM_IP4[2]}" --flows 64 --size 60 --seconds "$SECS" --json \
		>"$E2E_TMP/blast.json" 2>"$E2E_TMP/blast.err" || true
	sleep 0.3
	r1=$(rx)
	off=$(jq -r '.offered_pps // 0' "$E2E_TMP/blast.json" 2>/dev/null || echo 0)
	el=$(jq -r '.elapsed_s // 0' "$E2E_TMP/blast.json" 2>/dev/null || echo 0)

	# latency: idle, then under load (TCP to vm2 while vm1 is pinged)
	pct() { sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$1" | sort -g |
		awk -v p="$2" '{ v[NR] = $1 } END { if (NR == 0) print "null"; else { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] } }'; }
	ip netns exec "$NS_E" ping -n -i 0.005 -c 200 -W 1 "${VM_IP4[1]}" >"$E2E_TMP/ping-idle.out" 2>&1 || true
	e2e_spawn "$NS_E" iperf3 -c "${VM_IP4[2]}" -p 5201 -t $((SECS + 2)) >/dev/null 2>&1
	load=$SPAWNED
	sleep 0.5
	ip netns exec "$NS_E" ping -n -i 0.005 -c $((SECS * 200)) -W 1 "${VM_IP4[1]}" >"$E2E_TMP/ping.out" 2>&1 || true
	e2e_stop "$load"
	alive=true
	e2e_dvmq_alive || alive=false
	num() { awk "BEGIN { printf \"%.6g\", ($1) }"; } # NUM EXPR: an arithmetic expression of numbers
	jq -n --argjson t1 "$(gbps "$E2E_TMP/t1.json")" --argjson t4 "$(gbps "$E2E_TMP/t4.json")" \
		--argjson tt "$(gbps "$E2E_TMP/tt.json")" \
		--argjson gb "$(num "$bytes / 1e9")" \
		--argjson hcpu "$(num "($b1 - $b0) / $hz")" \
		--argjson scpu "$(if [[ -n $spid ]]; then num "($s1 - $s0) / $hz"; else echo null; fi)" \
		--argjson pps "$(awk -v a="$r0" -v b="$r1" -v e="$el" 'BEGIN { printf "%.0f", (e > 0 ? (b - a) / e : 0) }')" \
		--argjson off "$(num "$off")" \
		--argjson ip50 "$(pct "$E2E_TMP/ping-idle.out" 50)" --argjson ip99 "$(pct "$E2E_TMP/ping-idle.out" 99)" \
		--argjson p50 "$(pct "$E2E_TMP/ping.out" 50)" --argjson p99 "$(pct "$E2E_TMP/ping.out" 99)" \
		--arg uplink "$([[ $one == dvmq ]] && echo "$E2E_UPLINK" || echo "$one")" --argjson alive "$alive" \
		'def per_gb(x): if $gb > 0 and x != null then (x / $gb * 1000 | round / 1000) else null end;
		 {uplink: $uplink, tcp1_gbps: $t1, tcp4_gbps: $t4, tcp1_tap_gbps: $tt,
		  cpu_s_per_gb: (if $scpu == null then per_gb($hcpu) else per_gb($scpu) end),
		  host_cpu_s_per_gb: per_gb($hcpu), udp64_offered_pps: $off, udp64_pps: $pps,
		  udp64_delivered: (if $off > 0 then ($pps / $off * 1000 | round / 1000) else null end),
		  ping_idle_p50_ms: $ip50, ping_idle_p99_ms: $ip99, ping_p50_ms: $p50, ping_p99_ms: $p99,
		  switch_alive_at_end: $alive}' >&3
	exit 0
fi

if [[ $(id -u) != 0 ]]; then
	echo "dvmq bench e2e: needs root (network namespaces, veth, TAP, XDP)" >&2
	exit 1
fi
"$here/scripts/deps.sh" iperf3 tcpdump iputils-ping python3 jq iproute2 ethtool clang >&2
tmp=$(mktemp -d /tmp/dvmq-bench-e2e.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
loadavg() { cut -d' ' -f1 /proc/loadavg; }
for ((r = 1; r <= rounds; r++)); do
	for m in $modes; do
		l0=$(loadavg)
		echo "bench-e2e: round $r/$rounds: $m (load average $l0)" >&2
		f=$tmp/$m.$r.json
		if ! "$0" --one "$m" --build "$build" >"$f" 2>"$tmp/$m.$r.err" || ! jq -e . "$f" >/dev/null 2>&1; then
			jq -n --arg why "$(grep -E '^FAIL' "$tmp/$m.$r.err" | head -n 3)$(tail -c 300 "$tmp/$m.$r.err")" \
				'{failed: $why}' >"$f"
		fi
		jq --argjson l0 "$l0" --argjson l1 "$(loadavg)" '. + {load_before: $l0, load_after: $l1}' "$f" >"$f.tmp"
		mv "$f.tmp" "$f"
	done
done
# one array per mode, a round each
for m in $modes; do jq -s . "$tmp/$m".*.json >"$tmp/$m.all"; done
res=$(jq -n --arg secs "$SECS" --argjson rounds "$rounds" --arg modes "$modes" --arg nice "$E2E_SWITCH_NICE" \
	--slurpfile b <(cat "$tmp/bridge.all" 2>/dev/null || echo '[]') \
	--slurpfile d <(cat "$tmp/dvmq.all" 2>/dev/null || echo '[]') \
	--slurpfile o <(cat "$tmp/ovs.all" 2>/dev/null || echo '[]') '
	def figures: ["tcp1_gbps", "tcp4_gbps", "tcp1_tap_gbps", "cpu_s_per_gb", "host_cpu_s_per_gb",
		"udp64_offered_pps", "udp64_pps", "udp64_delivered", "ping_idle_p50_ms", "ping_idle_p99_ms",
		"ping_p50_ms", "ping_p99_ms"];
	def stat: map(select(type == "number")) | sort |
		if length == 0 then null
		else {median: (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end),
		      min: .[0], max: .[-1], n: length} end;
	def summary(runs): if (runs | length) == 0 then null else
		(reduce figures[] as $k ({}; .[$k] = ([runs[] | .[$k]] | stat))) +
		{rounds_measured: ([runs[] | select(.tcp1_gbps != null)] | length),
		 failed: [runs[] | .failed // empty], skipped: ([runs[] | .skipped // empty] | unique)} end;
	def ratio(a; b): [range(0; [(a | length), (b | length)] | min) as $i |
		(reduce figures[] as $k ({}; .[$k] = (if (a[$i][$k] | type) == "number" and (b[$i][$k] | type) == "number" and b[$i][$k] > 0
			then a[$i][$k] / b[$i][$k] else null end)))];
	def ratio_summary(rs): if (rs | length) == 0 then null else reduce figures[] as $k ({}; .[$k] = ([rs[] | .[$k]] | stat)) end;
	($b[0]) as $B | ($d[0]) as $D | ($o[0]) as $O |
	([$B[], $D[], $O[]] | map(.load_before, .load_after) | map(select(type == "number"))) as $loads |
	{benchmark: "e2e", seconds_per_figure: ($secs | tonumber), rounds: $rounds, modes: ($modes | split(" ")),
	 bridge: summary($B), dvmq: summary($D), ovs: summary($O),
	 ratio_dvmq_over_bridge: ratio_summary(ratio($D; $B)), ratio_dvmq_over_ovs: ratio_summary(ratio($D; $O)),
	 ratio_ovs_over_bridge: ratio_summary(ratio($O; $B)),
	 machine: {load_average: ($loads | {min: min, max: max}), busy: (($loads | max // 0) > 1.5),
		   note: (if ($loads | max // 0) > 1.5 then "other work ran on this machine meanwhile (load average above 1.5): absolute figures are low and spread; read the ratios within rounds"
			  else "quiet" end)},
	 switch_nice: ($nice | tonumber), runs: {bridge: $B, dvmq: $D, ovs: $O},
	 goal: "dvmq >= bridge on throughput and 64-byte delivery; ping p99 under load <= 2x the bridge and <= OVS"}')
if ((json)); then
	echo "$res"
else
	echo "$res" | jq -r '
		def f(x): if x == null then "-" elif (x | type) == "number" then (x * 1000 | round / 1000 | tostring) else x end;
		def s(x): if x == null then "-" else "\(f(x.median)) [\(f(x.min))..\(f(x.max))]" end;
		def pad(n): tostring | if length < n then . + " " * (n - length) else . end;
		"dvmq bench e2e: \(.rounds) interleaved rounds, \(.seconds_per_figure) s per figure; median [min..max]; machine: \(.machine.note) (load \(.machine.load_average.min)-\(.machine.load_average.max))",
		(. as $r | ("bridge", "dvmq", "ovs") | . as $m | $r[$m] | select(. != null) |
			(if (.skipped | length) > 0 then "\($m): skipped: \(.skipped | join("; "))" else empty end),
			(.failed[] | "\($m): a round failed: \(.)")),
		"figure              " + ("bridge" | pad(26)) + ("dvmq" | pad(26)) + ("ovs" | pad(26)) + ("dvmq/bridge" | pad(26)) + "dvmq/ovs",
		(. as $r | ("tcp1_gbps", "tcp4_gbps", "tcp1_tap_gbps", "cpu_s_per_gb", "host_cpu_s_per_gb", "udp64_offered_pps",
			"udp64_pps", "udp64_delivered", "ping_idle_p50_ms", "ping_idle_p99_ms", "ping_p50_ms", "ping_p99_ms") as $k |
			($k | pad(20)) + (s($r.bridge[$k]?) | pad(25)) + " " + (s($r.dvmq[$k]?) | pad(25)) + " " + (s($r.ovs[$k]?) | pad(25)) + " " +
			(s($r.ratio_dvmq_over_bridge[$k]?) | pad(25)) + " " + s($r.ratio_dvmq_over_ovs[$k]?))'
fi
