#!/bin/bash
# test_moves.sh [BUILD_DIR] — kernel mode's ordered moves under traffic, through a real bridge
# (root; skipped with the reason otherwise):
#
#   S ns: dvt<T>s (10.88.<T>.1) ─veth─ dvt<T>u: the uplink, kernel mode on it ┐
#   H ns: bridge dvt<T>br ─ the VM: TAP dvt<T>t (its reader), or dvt<T>vh ─veth─ V ns┘
#
# A sequence-numbered UDP sender (dvmq-seqflow) in S, its receiver in V; the VM's queue moved back
# and forth between processors 0 and 1, each move waited for, while the traffic runs. Every frame
# must arrive or be counted (sent = received + what the VM's port dropped, no cpumap drop) and none
# behind a later one of its flow. Phases:
#  - kdp-moves: MOVES moves (default 10000), 8 flows in bursts of 32 frames of one flow, KDP_RATE
#    frames/s (default 20000);
#  - kdp-rebinds (queue moves only; KDP_REBINDS=0 leaves it out): the VM's filter rebound 1000
#    times between queue 1 (processor 1) and queue 2 (processor 0), 100,000 frames/s
#    (KDP_REBIND_RATE), dvmq_kdp_filter_rebind (--rebind-plain shows what it prevents);
#  - kdp-moves-stalled (TAP VM; KDP_STALL=0 leaves it out): 2000 moves, one flow of frames paced
#    one by one from processor 1 at 10000/s (KDP_STALL_RATE), while processor 0's path from the uplink's tc to the
#    VM's port is slow for one frame in 16 (stall.bpf.c: what a descheduled vCPU or a long
#    netfilter path does on a real host): a move that flips once the old processor's last frame is
#    counted at the uplink lets the next frame overtake it there (--drain-at-tc shows it).
# The VM (KDP_VM): tap (default), a TAP read by a process, as QEMU reads a VM's; veth, a VM
# namespace behind a veth, whose per-CPU backlog can reorder (docs/kernel-mode.md: measured,
# not asserted). KDP_BUCKETS=1 (VMMQ): the VM's frames go through a queue group of queues 1 and 2
# (processors 0 and 1), 64 flows, and MOVES bucket moves (bucket 0, 1, 2, ... each to the other
# queue, 100,000 frames/s) instead of queue moves; the same checks (the stalled phase is for queue
# moves only). KDP_MOVES_FLAGS adds dvmq-kdptool flags to every phase (--unordered,
# --drain-at-tc show what the test catches); KDP_EVENTS=DIR writes the moves and the reordered
# frames there (PHASE-moves.txt, PHASE-recv.txt) to tell which move caused what. The cpumap
# kthreads run SCHED_FIFO (kdptool --fifo): moves are what is tested here, not whether other
# processes may starve them (docs/kernel-mode.md).
# Every name starts with dvt plus a tag of this shell's PID; the EXIT trap removes them all.
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../cli/harness.sh"
B=$(cd "${1:-$here/../../../build}" && pwd)
MOVES=${KDP_MOVES:-10000}
RATE=${KDP_RATE:-20000}
VM_KIND=${KDP_VM:-tap}    # veth: a VM namespace on a veth; tap: a TAP read by a process, as QEMU does
BUCKETS=${KDP_BUCKETS:-0}
NAME=kdp-moves FLOWS=8 BURST=32 KIND=
# buckets: 64 flows over 128 buckets, each bucket a fraction of the traffic: a faster sender, so
# that a moved bucket has frames in flight (at 20,000/s even --unordered shows no reorder here)
((BUCKETS)) && NAME=kdp-bucket-moves FLOWS=64 BURST=32 KIND="bucket " RATE=${KDP_RATE:-100000}
# a 4-hex tag of this shell's PID (two hex digits collided between concurrent runs: one run's
# cleanup deleted the other's namespaces); T2 a byte of it for the MAC and the subnet
T=${KDP_TAG:-$(printf '%04x' $(($$ % 65536)))}
T2=${T:2:2}
NS_S=dvt${T}S NS_H=dvt${T}H NS_V=dvt${T}V
TMP=
PIDS=()
MADE=() # the namespaces this run created: the only ones its cleanup deletes

need() {
	[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces, veth, BPF)"; return 1; }
	[[ $(nproc) -ge 2 ]] || { echo "needs two processors"; return 1; }
	for t in ip ethtool tc clang taskset; do command -v $t >/dev/null || { echo "$t is not installed (make test installs PKGS_TEST)"; return 1; }; done
	[[ -x $B/tests/dvmq-kdptool && -x $B/tests/dvmq-seqflow ]] || { echo "dvmq-kdptool is not built (-Dxdp)"; return 1; }
	return 0
}

cleanup() {
	local p ns
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for ns in "${MADE[@]}"; do ip netns del "$ns" 2>/dev/null; done
	[[ -n $TMP && ${KDP_KEEP:-0} != 1 ]] && rm -rf "$TMP"
	[[ ${KDP_KEEP:-0} == 1 ]] && echo "kept $TMP" >&2
	return 0
}

