#!/bin/bash
# test_replay.sh — tcpreplay of a capture (mkcap.py) into the uplink from the external host;
# tcpdump in each VM namespace sees exactly the frames addressed to it plus the broadcast,
# multicast and unknown unicast of its VLAN, and nothing of the other VLAN, of VLAN 0 or of a
# VLAN no VM carries. The expected count per VM comes from the capture itself (tcpdump -r with
# a filter per VM), compared with what the VM's capture holds of the replay's source MAC.
# Root; skips with the reason otherwise.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"
name=e2e-replay-$E2E_MODE
if ! why=$(e2e_need tcpreplay tcpdump python3); then
	skip "$name" "$why"
	finish
	exit
fi
e2e_init "$name"
e2e_up

SRC=02:dd:00:00:00:01
cap=$E2E_TMP/replay.pcap
python3 "$(dirname "$0")/mkcap.py" "$cap" "$SRC" "10=${VM_MAC[1]},${VM_MAC[2]}" "20=${VM_MAC[3]},${VM_MAC[4]}"
total=$(e2e_count "$cap" "")

for i in "${E2E_VMS[@]}"; do
	e2e_capture "${VM_NS[$i]}" "${VM_IF[$i]}" "$E2E_TMP/vm$i.pcap" ether src "$SRC"
	pid[$i]=$SPAWNED
done
if ip netns exec "$NS_E" tcpreplay -q --pps 2000 -i "$UP_E" "$cap" >"$E2E_TMP/tcpreplay.out" 2>&1; then
	ok "$name: tcpreplay sent $total frames into the uplink"
else
	bad "$name: tcpreplay into the uplink" "$(head -c 300 "$E2E_TMP/tcpreplay.out")"
fi
# what each VM should see: its unicast, and its VLAN's group and unknown unicast
declare -A wants filter
for i in "${E2E_VMS[@]}"; do
	v=${VM_VLAN[$i]}
	known=()
	for j in "${E2E_VMS[@]}"; do
		[[ ${VM_VLAN[$j]} == "$v" ]] && known+=("not ether dst ${VM_MAC[$j]}")
	done
	unknown=$(printf ' and %s' "${known[@]}")
	filter[$i]="vlan $v and (ether dst ${VM_MAC[$i]} or ether multicast or (${unknown# and }))"
	wants[$i]=$(e2e_count "$cap" "${filter[$i]}")
done
# a loaded machine may still hold frames in the switch or in tcpdump's buffer: wait (10 s at most)
# until every capture holds what it should, then a moment for anything extra to show
for ((n = 0; n < 100; n++)); do
	all=1
	for i in "${E2E_VMS[@]}"; do
		(($(e2e_count "$E2E_TMP/vm$i.pcap" "") >= wants[$i])) || all=0
	done
	((all)) && break
	sleep 0.1
done
sleep 0.3
for i in "${E2E_VMS[@]}"; do e2e_stop "${pid[$i]}"; done

for i in "${E2E_VMS[@]}"; do
	v=${VM_VLAN[$i]}
	f=${filter[$i]}
	want=${wants[$i]}
	got=$(e2e_count "$E2E_TMP/vm$i.pcap" "")
	own=$(e2e_count "$cap" "vlan $v and ether dst ${VM_MAC[$i]}")
	what="$name: vm$i (${VM_KIND[$i]}, VLAN $v) sees its $own unicast frames plus its VLAN's group and unknown unicast"
	if ((want == 0)); then
		bad "$what" "the capture holds nothing for it (mkcap.py broken?)"
	elif ((got == want)); then
		ok "$what ($got of $total)"
	else
		bad "$what" "saw $got frames from $SRC, want $want (filter: $f)"
	fi
	# frames of the other VLAN would be counted above; say which if any arrived
	tagged=$(e2e_count "$E2E_TMP/vm$i.pcap" "vlan")
	what="$name: vm$i receives untagged frames only (an access port)"
	if ((tagged == 0)); then ok "$what"; else bad "$what" "$tagged tagged frames"; fi
done
if e2e_dvmq_alive; then ok "$name: the switch still runs"; else bad "$name: the switch still runs" "dvmq exited"; fi
e2e_finish
