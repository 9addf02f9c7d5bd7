#!/bin/bash
# test_kernel_vmmq.sh — VMMQ in kernel mode (issue 17 section 5), through the daemon and dvmqctl on
# lib.sh's topology (the host's own bridges, dvmq's XDP program on the uplink):
#  - `dvmqctl vm set VM --max-queues 2`: the VM's filter now names a queue group (the XDP filter
#    map's value carries the group bit), and its frames are hashed (xdp_redirected_total{hashed});
#  - load (TCP to vm1, 8 streams; engine high 40 %): the VM's group grows to 2 queues on two
#    processors, and its frames are then processed on both (processed_packets_total{cpu,queue} of
#    each queue of the group, on that queue's processor), its buckets spread over both;
#  - `--max-queues 1`: one queue again, the filter back to a plain queue.
# Root, dvmq with kernel mode, two processors; skips with the reason otherwise. Names dvt*,
# removed on exit.
set -Eeuo pipefail
export E2E_MODE=kernel
source "$(dirname "$0")/lib.sh"
name=e2e-kernel-vmmq
if ! why=$(e2e_need iperf3 bpftool python3); then
	skip "$name" "$why"
	finish
	exit
fi
PROCESSED=processed_packets_total
INTERVAL_MS=200
export E2E_INTERVAL=${INTERVAL_MS}ms E2E_RUN_ARGS=--own-load
# high 40 %: eight TCP streams to one VM keep one processor over it (test_kernel.sh: two streams
# on one processor are over it on any machine this runs on)
export E2E_ENGINE_EXTRA=$'high = 40%\ndwell = 0\nreturn-guard = 1s\nreturn-window = 1s'
e2e_init "$name"
e2e_up
e2e_servers