if ! why=$(need); then
	skip $NAME "$why"
	finish
	exit $?
fi
trap cleanup EXIT
TMP=$(mktemp -d /tmp/dvmq-kdp.XXXXXX)
set -e
for ns in $NS_S $NS_H $NS_V; do
	if ! ip netns add $ns 2>/dev/null; then
		bad $NAME-setup "namespace $ns exists (another run's?): not touched"
		finish
		exit 1
	fi
	MADE+=("$ns")
	ip -n $ns link set lo up
done
ip -n $NS_S link add dvt${T}s type veth peer name dvt${T}u netns $NS_H
ip -n $NS_H link add dvt${T}br type bridge
ip -n $NS_H link set dvt${T}u master dvt${T}br
for l in dvt${T}u dvt${T}br; do ip -n $NS_H link set $l up; done
ip -n $NS_S addr add 10.88.$((0x$T2)).1/24 dev dvt${T}s
ip -n $NS_S link set dvt${T}s up
if [[ $VM_KIND != tap ]]; then
	ip -n $NS_H link add dvt${T}vh type veth peer name dvt${T}v netns $NS_V
	ip -n $NS_H link set dvt${T}vh master dvt${T}br
	ip -n $NS_H link set dvt${T}vh up
	ip -n $NS_V link set dvt${T}v address 02:88:00:${T:0:2}:$T2:11
	ip -n $NS_V addr add 10.88.$((0x$T2)).11/24 dev dvt${T}v
	ip -n $NS_V link set dvt${T}v up
fi
# the lab's artefact (docs/kernel-mode.md): partial checksums die under native XDP
ip netns exec $NS_S ethtool -K dvt${T}s tx off >/dev/null
[[ ${KDP_VM_GRO:-0} == 1 ]] && ip netns exec $NS_V ethtool -K dvt${T}v gro on >/dev/null
for ns in $NS_S $NS_H $NS_V; do ip netns exec $ns sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6'; done
set +e

