#!/bin/bash
# bench-kernel.sh [--json] [--build DIR] [--rounds N] [--secs S] — `dvmq bench kernel` (issue 14
# section 3): the kernel's own receive path to the VMs (a Linux bridge per VLAN, veth VMs: the
# kernel-mode lab of scripts/kernel-lab.sh, tests/integ/e2e/lib.sh) measured three ways on one
# topology, in interleaved rounds (a b c a b c ...):
#   (a) bridge   the plain path, RPS off on the uplink
#   (b) rps      the same with RPS on over the same processors (every CPU dvmq uses)
#   (c) kernel   dvmq in kernel mode steering the uplink (XDP + cpumap), RPS off
# with the same sender settings on every path (the trunk's tx checksumming off, which native XDP
# on a veth needs: docs/kernel-mode.md, "veth") and the same uplink GRO. Figures, per mode:
# median, min, max over rounds:
#   udp64_pps        64-byte UDP frames per second delivered to vm1 and vm2 (their NICs),
#                    from dvmq-seqflow's sendmmsg sender in ext, 16 flows per VM at full speed
#   udp64_offered_pps  what the sender put on the trunk
#   udp64_reordered  frames that arrived behind a later frame of their flow
#   cpu_ms_per_mframe  CPU time of the receive path per million frames delivered, exact
#                    (bench/nettime.c): network softirq time outside the cpumap kthreads plus
#                    the kthreads' run time, each nanosecond once
#   frames_per_kthread_run  frames delivered per time a cpumap kthread ran (its batch)
#   tcp1_gbps, tcp4_gbps  iperf3 TCP ext -> vm2, 1 and 4 streams; tcpN_cpu_s_per_gb the receive
#                    path's CPU seconds per GB received; tcpN_retransmits
#   ping_p50_ms, ping_p99_ms  ping ext -> vm1 every 10 ms under iperf3 TCP load ext -> vm2
# and the ratios of medians kernel/bridge and kernel/rps (latency and CPU: lower is better).
# The machine's load (procs_running, sampled) is recorded for each figure; a figure measured
# under a load more than BENCH_LOAD_TOLERANCE (1.5) times off that figure's median over all
# modes is left out of the medians and listed in "rejected".
# Root. A benchmark, never a test: numbers on a shared 2-CPU machine are noisy; compare only
# figures of one run. Environment:
#   BENCH_KERNEL_GRO=on|off (off)  the uplink's GRO on every path (a NIC's is on; a veth's off)
#   BENCH_KERNEL_OFFLOAD=1  adds (d) bridge with the sender's offloads on (TSO and checksum
#                    offload: the figure a host without XDP gets on a veth lab)
#   BENCH_KERNEL_FIFO=1  adds (e) kernel-fifo: kernel mode with `kthread_priority = 1` (its
#                    cpumap kthreads SCHED_FIFO, as examples/kernel.conf)
#   BENCH_KERNEL_VS=DIR  every kernel mode again with DIR's dvmq (another build), MODE-vs, and
#                    the ratios kernel/kernel-vs: an old build against a new one, side by side
#   BENCH_KERNEL_ONLY="MODE ..."  only these modes (of the above), e.g. more rounds of two
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
		sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
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
GRO=${BENCH_KERNEL_GRO:-off}
if [[ $GRO != on && $GRO != off ]]; then
	echo "bench-kernel: BENCH_KERNEL_GRO is on or off, not '$GRO'" >&2
	exit 2
fi
LOAD_TOL=${BENCH_LOAD_TOLERANCE:-1.5}
if ! awk -v t="$LOAD_TOL" 'BEGIN { exit !(t + 0 > 1) }'; then
	echo "bench-kernel: BENCH_LOAD_TOLERANCE is a factor > 1, not '$LOAD_TOL'" >&2
	exit 2
fi
for m in ${BENCH_KERNEL_ONLY:-}; do
	case $m in
	bridge | rps | kernel | offload | kernel-fifo | kernel-vs | kernel-fifo-vs) ;;
	*)
		echo "bench-kernel: BENCH_KERNEL_ONLY: unknown mode '$m' (bridge, rps, kernel, offload, kernel-fifo, kernel-vs, kernel-fifo-vs)" >&2
		exit 2
		;;
	esac
