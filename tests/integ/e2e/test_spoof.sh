#!/bin/bash
# test_spoof.sh — port security: a VM (vm2, afpacket, VLAN 10) sending with a spoofed source MAC
# (its NIC's address changed with `ip link set address`, then raw frames), with a multicast
# source MAC, or tagged with a VLAN it does not carry (raw frames through an AF_PACKET socket in
# the VM: mkcap.py --send): nobody receives them (tcpdump on the uplink's ext side and in the
# other VMs), dvmq counts them by reason (dvmqctl stats --json: spoofed-mac, multicast-source,
# foreign-vlan), and the other VMs keep their traffic (iperf3 and ping). dvmq only: the Linux
# bridge has no such checks, so bridge mode skips. Root; skips with the reason otherwise.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"
name=e2e-spoof-$E2E_MODE
if ! why=$(e2e_need iperf3 ping tcpdump python3); then
	skip "$name" "$why"
	finish
	exit
fi
if [[ $E2E_MODE == bridge ]]; then
	skip "$name" "bridge mode: the Linux bridge checks neither source MACs nor VLAN tags on its ports"
	finish
	exit
fi
e2e_init "$name"
e2e_up
e2e_servers
N=20
SPOOF=02:77:00:00:0a:99
MCSRC=01:00:5e:00:00:01
mk=$(dirname "$0")/mkcap.py
ns2=${VM_NS[2]}
if2=${VM_IF[2]}

# counter REASON: what VMs sent that the switch dropped for REASON (`dvmqctl stats --json`:
# dataplane.vms.dropped_by_reason), or "absent"; vm2_counter REASON: the same for vm2 alone
counter() {
	ctl stats --json 2>/dev/null | jq -r --arg k "$1" '.dataplane.vms.dropped_by_reason[$k] // "absent"'
}
vm2_counter() {
	ctl stats --json 2>/dev/null |
		jq -r --arg k "$1" --arg vm "dvt${T}vm2" '(.vms[]? | select(.vm == $vm) | .sent.dropped_by_reason[$k]) // "absent"'
}
declare -A before2
for r in spoofed-mac multicast-source foreign-vlan; do before2[$r]=$(vm2_counter "$r"); done
declare -A before
for r in spoofed-mac multicast-source foreign-vlan; do before[$r]=$(counter "$r"); done

# everyone who must not see a thing: the uplink (ext side, before the VLAN mux), every other VM
e2e_capture "$NS_E" "$UP_E" "$E2E_TMP/ext.pcap"
caps=("$SPAWNED")
for i in 1 3 4; do
	e2e_capture "${VM_NS[$i]}" "${VM_IF[$i]}" "$E2E_TMP/vm$i.pcap"
	caps+=("$SPAWNED")
done

ip -n "$ns2" link set dev "$if2" address "$SPOOF"
if e2e_ping "$ns2" -c 3 -i 0.2 -W 1 "${VM_EXT4[2]}"; then
	bad "$name: vm2 with a spoofed MAC cannot reach ext" "ping got a reply"
else
	ok "$name: vm2 with a spoofed MAC cannot reach ext"
fi
ip netns exec "$ns2" python3 "$mk" --send "$if2" "$N" ff:ff:ff:ff:ff:ff "$SPOOF" 0
ip -n "$ns2" link set dev "$if2" address "${VM_MAC[2]}"
ip netns exec "$ns2" python3 "$mk" --send "$if2" "$N" ff:ff:ff:ff:ff:ff "$MCSRC" 0
ip netns exec "$ns2" python3 "$mk" --send "$if2" "$N" ff:ff:ff:ff:ff:ff "${VM_MAC[2]}" 20
ip netns exec "$ns2" python3 "$mk" --send "$if2" "$N" "${VM_MAC[3]}" "${VM_MAC[2]}" 20

# the other VMs keep working meanwhile
j=$E2E_TMP/tcp-1.json
if e2e_iperf "$NS_E" "${VM_IP4[1]}" "$j" -t 1 && (($(jq -r '.end.sum_received.bytes // 0' "$j") > 0)); then
	ok "$name: iperf3 ext -> vm1 unaffected"
else
	bad "$name: iperf3 ext -> vm1 unaffected" "$(head -c 300 "$j")"
fi
if e2e_ping "${VM_NS[4]}" -c 2 -i 0.2 -W 1 "${VM_IP4[3]}"; then ok "$name: ping vm4 -> vm3 unaffected"; else bad "$name: ping vm4 -> vm3 unaffected" "no reply"; fi
if e2e_ping "$ns2" -c 2 -i 0.2 -W 1 "${VM_EXT4[2]}"; then
	ok "$name: vm2 with its own MAC back reaches ext"
else
	bad "$name: vm2 with its own MAC back reaches ext" "no reply"
fi
sleep 0.3
for p in "${caps[@]}"; do e2e_stop "$p"; done

for f in ext vm1 vm3 vm4; do
	c=$(e2e_count "$E2E_TMP/$f.pcap" "ether src $SPOOF or ether src $MCSRC or (vlan 20 and ether src ${VM_MAC[2]})")
	c2=$(e2e_count "$E2E_TMP/$f.pcap" "udp port 9 and ether src ${VM_MAC[2]}")
	all=$(e2e_count "$E2E_TMP/$f.pcap" "") # a capture that holds nothing would prove nothing
	what="$name: $f receives none of vm2's spoofed, multicast-source or foreign-VLAN frames"
	if ((c == 0 && c2 == 0 && all > 0)); then
		ok "$what"
	else
		bad "$what" "$c by source/tag, $c2 raw UDP frames from vm2's MAC, $all frames captured in all"
	fi
done
for r in spoofed-mac multicast-source foreign-vlan; do
	now=$(counter "$r")
	what="$name: dvmqctl stats counts the drops as $r"
	now2=$(vm2_counter "$r")
	if [[ $now == absent || ${before[$r]} == absent || $now2 == absent || ${before2[$r]} == absent ]]; then
		bad "$what" "dvmqctl stats --json has no '$r' counter (dataplane.vms.dropped_by_reason, vms[vm2].sent.dropped_by_reason)"
	elif ((now - before[$r] >= N && now2 - before2[$r] >= N)); then
		ok "$what ($((now - before[$r])), vm2 $((now2 - before2[$r])))"
	else
		bad "$what" "counted $((now - before[$r])) (vm2 $((now2 - before2[$r]))), want >= $N"
	fi
done
if e2e_dvmq_alive; then ok "$name: the switch still runs"; else bad "$name: the switch still runs" "dvmq exited"; fi

# SIGTERM (after the drain): the closing line accounts for every frame both ways, real ports
# included: uplink lost 0; VM frames read = forwarded + dropped (spoofed and the rest) + detached
e2e_stop "$DVMQ_PID"
re='stopped after .* lost 0, reordered [0-9]+; .*; VM frames ([0-9]+) \(forwarded ([0-9]+), dropped ([0-9]+), detached ([0-9]+), lost 0\)'
line=$(grep 'stopped after' "$E2E_TMP/dvmq.err" || true)
if [[ $line =~ $re ]] && ((BASH_REMATCH[1] == BASH_REMATCH[2] + BASH_REMATCH[3] + BASH_REMATCH[4] &&
	BASH_REMATCH[3] >= 4 * N)); then
	ok "$name: at SIGTERM every frame is counted both ways"
else
	bad "$name: at SIGTERM every frame is counted both ways" "${line:-no closing line: $(tail -c 300 "$E2E_TMP/dvmq.err")}"
fi
e2e_finish
