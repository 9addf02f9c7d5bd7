#!/bin/bash
# bench-kernel.sh [--json] [--build DIR] [--rounds N] [--secs S] — `dvmq bench kernel` (issue 14
# section 3): the kernel's own receive path to the VMs (a Linux bridge per VLAN, veth VMs: the
# kernel-mode lab of scripts/kernel-lab.sh, tests/integ/e2e/lib.sh) measured three ways on one
# topology, in interleaved rounds (a b c a b c ...):
#   (a) bridge   the plain path, RPS off on the uplink
#   (b) rps      the same with RPS on over the same processors (every CPU dvmq uses)
#   (c) kernel   dvmq in kernel mode steering the uplink (XDP + cpumap), RPS off
# with the same sender settings on every path (the trunk's tx checksumming off, which native XDP
# on a veth needs: docs/kernel-mode.md, "veth"). Figures, per mode: median, min, max over rounds:
#   udp64_pps        64-byte UDP frames per second delivered to vm1 and vm2 (their sockets),
#                    from dvmq-seqflow's sendmmsg sender in ext, 16 flows per VM at full speed
#   udp64_offered_pps  what the sender put on the trunk
#   udp64_reordered  frames that arrived behind a later frame of their flow
#   cpu_ms_per_mframe  CPU time of the receive path per million frames delivered: every CPU's
#                    softirq time (/proc/stat) plus every cpumap kthread's (schedstat)
#   tcp1_gbps, tcp4_gbps  iperf3 TCP ext -> vm2, 1 and 4 streams
#   ping_p50_ms, ping_p99_ms  ping ext -> vm1 every 10 ms under iperf3 TCP load ext -> vm2
# and the ratios of medians kernel/bridge and kernel/rps (latency and CPU: lower is better).
# Root. A benchmark, never a test: numbers on a shared 2-CPU machine are noisy; compare only
# figures of one run. BENCH_KERNEL_OFFLOAD=1 adds (d) bridge with the sender's offloads on (its
# TSO and checksum offload: the figure a host without XDP gets on a veth lab); BENCH_KERNEL_FIFO=1
# adds (e) kernel-fifo: kernel mode with its cpumap kthreads SCHED_FIFO 50 (kthread_priority).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
json=0
build=$here/build
rounds=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECS:-3}
while (($#)); do
	case $1 in
	--json) json=1 ;;
	--build) build=$(cd "$2" && pwd); shift ;;
	--rounds) rounds=$2; shift ;;
	--secs) SECS=$2; shift ;;
	-h | --help)
		sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "bench-kernel: unknown argument '$1' (--json, --build DIR, --rounds N, --secs S)" >&2
		exit 2
		;;
	esac
	shift
done
if [[ ! $rounds =~ ^[1-9][0-9]*$ || ! $SECS =~ ^[1-9][0-9]*$ ]]; then
	echo "bench-kernel: --rounds and --secs take a positive whole number" >&2
	exit 2
fi
if [[ $(id -u) != 0 ]]; then
	echo "dvmq bench kernel: needs root (network namespaces, veth, XDP)" >&2
	exit 1
fi
"$here/scripts/deps.sh" iperf3 iputils-ping python3 jq iproute2 ethtool clang >&2
SEQFLOW=$build/tests/dvmq-seqflow
if [[ ! -x $SEQFLOW ]]; then
	echo "dvmq bench kernel: $SEQFLOW is not built (ninja -C $build)" >&2
	exit 1
fi
export E2E_BUILD=$build E2E_MODE=bridge
source "$here/tests/integ/e2e/lib.sh"
if ! why=$(e2e_need iperf3 ping); then
	echo "dvmq bench kernel: $why" >&2
	exit 1
fi
modes=(bridge rps kernel)
[[ ${BENCH_KERNEL_OFFLOAD:-0} == 1 ]] && modes+=(offload)
[[ ${BENCH_KERNEL_FIFO:-0} == 1 ]] && modes+=(kernel-fifo)
# why (c) cannot run here, or "" (e2e_need prints nothing when it can)
kernel_skip=$(E2E_MODE=kernel e2e_need || true)
e2e_init bench-kernel
trap - ERR
exec 3>&1 1>&2 # the harness's lines go to stderr, the JSON to the saved stdout
e2e_up
ip netns exec "$NS_E" ethtool -K "$UP_E" tx off >/dev/null
e2e_servers
ncpu=$(nproc)
mask=$(printf '%x' $(((1 << ncpu) - 1)))