done
VS=${BENCH_KERNEL_VS:-}
if [[ -n $VS ]]; then
	if [[ ! -x $VS/src/cli/dvmq ]]; then
		echo "bench-kernel: BENCH_KERNEL_VS=$VS has no src/cli/dvmq (a build directory)" >&2
		exit 2
	fi
	VS=$(cd "$VS" && pwd)
fi
if [[ $(id -u) != 0 ]]; then
	echo "dvmq bench kernel: needs root (network namespaces, veth, XDP)" >&2
	exit 1
fi
"$here/scripts/deps.sh" iperf3 iputils-ping python3 jq iproute2 ethtool clang bpftool >&2
SEQFLOW=$build/tests/dvmq-seqflow
if [[ ! -x $SEQFLOW ]]; then
	echo "dvmq bench kernel: $SEQFLOW is not built (ninja -C $build)" >&2
	exit 1
fi
NETTIME=$build/bench/dvmq-nettime
if [[ ! -x $NETTIME ]]; then
	echo "dvmq bench kernel: $NETTIME is not built (it needs libbpf and clang, like kernel mode)" >&2
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
# BENCH_KERNEL_VS=DIR: every kernel mode again with DIR's dvmq (another build: old against new,
# in the same interleaved rounds), named MODE-vs
if [[ -n $VS ]]; then
	for m in "${modes[@]}"; do [[ $m == kernel* ]] && modes+=("$m-vs"); done
fi
# BENCH_KERNEL_ONLY="MODE ...": only these of the modes above (more rounds of a comparison)
if [[ -n ${BENCH_KERNEL_ONLY:-} ]]; then
	keep=()
	for m in "${modes[@]}"; do [[ " $BENCH_KERNEL_ONLY " == *" $m "* ]] && keep+=("$m"); done
	modes=("${keep[@]}")
fi
# why (c) cannot run here, or "" (e2e_need prints nothing when it can)
kernel_skip=$(E2E_MODE=kernel e2e_need || true)
e2e_init bench-kernel
trap - ERR
exec 3>&1 1>&2 # the harness's lines go to stderr, the JSON to the saved stdout
e2e_up
ip netns exec "$NS_E" ethtool -K "$UP_E" tx off >/dev/null
# the uplink's GRO, the same on every path (a NIC has it on; a veth off by default, and the
# cpumap kthreads do GRO only where the device has it on)
ip netns exec "$NS_H" ethtool -K "$UP_H" gro "$GRO" >/dev/null
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
		E2E_MODE=kernel E2E_KERNEL_EXTRA="kthread_priority = 1" e2e_kernel_start
		;;
	kernel-vs)
		rps 0
		E2E_MODE=kernel DVMQ=$VS/src/cli/dvmq e2e_kernel_start
		;;
	kernel-fifo-vs)
		rps 0
		E2E_MODE=kernel DVMQ=$VS/src/cli/dvmq E2E_KERNEL_EXTRA="kthread_priority = 1" e2e_kernel_start
		;;
	esac
}
mode_off() {
	local n
	case $1 in
	rps) rps 0 ;;
	offload) ip netns exec "$NS_E" ethtool -K "$UP_E" tx off >/dev/null ;;
	kernel*)
		e2e_stop "$DVMQ_PID"
		for ((n = 0; n < 50; n++)); do
			(($(e2e_xdp_progs "$NS_H" "$UP_H") == 0)) && break
			sleep 0.1
		done
		;;
	esac
}
# nt_start NAME: dvmq-nettime measuring (the receive path's exact CPU time, bench/nettime.c)
# into $o-NAME.nt; nt_stop NAME: its JSON object, or {} when it could not measure
nt_start() {
	local n
	# shellcheck disable=SC2086
	e2e_spawn - "$NETTIME" $NT_ARGS >"$o-$1.nt" 2>"$o-$1.nterr"
	NT_PID=$SPAWNED
	for ((n = 0; n < 50; n++)); do
		grep -q '^ready' "$o-$1.nterr" 2>/dev/null && return 0
		kill -0 "$NT_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "bench-kernel: dvmq-nettime did not start: $(head -c 300 "$o-$1.nterr")" >&2
}
nt_stop() {
	e2e_stop "$NT_PID"
	jq -c . "$o-$1.nt" 2>/dev/null | grep . || echo '{}'
}
# kth_map: the id of the cpumap behind the XDP program on the uplink (kernel modes), or nothing
kth_map() {
	local prog mid
	prog=$(ip -n "$NS_H" -d -j link show "$UP_H" | jq -r '.[0].xdp.prog.id // .[0].xdp.attached[0].prog.id // empty')
	[[ -n $prog ]] || return 0
	for mid in $(bpftool -j prog show id "$prog" | jq -r '.map_ids[]?'); do
		if [[ $(bpftool -j map show id "$mid" | jq -r .type) == cpumap ]]; then
			echo "$mid"
			return 0
		fi
	done
}
# received I: what vm I's NIC received so far (the receiver prints its own count once, at the end)
vm_rx() { ip -j -s -n "${VM_NS[$1]}" link show "${VM_IF[$1]}" | jq '.[0].stats64.rx.packets'; }
pct() { # pct P FILE: the P-th percentile of ping's times (ms), null when none
	sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' "$2" | sort -g |
		awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) print "null"; else { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] } }'
}
gbps() { jq -r '(.end.sum_received.bits_per_second // 0) / 1e9' "$1" 2>/dev/null || echo 0; }
rx_bytes() { jq -r '.end.sum_received.bytes // 0' "$1" 2>/dev/null || echo 0; }
retrans() { jq -r '.end.sum_sent.retransmits // 0' "$1" 2>/dev/null || echo 0; }

