#!/bin/bash
# test_move.sh — a VM's queue moved between processors every 100 ms under load: TCP retransmissions
# stay at the no-move baseline (iperf3 -J, end.sum_sent.retransmits, ext -> VM; within the noise
# this shared machine shows without moves, see below) and nothing
# arrives reordered at the VM (iperf3 UDP received by the VM: out_of_order == 0), for a tap VM
# and an afpacket VM.
#
# The move: dvmqctl has no "move queue Q to processor N", so the test alternates the adapter's
# processor set between processor 0 and processor 1 (`dvmqctl adapter set --processors`): every
# change evicts the queues from the processor that left the set (moves by reason
# "processor-set"), and the test checks that the moves happened (dvmqctl stats --json). In
# bridge mode there are no queues: the baseline and the order check run, the move checks skip.
# With E2E_RUN_ARGS=--run-to-completion (run_all.sh runs it so too) processor 1's queues are
# served by the uplink thread itself: every move is then a handoff to or from that inline worker
# (issue 18 §2), and the test first checks that dvmq says it serves them so.
# Root; skips with the reason otherwise.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"
rtc=0
[[ " ${E2E_RUN_ARGS:-} " == *" --run-to-completion "* && $E2E_MODE == dvmq ]] && rtc=1
name=e2e-move-$E2E_MODE
if ((rtc)); then name+=-run-to-completion; fi # not $( ((rtc)) && ...): its status 1 ends the script (set -e)
if ! why=$(e2e_need iperf3); then
	skip "$name" "$why"
	finish
	exit
fi
e2e_init "$name"
e2e_up
e2e_servers
SECS=${E2E_MOVE_SECS:-3}
if ((rtc)); then
	what="$name: the uplink thread serves processor 1's queues"
	if grep -q "run to completion: the uplink thread serves processor 1's queues" "$E2E_TMP/dvmq.err"; then
		ok "$what"
	else
		bad "$what" "no such line in dvmq's log: $(head -c 400 "$E2E_TMP/dvmq.err")"
	fi
fi

# mover: the processor set 0, 1, 0, ... every 100 ms until killed (a child of this script)
mover() {
	local p=0
	while :; do
		ctl adapter set --processors "$p" >/dev/null 2>&1 || true
		p=$((1 - p))
		sleep 0.1
	done
}

# tcp_retrans I OUT: ext -> vm I for SECS; prints the sender's retransmissions, or "x"
tcp_retrans() {
	if e2e_iperf "$NS_E" "${VM_IP4[$1]}" "$2" -t "$SECS"; then
		jq -r '.end.sum_sent.retransmits // "x"' "$2"
	else
		echo x
	fi
}

# udp_ooo I OUT: ext sends to vm I (the VM is the client, -R), the VM counts; prints
# "out_of_order packets", or "x"
udp_ooo() {
	if timeout 30 ip netns exec "${VM_NS[$1]}" iperf3 -c "${VM_EXT4[$1]}" -p 5201 -J -u -b 100M -l 1200 \
		-t "$SECS" -R >"$2" 2>&1; then
		jq -r '"\([.end.streams[].udp.out_of_order] | add // "x") \(.end.sum.packets // 0)"' "$2"
	else
		echo "x 0"
	fi
}

moves() { e2e_stat '.moves.total'; }

for i in 1 2; do
	vm="vm$i (${VM_KIND[$i]})"
	base=$(tcp_retrans "$i" "$E2E_TMP/base-$i.json")
	if [[ $base == x ]]; then
		bad "$name: baseline iperf3 TCP ext -> $vm" "$(head -c 300 "$E2E_TMP/base-$i.json")"
		continue
	fi
	ok "$name: baseline iperf3 TCP ext -> $vm ($base retransmissions in $SECS s)"
	if [[ $E2E_MODE == bridge ]]; then
		skip "$name: TCP under moves, $vm" "bridge mode: the Linux bridge has no queues to move"
		read -r ooo pk < <(udp_ooo "$i" "$E2E_TMP/udp-$i.json")
		what="$name: UDP ext -> $vm arrives in order (no moves)"
		if [[ $ooo == 0 && $pk -gt 0 ]]; then ok "$what ($pk datagrams)"; else bad "$what" "$ooo reordered of $pk"; fi
		continue
	fi
	m0=$(moves)
	mover &
	mpid=$!
	E2E_PIDS+=("$mpid")
	moved=$(tcp_retrans "$i" "$E2E_TMP/moved-$i.json")
	m1=$(moves)
	read -r ooo pk < <(udp_ooo "$i" "$E2E_TMP/udp-$i.json")
	m2=$(moves)
	e2e_stop "$mpid"
	ctl adapter set --processors 0,1 >/dev/null 2>&1 || true

	what="$name: the queues moved under TCP load, $vm"
	# 10 changes a second for SECS s; each moves at least this VM's queue: ask for a third of it
	if ((m1 - m0 >= SECS * 10 / 3)); then ok "$what ($((m1 - m0)) moves)"; else bad "$what" "$((m1 - m0)) moves in $SECS s (mover: dvmqctl adapter set --processors)"; fi
	what="$name: TCP retransmissions under moves stay at the baseline, $vm"
	if [[ $moved == x ]]; then
		bad "$what" "iperf3 failed: $(head -c 300 "$E2E_TMP/moved-$i.json")"
	else
		# Retransmissions on this shared 2-CPU machine vary run to run without any move (0 then
		# 45, or hundreds, seen with the mover disabled): allow twice the baseline plus 0.05 % of
		# the segments sent. A move that lost or reordered frames costs retransmissions at each of
		# the 10 moves a second, far above that; reordering itself is checked exactly below.
		segs=$(jq -r '(.end.sum_sent.bytes // 0) / 1448 | floor' "$E2E_TMP/moved-$i.json")
		if ((moved <= 2 * base + segs / 2000)); then
			ok "$what ($moved vs $base, $segs segments)"
		else
			bad "$what" "$moved retransmissions with moves, $base without (want <= 2 x baseline + 0.05 % of $segs segments)"
		fi
	fi
	what="$name: UDP ext -> $vm arrives in order under moves"
	if ((m2 - m1 < SECS * 10 / 3)); then
		bad "$what" "only $((m2 - m1)) moves during the UDP run"
	elif [[ $ooo == 0 && $pk -gt 0 ]]; then
		ok "$what ($pk datagrams, $((m2 - m1)) moves)"
	else
		bad "$what" "$ooo datagrams out of order of $pk"
	fi
done
if e2e_dvmq_alive; then ok "$name: the switch still runs"; else bad "$name: the switch still runs" "dvmq exited"; fi
e2e_finish