vm1=dvt${T}vm1
processed() {
	ctl stats --json | jq -r --arg n "$PROCESSED" --arg q "$1" --arg c "$2" \
		'[.dataplane_counters[]? | select(.name == $n and .labels.queue == $q and .labels.cpu == $c) | .value] | add // 0'
}
cpu_of_proc() { ctl processor show --json | jq -r --argjson p "$1" '.processors[] | select(.processor == $p) | .cpu'; }
counter() { # counter NAME KEY VALUE
	ctl stats --json | jq -r --arg n "$1" --arg k "$2" --arg v "$3" \
		'[.dataplane_counters[]? | select(.name == $n and .labels[$k] == $v) | .value] | add // 0'
}
# the value of vm1's entry in the XDP filter map dvmq's process holds (MAC, VLAN -> value)
filter_value() {
	local ids m id
	ids=$(cat /proc/"$DVMQ_PID"/fdinfo/* 2>/dev/null | awk '$1 == "map_id:" { print $2 }' | sort -u)
	for m in $ids; do
		id=$(bpftool -j map show id "$m" 2>/dev/null | jq -r 'select(.name | startswith("dvmq_kern_filte")) | .id')
		[[ -n $id ]] || continue
		bpftool -j map dump id "$id" | python3 -c '
import json, sys
mac = bytes.fromhex(sys.argv[1].replace(":", ""))
for e in json.load(sys.stdin):
    f = e.get("formatted")
    if f:
        k, v = bytes(f["key"]["mac"]), f["value"]
    else:
        k = bytes(int(x, 16) for x in e["key"])[:6]
        v = int.from_bytes(bytes(int(x, 16) for x in e["value"][:4]), "little")
    if k == mac:
        print(v)' "${VM_MAC[1]}"
		return
	done
}
ncpu_procs=$(ctl processor show --json | jq '.processors | length')
if ((ncpu_procs < 2)); then
	skip "$name" "dvmq has $ncpu_procs processor here (need 2)"
	e2e_finish
	exit
fi

# ---- max-queues 2: the filter names a group, frames are hashed ----
out=$(ctl vm set "$vm1" --max-queues 2 2>&1) || bad "$name: vm set --max-queues 2" "$out"
v=
for ((n = 0; n < 30; n++)); do
	v=$(filter_value)
	[[ -n $v ]] && ((v >= 0x80000000)) && break
	sleep 0.1
done
if [[ -n $v ]] && ((v >= 0x80000000)); then
	ok "$name: vm1's filter names a queue group (value $(printf 0x%08x "$v"))"
else
	bad "$name: vm1's filter names a queue group" "the filter map's value is '${v:-none}'"
fi
h0=$(counter xdp_redirected_total kind hashed)
e2e_ping "$NS_E" -c 5 -i 0.05 -W 1 "${VM_IP4[1]}" || true
sleep "$(awk -v i=$INTERVAL_MS 'BEGIN { print 2 * i / 1000 }')" # the counters are the last interval's
h1=$(counter xdp_redirected_total kind hashed)
if ((h1 >= h0 + 5)); then ok "$name: vm1's frames are hashed"; else bad "$name: vm1's frames are hashed" "hashed $h0 -> $h1"; fi

# ---- load: the group grows to two processors, and both process vm1's frames ----
e2e_spawn "$NS_E" iperf3 -c "${VM_IP4[1]}" -p 5201 -P 8 -t 12 >/dev/null 2>&1
ip1=$SPAWNED
grp=
for ((n = 0; n < 80; n++)); do
	grp=$(ctl vm show --json | jq -c --arg n "$vm1" '.vms[] | select(.name == $n) | .group |
		select(. != null and (.queues | length) == 2 and (.queues | map(.processor) | unique | length) == 2)')
	[[ -n $grp ]] && break
	sleep 0.1
done
if [[ -z $grp ]]; then
	bad "$name: under load vm1's group grows to two processors" \
		"$(ctl vm show "$vm1" 2>&1 | head -c 600)"
else
	ok "$name: under load vm1's group grows to two processors ($(jq -c '[.queues[] | "queue \(.queue) on \(.processor)"]' <<<"$grp"))"
	sleep "$(awk -v i=$INTERVAL_MS 'BEGIN { print 2 * i / 1000 }')" # ordered bucket moves may still drain
	declare -A before
	qs=$(jq -r '.queues[] | "\(.queue):\(.processor)"' <<<"$grp")
	for qp in $qs; do before[$qp]=$(processed "${qp%%:*}" "$(cpu_of_proc "${qp##*:}")"); done
	sleep 1
	msg= good=1
	for qp in $qs; do
		d=$(($(processed "${qp%%:*}" "$(cpu_of_proc "${qp##*:}")") - before[$qp]))
		msg+="queue ${qp%%:*} +$d on cpu$(cpu_of_proc "${qp##*:}"); "
		((d > 100)) || good=0
	done
	what="$name: each queue of the group processes vm1's frames on its own processor"
	if ((good)); then ok "$what ($msg)"; else bad "$what" "$msg (want > 100 each)"; fi
	nb=$(jq '[.table[]] | unique | length' <<<"$grp")
	if ((nb == 2)); then ok "$name: the table spreads the buckets over both queues"; else bad "$name: the table spreads the buckets over both queues" "$(jq -c .table <<<"$grp")"; fi
fi
e2e_stop "$ip1"

# ---- max-queues 1: one queue again ----
out=$(ctl vm set "$vm1" --max-queues 1 2>&1) || bad "$name: vm set --max-queues 1" "$out"
for ((n = 0; n < 30; n++)); do
	v=$(filter_value)
	[[ -n $v ]] && ((v < 0x80000000)) && break
	sleep 0.1
done
if [[ -n $v ]] && ((v < 0x80000000)); then
	ok "$name: with max-queues 1 vm1's filter names one queue again (queue $v)"
else
	bad "$name: with max-queues 1 vm1's filter names one queue again" "the filter map's value is '${v:-none}'"
fi
if e2e_ping "$NS_E" -c 3 -i 0.1 -W 1 "${VM_IP4[1]}"; then ok "$name: vm1 answers"; else bad "$name: vm1 answers" "no reply"; fi
e2e_finish