rps() { # rps MASK: RPS over the CPUs of MASK on every receive queue of the uplink
	local q
	for q in $(ip netns exec "$NS_H" sh -c "ls -d /sys/class/net/$UP_H/queues/rx-*"); do
		ip netns exec "$NS_H" sh -c "echo $1 > $q/rps_cpus"
	done
}
mode_on() {
	case $1 in
	bridge) rps 0 ;;
	rps) rps "$mask" ;;
	offload) rps 0; ip netns exec "$NS_E" ethtool -K "$UP_E" tx on >/dev/null ;;
	kernel)
		rps 0
		E2E_MODE=kernel e2e_kernel_start
		;;
	kernel-fifo)
		rps 0
		E2E_MODE=kernel E2E_KERNEL_EXTRA="kthread_priority = 50" e2e_kernel_start
		;;
	esac
}
mode_off() {
	local n
	case $1 in
	rps) rps 0 ;;
	offload) ip netns exec "$NS_E" ethtool -K "$UP_E" tx off >/dev/null ;;
	kernel | kernel-fifo)
		e2e_stop "$DVMQ_PID"
		for ((n = 0; n < 50; n++)); do
			(($(e2e_xdp_progs "$NS_H" "$UP_H") == 0)) && break
			sleep 0.1
		done
		;;
	esac
}
# net_ns: softirq time of every CPU (/proc/stat, USER_HZ ticks) plus every cpumap kthread's
# time on CPU (schedstat), in ns so far
net_ns() {
	local hz s k=0 p c
	hz=$(getconf CLK_TCK)
	s=$(awk -v hz="$hz" '$1 ~ /^cpu[0-9]+$/ { t += $8 } END { printf "%.0f", t * 1e9 / hz }' /proc/stat)
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		[[ $c == cpumap/* ]] || continue
		k=$((k + $(awk '{ print $1 }' "$p/schedstat" 2>/dev/null || echo 0)))
	done
	echo $((s + k))
}
# received I: what vm I's receiver counted so far (it prints once, at the end: read the socket's
# count from its NIC instead, and the receiver's own at the end for reordering)
vm_rx() { ip -j -s -n "${VM_NS[$1]}" link show "${VM_IF[$1]}" | jq '.[0].stats64.rx.packets'; }
pct() { # pct P FILE: the P-th percentile of ping's times (ms), null when none
	sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$2" | sort -g |
		awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) print "null"; else { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] } }'
}
gbps() { jq -r '(.end.sum_received.bits_per_second // 0) / 1e9' "$1" 2>/dev/null || echo 0; }

# measure MODE ROUND: one JSON object of the figures
measure() {
	local m=$1 r=$2 o=$E2E_TMP/$1-$2
	e2e_iperf "$NS_E" "${VM_IP4[2]}" "$o-t1.json" -t "$SECS" || true
	e2e_iperf "$NS_E" "${VM_IP4[2]}" "$o-t4.json" -t "$SECS" -P 4 || true
	local a1 a2 n0 t0 b1 b2 n1 t1 i
	for i in 1 2; do
		e2e_spawn "${VM_NS[$i]}" "$SEQFLOW" recv 9000 --duration $((SECS + 30)) >"$o-recv$i.json" 2>/dev/null
		recv_pid[$i]=$SPAWNED
	done
	sleep 0.2
	a1=$(vm_rx 1)
	a2=$(vm_rx 2)
	n0=$(net_ns)
	t0=$(date +%s.%N)
	for i in 1 2; do
		e2e_spawn "$NS_E" "$SEQFLOW" send "${VM_IP4[$i]}" 9000 --flows 16 --rate 0 --duration "$SECS" --size 18 \
			>"$o-send$i.json" 2>/dev/null
		send_pid[$i]=$SPAWNED
	done
	for i in 1 2; do wait "${send_pid[$i]}" 2>/dev/null || true; done
	t1=$(date +%s.%N)
	sleep 0.3
	n1=$(net_ns)
	b1=$(vm_rx 1)
	b2=$(vm_rx 2)
	local sent=0 reo=0
	for i in 1 2; do
		e2e_stop "${recv_pid[$i]}"
		sent=$((sent + $(jq '.sent // 0' "$o-send$i.json" 2>/dev/null || echo 0)))
		reo=$((reo + $(jq '.reordered // 0' "$o-recv$i.json" 2>/dev/null || echo 0)))
	done
	e2e_spawn "$NS_E" iperf3 -c "${VM_IP4[2]}" -p 5201 -t $((SECS + 2)) >/dev/null 2>&1
	local load=$SPAWNED
	sleep 0.5
	ip netns exec "$NS_E" ping -n -i 0.01 -c $((SECS * 100)) -W 1 "${VM_IP4[1]}" >"$o-ping.out" 2>&1 || true
	e2e_stop "$load"
	jq -n --arg mode "$m" --argjson round "$r" --argjson t1 "$(gbps "$o-t1.json")" --argjson t4 "$(gbps "$o-t4.json")" \
		--argjson pps "$(awk -v d=$((b1 - a1 + b2 - a2)) -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", d / (e - s) }')" \
		--argjson off "$(awk -v n="$sent" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f", n / (e - s) }')" \
		--argjson cpu "$(awk -v ns=$((n1 - n0)) -v d=$((b1 - a1 + b2 - a2)) 'BEGIN { if (d > 0) printf "%.3f", ns / 1e6 / (d / 1e6); else print "null" }')" \
		--argjson p50 "$(pct 50 "$o-ping.out")" --argjson p99 "$(pct 99 "$o-ping.out")" --argjson reo "$reo" \
		'{mode: $mode, round: $round, udp64_pps: $pps, udp64_offered_pps: $off, udp64_reordered: $reo,
		  cpu_ms_per_mframe: $cpu,
		  tcp1_gbps: $t1, tcp4_gbps: $t4, ping_p50_ms: $p50, ping_p99_ms: $p99}'
}

: >"$E2E_TMP/rounds.jsonl"
for ((r = 1; r <= rounds; r++)); do
	for m in "${modes[@]}"; do
		if [[ $m == kernel* && -n $kernel_skip ]]; then
			continue
		fi
		echo "bench-kernel: round $r/$rounds: $m" >&2
		if ! mode_on "$m"; then
			echo "bench-kernel: $m did not start" >&2
			continue
		fi
		measure "$m" "$r" >>"$E2E_TMP/rounds.jsonl"
		mode_off "$m"
	done
done
res=$(jq -s --arg skip "$kernel_skip" --argjson secs "$SECS" --argjson rounds "$rounds" \
	--arg cpus "$ncpu" '
	def stat(xs): (xs | map(select(type == "number")) | sort) as $v |
		if ($v | length) == 0 then null
		else {median: (if ($v | length) % 2 == 1 then $v[($v | length) / 2 | floor]
			       else ($v[($v | length) / 2 - 1] + $v[($v | length) / 2]) / 2 end),
		      min: $v[0], max: $v[-1]} end;
	def figures: ["udp64_pps", "udp64_offered_pps", "udp64_reordered", "cpu_ms_per_mframe", "tcp1_gbps", "tcp4_gbps",
		      "ping_p50_ms", "ping_p99_ms"];
	. as $all |
	(reduce ($all | map(.mode) | unique[]) as $m ({}; .[$m] = (reduce figures[] as $f ({};
		.[$f] = stat([$all[] | select(.mode == $m) | .[$f]]))))) as $by |
	def ratio(a; b; f): if ($by[a][f].median | type) == "number" and ($by[b][f].median | type) == "number"
		and $by[b][f].median > 0 then ($by[a][f].median / $by[b][f].median * 1000 | round / 1000) else null end;
	{benchmark: "kernel", rounds: $rounds, seconds_per_figure: $secs, processors: ($cpus | tonumber),
	 sender: "dvmq-seqflow, 2 x 16 UDP flows, sendmmsg, 60-byte frames (64 with FCS), tx checksumming off",
	 modes: $by, kernel_skipped: (if $skip == "" then null else $skip end),
	 ratio_kernel_over_bridge: (reduce figures[] as $f ({}; .[$f] = ratio("kernel"; "bridge"; $f))),
	 ratio_kernel_over_rps: (reduce figures[] as $f ({}; .[$f] = ratio("kernel"; "rps"; $f))),
	 goal: "kernel >= rps on every figure (ping and CPU per frame: ratio <= 1)", rounds_raw: $all}' "$E2E_TMP/rounds.jsonl")
if ((json)); then
	echo "$res" >&3
else
	echo "$res" | jq -r '
		def f(x): if x == null then "-" elif (x | type) == "number" then
			(if x >= 1000 then (x | round | tostring) else (x * 100 | round / 100 | tostring) end) else x end;
		def cell(s): if s == null then "-" else "\(f(s.median)) [\(f(s.min))..\(f(s.max))]" end;
		def pad(n): tostring | if length < n then . + " " * (n - length) else . end;
		"dvmq bench kernel: \(.rounds) interleaved rounds, \(.seconds_per_figure) s per figure, \(.processors) CPUs; median [min..max]",
		"sender: \(.sender)",
		(if .kernel_skipped then "kernel: skipped: \(.kernel_skipped)" else empty end),
		(. as $r | ($r.modes | keys_unsorted) as $ms | "figure" | pad(20)) + (.modes | keys_unsorted | map(pad(30)) | join("")) + "kernel/bridge  kernel/rps",
		(. as $r | ["udp64_pps", "udp64_offered_pps", "udp64_reordered", "cpu_ms_per_mframe", "tcp1_gbps", "tcp4_gbps", "ping_p50_ms", "ping_p99_ms"][] as $f |
			($f | pad(20)) + ([$r.modes[] | cell(.[$f]) | pad(30)] | join("")) +
			(f($r.ratio_kernel_over_bridge[$f]) | pad(15)) + f($r.ratio_kernel_over_rps[$f]))' >&3
fi
e2e_finish >/dev/null