# tcp NAME STREAMS: iperf3 ext -> vm2 under dvmq-nettime; one JSON object: Gb/s, CPU s per GB
# received, retransmits, the machine's load meanwhile
tcp() {
	local f=$o-$1.json nt
	nt_start "$1"
	e2e_iperf "$NS_E" "${VM_IP4[2]}" "$f" -t "$SECS" -P "$2" || true
	nt=$(nt_stop "$1")
	jq -n --argjson nt "$nt" --argjson g "$(gbps "$f")" --argjson b "$(rx_bytes "$f")" --argjson rt "$(retrans "$f")" \
		'{gbps: $g, cpu_s_per_gb: (if $b > 0 and $nt.net_ns != null then ($nt.net_ns / 1e9) / ($b / 1e9) else null end),
		  retransmits: $rt, load: $nt.procs_running_mean, kthread_share: (if ($nt.net_ns // 0) > 0 then $nt.kthread_run_ns / $nt.net_ns else null end)}'
}

# measure MODE ROUND: one JSON object of the figures, each with the load it ran under
measure() {
	local m=$1 r=$2 o=$E2E_TMP/$1-$2
	NT_ARGS=--no-kthreads # others' cpumaps on a shared machine are not this path's
	if [[ $m == kernel* ]]; then
		NT_ARGS="--map $(kth_map)"
		[[ $NT_ARGS == "--map " ]] && NT_ARGS=
	fi
	local t1 t4
	t1=$(tcp t1 1)
	t4=$(tcp t4 4)
	local a1 a2 s0 s1 b1 b2 i nt
	for i in 1 2; do
		e2e_spawn "${VM_NS[$i]}" "$SEQFLOW" recv 9000 --duration $((SECS + 30)) >"$o-recv$i.json" 2>/dev/null
		recv_pid[$i]=$SPAWNED
	done
	sleep 0.2
	nt_start udp
	a1=$(vm_rx 1)
	a2=$(vm_rx 2)
	s0=$(date +%s.%N)
	for i in 1 2; do
		e2e_spawn "$NS_E" "$SEQFLOW" send "${VM_IP4[$i]}" 9000 --flows 16 --rate 0 --duration "$SECS" --size 18 \
			>"$o-send$i.json" 2>/dev/null
		send_pid[$i]=$SPAWNED
	done
	for i in 1 2; do wait "${send_pid[$i]}" 2>/dev/null || true; done
	s1=$(date +%s.%N)
	sleep 0.3
	b1=$(vm_rx 1)
	b2=$(vm_rx 2)
	nt=$(nt_stop udp)
	local sent=0 reo=0
	for i in 1 2; do
		e2e_stop "${recv_pid[$i]}"
		sent=$((sent + $(jq '.sent // 0' "$o-send$i.json" 2>/dev/null || echo 0)))
		reo=$((reo + $(jq '.reordered // 0' "$o-recv$i.json" 2>/dev/null || echo 0)))
	done
	e2e_spawn "$NS_E" iperf3 -c "${VM_IP4[2]}" -p 5201 -t $((SECS + 2)) >/dev/null 2>&1
	local load=$SPAWNED pnt
	sleep 0.5
	nt_start ping
	ip netns exec "$NS_E" ping -n -i 0.01 -c $((SECS * 100)) -W 1 "${VM_IP4[1]}" >"$o-ping.out" 2>&1 || true
	pnt=$(nt_stop ping)
	e2e_stop "$load"
	local placement=null
	if [[ $m == kernel* ]]; then
		placement=$(ctl queue show --json 2>/dev/null | jq -c '[.queues[]? | {queue, processor}]' 2>/dev/null || echo null)
	fi
	jq -n --arg mode "$m" --argjson round "$r" --argjson t1 "$t1" --argjson t4 "$t4" --argjson nt "$nt" --argjson pnt "$pnt" \
		--argjson d $((b1 - a1 + b2 - a2)) --argjson sent "$sent" --argjson s "$s0" --argjson e "$s1" \
		--argjson p50 "$(pct 50 "$o-ping.out")" --argjson p99 "$(pct 99 "$o-ping.out")" --argjson reo "$reo" \
		--argjson placement "$placement" '
		($nt.kthreads // [] | map(.runs) | add // 0) as $runs |
		{mode: $mode, round: $round,
		 udp64_pps: ($d / ($e - $s) | round), udp64_offered_pps: ($sent / ($e - $s) | round), udp64_reordered: $reo,
		 cpu_ms_per_mframe: (if $d > 0 and $nt.net_ns != null then ($nt.net_ns / 1e6) / ($d / 1e6) else null end),
		 frames_per_kthread_run: (if $runs > 0 then $d / $runs else null end),
		 udp64_kthread_share: (if ($nt.net_ns // 0) > 0 then $nt.kthread_run_ns / $nt.net_ns else null end),
		 tcp1_gbps: $t1.gbps, tcp1_cpu_s_per_gb: $t1.cpu_s_per_gb, tcp1_retransmits: $t1.retransmits,
		 tcp4_gbps: $t4.gbps, tcp4_cpu_s_per_gb: $t4.cpu_s_per_gb, tcp4_retransmits: $t4.retransmits,
		 ping_p50_ms: $p50, ping_p99_ms: $p99,
		 load: {udp64: $nt.procs_running_mean, tcp1: $t1.load, tcp4: $t4.load, ping: $pnt.procs_running_mean},
		 nettime_udp64: $nt, placement: $placement}'
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
# Medians over the rounds whose figure ran under a load like the others': a measurement whose
# window saw a mean procs_running more than LOAD_TOL times above or below the median of that
# figure's windows (all modes) is left out and listed in "rejected" (the machine is shared).
res=$(jq -s --arg skip "$kernel_skip" --argjson secs "$SECS" --argjson rounds "$rounds" --arg cpus "$ncpu" \
	--arg modes "${modes[*]}" --argjson tol "$LOAD_TOL" --arg gro "$GRO" --arg mask "$mask" '
	def stat(xs): (xs | map(select(type == "number")) | sort) as $v |
		if ($v | length) == 0 then null
		else {median: (if ($v | length) % 2 == 1 then $v[($v | length) / 2 | floor]
			       else ($v[($v | length) / 2 - 1] + $v[($v | length) / 2]) / 2 end),
		      min: $v[0], max: $v[-1], n: ($v | length)} end;
	def groups: {udp64: ["udp64_pps", "udp64_offered_pps", "udp64_reordered", "cpu_ms_per_mframe", "frames_per_kthread_run",
			     "udp64_kthread_share"],
		     tcp1: ["tcp1_gbps", "tcp1_cpu_s_per_gb", "tcp1_retransmits"],
		     tcp4: ["tcp4_gbps", "tcp4_cpu_s_per_gb", "tcp4_retransmits"],
		     ping: ["ping_p50_ms", "ping_p99_ms"]};
	def figures: [groups[][]];
	. as $all | ($modes | split(" ")) as $order | ($order | map(select(. as $m | $all | map(.mode) | index($m)))) as $ran |
	(reduce (groups | keys[]) as $g ({}; .[$g] = (stat([$all[] | .load[$g]]).median))) as $lmed |
	def kept(r; g): (r.load[g] | type) != "number" or $lmed[g] == null or
		(r.load[g] <= $lmed[g] * $tol and r.load[g] >= $lmed[g] / $tol);
	[$all[] as $r | groups | keys[] as $g | select(kept($r; $g) | not) |
		{mode: $r.mode, round: $r.round, figures: $g, load: $r.load[$g], median_load: $lmed[$g]}] as $rejected |
	(reduce $ran[] as $m ({}; .[$m] = (reduce (groups | to_entries[]) as $e ({};
		reduce $e.value[] as $f (.; .[$f] = stat([$all[] | select(.mode == $m and kept(.; $e.key)) | .[$f]])))
		+ {load: (reduce (groups | keys[]) as $g ({}; .[$g] = (stat([$all[] | select(.mode == $m) | .load[$g]]).median)))}))) as $by |
	def ratio(a; b; f): if ($by[a][f].median | type) == "number" and ($by[b][f].median | type) == "number"
		and $by[b][f].median > 0 then ($by[a][f].median / $by[b][f].median * 1000 | round / 1000) else null end;
	{benchmark: "kernel", rounds: $rounds, seconds_per_figure: $secs, processors: ($cpus | tonumber),
	 sender: "dvmq-seqflow, 2 x 16 UDP flows, sendmmsg, 60-byte frames (64 with FCS), tx checksumming off",
	 uplink_gro: $gro, rps_cpus: $mask,
	 cpu: "net_ns of dvmq-nettime: network softirq time outside the cpumap kthreads (clock at the softirq tracepoints) + the cpumap kthreads run time (schedstat), per million UDP frames delivered and per GB TCP received",
	 load: "mean procs_running during each figure (the machine is shared); median by figure over all modes: \($lmed | tojson); tolerance x\($tol)",
	 modes: $by, rejected: $rejected, kernel_skipped: (if $skip == "" then null else $skip end),
	 ratio_kernel_over_bridge: (reduce figures[] as $f ({}; .[$f] = ratio("kernel"; "bridge"; $f))),
	 ratio_kernel_over_rps: (reduce figures[] as $f ({}; .[$f] = ratio("kernel"; "rps"; $f))),
	 ratio_kernel_over_vs: (if $by["kernel-vs"] then reduce figures[] as $f ({}; .[$f] = ratio("kernel"; "kernel-vs"; $f)) else null end),
	 ratio_kernel_fifo_over_vs: (if $by["kernel-fifo-vs"] then reduce figures[] as $f ({}; .[$f] = ratio("kernel-fifo"; "kernel-fifo-vs"; $f)) else null end),
	 goal: "kernel >= rps on every figure (ping, CPU per frame or per GB: ratio <= 1)", rounds_raw: $all}' "$E2E_TMP/rounds.jsonl")
if ((json)); then
	echo "$res" >&3
else
	echo "$res" | jq -r '
		def f(x): if x == null then "-" elif (x | type) == "number" then
			(if x >= 1000 then (x | round | tostring) elif x >= 10 then (x * 10 | round / 10 | tostring)
			 else (x * 1000 | round / 1000 | tostring) end) else x end;
		def cell(s): if s == null then "-" else "\(f(s.median)) [\(f(s.min))..\(f(s.max))]" end;
		def pad(n): tostring | if length < n then . + " " * (n - length) else . end;
		"dvmq bench kernel: \(.rounds) interleaved rounds, \(.seconds_per_figure) s per figure, \(.processors) CPUs, uplink GRO \(.uplink_gro), RPS mask \(.rps_cpus); median [min..max]",
		"sender: \(.sender)",
		"CPU: \(.cpu)",
		"load: \(.load)",
		(if .kernel_skipped then "kernel: skipped: \(.kernel_skipped)" else empty end),
		(.rejected[] | "rejected: \(.mode) round \(.round) \(.figures): load \(.load) against a median of \(.median_load)"),
		("figure" | pad(24)) + (.modes | keys_unsorted | map(pad(28)) | join("")) + "kernel/bridge  kernel/rps",
		(. as $r | ["udp64_pps", "udp64_offered_pps", "udp64_reordered", "cpu_ms_per_mframe", "frames_per_kthread_run",
			"tcp1_gbps", "tcp1_cpu_s_per_gb", "tcp4_gbps", "tcp4_cpu_s_per_gb", "ping_p50_ms", "ping_p99_ms"][] as $f |
			($f | pad(24)) + ([$r.modes[] | cell(.[$f]) | pad(28)] | join("")) +
			(f($r.ratio_kernel_over_bridge[$f]) | pad(15)) + f($r.ratio_kernel_over_rps[$f])),
		("load (procs_running)" | pad(24)) + ([.modes[] | "udp \(f(.load.udp64)) tcp \(f(.load.tcp1))/\(f(.load.tcp4))" | pad(28)] | join(""))' >&3
fi
e2e_finish >/dev/null