# phase NAME MOVES RATE FLOWS BURST CPU [KDPTOOL FLAGS...]: the receiver, then kernel mode with its
# moves, then the sender until the moves are done (stopped before kernel mode lets go of the
# uplink: frames still in a ring at the detach are not what is tested); the sender and the mover
# run on processor CPU ("": anywhere). One ok/FAIL line NAME.
phase() {
	local name=$1 moves_asked=$2 rate=$3 flows=$4 burst=$5 cpu=$6 i
	shift 6
	rm -f "$TMP"/{recv,kdp,send}.json "$TMP/kdp.err"
	if [[ $VM_KIND == tap ]]; then
		# a TAP the receiver holds, as QEMU holds a VM's: the bridge floods it the VM's frames
		# (a reader that keeps up on a loaded machine: a nicer process and a longer queue)
		ip netns exec $NS_H nice -n -10 "$B/tests/dvmq-seqflow" recv-tap dvt${T}t 9000 --idle-ms 500 \
			${KDP_EVENTS:+--events $KDP_EVENTS/$name-recv.txt} > "$TMP/recv.json" 2>"$TMP/recv.err" &
		RP=$!
		for ((i = 0; i < 100; i++)); do ip -n $NS_H link show dvt${T}t >/dev/null 2>&1 && break; sleep 0.05; done
		ip -n $NS_H link set dvt${T}t master dvt${T}br && ip -n $NS_H link set dvt${T}t txqueuelen 10000 up
		ip -n $NS_S neigh replace 10.88.$((0x$T2)).11 lladdr 02:88:00:${T:0:2}:$T2:11 dev dvt${T}s
	else
		ip netns exec $NS_V "$B/tests/dvmq-seqflow" recv 9000 --idle-ms 500 \
			${KDP_EVENTS:+--events $KDP_EVENTS/$name-recv.txt} > "$TMP/recv.json" 2>/dev/null &
		RP=$!
	fi
	PIDS+=($RP)
	local what_moves=(--vm 02:88:00:${T:0:2}:$T2:11,0,1 --place 1=1 --moves "$moves_asked")
	((BUCKETS)) && what_moves=(--group 02:88:00:${T:0:2}:$T2:11,0,1:2 --place 1=0 --place 2=1 --bucket-moves "$moves_asked")
	ip netns exec $NS_H ${cpu:+taskset -c $cpu} "$B/tests/dvmq-kdptool" dvt${T}u --cpus 0,1 --queues 4 "${what_moves[@]}" \
		--fifo 50 --qsize 8192 --gap-us 100 --hold 0.2 \
		${KDP_EVENTS:+--events $KDP_EVENTS/$name-moves.txt} "$@" > "$TMP/kdp.json" 2> "$TMP/kdp.err" &
	KP=$!
	PIDS+=($KP)
	for ((i = 0; i < 100; i++)); do grep -qs ready "$TMP/kdp.err" && break; sleep 0.05; done
	[[ $VM_KIND == tap ]] || ip netns exec $NS_S ping -c 1 -W 2 10.88.$((0x$T2)).11 >/dev/null # ARP before the count
	ip netns exec $NS_S ${cpu:+taskset -c $cpu} "$B/tests/dvmq-seqflow" send 10.88.$((0x$T2)).11 9000 \
		--flows "$flows" --burst "$burst" --rate "$rate" --duration 300 > "$TMP/send.json" &
	SP=$!
	PIDS+=($SP)
	while kill -0 $KP 2>/dev/null && ! grep -qs 'moves done' "$TMP/kdp.err"; do sleep 0.05; done
	kill -TERM $SP
	wait $SP
	wait $KP
	local krc=$?
	wait $RP
	local kdp recv send
	kdp=$(cat "$TMP/kdp.json") recv=$(cat "$TMP/recv.json") send=$(cat "$TMP/send.json")
	# frames the VM's own port dropped (a TAP whose reader fell behind: its queue was full)
	local vm_drops sent got reord miss moves forced drops loc what
	vm_drops=$(num "$recv" port_dropped)
	sent=$(num "$send" sent) got=$(num "$recv" received) reord=$(num "$recv" reordered) miss=$(num "$recv" missing)
	moves=$(num "$kdp" moves) forced=$(num "$kdp" moves_forced) drops=$(num "$kdp" cpumap_drops)
	loc=$(num "$kdp" local) # frames that stayed on the CPU that received them (the queue's processor)
	((BUCKETS)) && moves=$(num "$kdp" bucket_moves) forced=$(num "$kdp" bucket_moves_forced)
	[[ " $* " == *" --rebind-to "* ]] && moves=$(num "$kdp" moves_done) # rebinds done; forced: the queues' moves
	what="$moves_asked ${KIND}moves ($moves done, ${forced:-?} forced), $sent sent, $got received, $miss missing ($vm_drops dropped by the VM's port), $reord reordered, ${drops:-?} cpumap drops, ${loc:-?} local"
	if ((krc != 0)) || [[ -z $moves || -z $got || -z $sent ]]; then
		bad $name "kdptool failed ($krc): $(tail -n 3 "$TMP/kdp.err")"
	elif ((moves < moves_asked)); then
		bad $name "only $what"
	elif ((sent == 0 || got < sent / 2)); then
		bad $name "the traffic did not flow: $what"
	elif ((reord != 0 || drops != 0 || got > sent || sent - got > vm_drops)); then
		# every frame arrived, or the VM's port counted it dropped (the port may also count
		# frames that are not the test's)
		bad $name "$what"
	else
		ok "$name ($what)"
	fi
}
num() { echo "$1" | sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p"; }

# flows in bursts of 32 frames of one flow, as a sender's sockets do
phase $NAME "$MOVES" "$RATE" $FLOWS $BURST "" ${KDP_MOVES_FLAGS:-}
if ((!BUCKETS)) && [[ ${KDP_REBINDS:-1000} != 0 ]]; then
	# the VM's filter rebound between queue 1 (processor 1) and queue 2 (processor 0) under the
	# same traffic, each rebind waited for (dvmq_kdp_filter_rebind: the new queue goes where the
	# old one's frames go, the filter changes, the new queue moves on ordered)
	phase kdp-rebinds ${KDP_REBINDS:-1000} ${KDP_REBIND_RATE:-100000} $FLOWS $BURST "" --place 2=0 --rebind-to 2 ${KDP_MOVES_FLAGS:-}
fi
if [[ $VM_KIND == tap && ${KDP_STALL:-1} == 1 ]] && ((!BUCKETS)); then
	# Processor 0's path from the uplink's tc to the VM's port made slow (stall.bpf.c: legacy tc,
	# after kernel mode's tcx counter; 0.5 ms for one frame in 16), one flow of frames paced one
	# by one from processor 1, where the mover runs too: a move that flips once the last frame is
	# counted at the uplink lets the next frame, on processor 1, overtake it (34-52 reordered in
	# 2000 moves with --drain-at-tc, every run); an ordered move waits for processor 0's kthread
	# to finish that frame's batch. 10 kframes/s: processor 0 keeps up (a ring that fills forces
	# moves, which is not what is tested here).
	clang -O2 -g -target bpf -I/usr/include/$(gcc -print-multiarch) -DSTALL_CPU=0 -DSTALL_NS=${KDP_STALL_NS:-500000} -DSTALL_ONE_IN=${KDP_STALL_ONE_IN:-16} \
		-c "$here/stall.bpf.c" -o "$TMP/stall.o" &&
		ip netns exec $NS_H tc qdisc add dev dvt${T}u clsact &&
		ip netns exec $NS_H tc filter add dev dvt${T}u ingress bpf da obj "$TMP/stall.o" sec tc
	if (($? != 0)); then
		bad kdp-moves-stalled "the stall program (stall.bpf.c) did not go on dvt${T}u"
	else
		phase kdp-moves-stalled 2000 ${KDP_STALL_RATE:-10000} 1 1 1 ${KDP_MOVES_FLAGS:-}
	fi
fi
# nothing left on the uplink once kdptool is gone
if ip -n $NS_H -d link show dvt${T}u | grep -q 'prog/xdp'; then
	bad $NAME-clean "an XDP program is left on dvt${T}u"
else
	ok $NAME-clean
fi
finish
