#!/bin/bash
# test_daemon.sh [BUILD_DIR] — `dvmq run` in kernel mode, what tests/integ/e2e/test_kernel*.sh
# (the daemon with traffic, SIGHUP's filters, the lifecycle) leave to it (root; skipped with the
# reason otherwise): in a private network namespace on a veth pair dvt<T>u/dvt<T>p, the filters
# map holds the configured VMs (bpftool reads the map the daemon holds); dvmqctl vm add takes
# kernel:DEVICE and refuses a port kind; stats --json carries the XDP counters by name; a full
# ring's per-processor drops reach queue show's per-queue drops; frames
# redirected but never processed nor counted dropped are reported lost once the counts stand still
# (at rest while running: cpumap_lost_total) and at the stop, which does not
# wait its whole drain timeout for them; a move under way does not hold dvmqctl (the command returns
# before a move that cannot drain is forced).
set -u
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../cli/harness.sh"
B=$(cd "${1:-$here/../../../build}" && pwd)
DVMQ=$B/src/cli/dvmq
CTL=$B/src/cli/dvmqctl
T=${KDP_TAG:-$(printf '%04x' $(($$ % 65536)))} # 4 hex: two collided between concurrent runs
NS=dvt${T}D
TMP=
DP=
MADE= # set once this run created $NS: the only namespace its cleanup deletes

need() {
	[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces, veth, BPF)"; return 1; }
	for t in ip bpftool jq python3; do command -v $t >/dev/null || { echo "$t is not installed (make test installs PKGS_TEST)"; return 1; }; done
	[[ -x $DVMQ && -x $CTL ]] || { echo "dvmq is not built"; return 1; }
	"$DVMQ" run --config "$here/../../../examples/kernel.conf" --check --json 2>/dev/null | jq -e '.kernel.built != false' \
		>/dev/null || { echo "dvmq was built without kernel mode (-Dxdp)"; return 1; }
	return 0
}

cleanup() {
	[[ -n $DP ]] && kill -KILL "$DP" 2>/dev/null && wait "$DP" 2>/dev/null
	[[ -n $MADE ]] && ip netns del $NS 2>/dev/null
	[[ -n $TMP ]] && rm -rf "$TMP"
	return 0
}

if ! why=$(need); then
	skip kdp-daemon "$why"
	finish
	exit $?
fi
trap cleanup EXIT
TMP=$(mktemp -d /tmp/dvmq-kdpd.XXXXXX)
if ! ip netns add $NS; then
	bad kdp-daemon-setup "namespace $NS exists (another run's?): not touched"
	finish
	exit 1
fi
MADE=1
ip -n $NS link set lo up
ip -n $NS link add dvt${T}u type veth peer name dvt${T}p
ip -n $NS link set dvt${T}u up
ip -n $NS link set dvt${T}p up

conf() { # conf VM_SECTIONS [UPLINK_LINES]: the config file
	cat > "$TMP/k.conf" <<EOF
[host]
cpus = 0
interval = 100ms
[uplink]
mode = kernel
device = dvt${T}u
${2:-}
[control]
socket = $TMP/s.sock
metrics = off
$1
EOF
}
A='[vm a]
mac = 02:44:00:00:00:0a
vlan = 5'
Bv='[vm b]
mac = 02:44:00:00:00:0b'

start() { # start: the daemon in the namespace; waits for its "running" line
	: > "$TMP/d.err"
	ip netns exec $NS "$DVMQ" run --config "$TMP/k.conf" > "$TMP/d.out" 2>> "$TMP/d.err" &
	DP=$!
	for ((i = 0; i < 200; i++)); do grep -q "running" "$TMP/d.err" && return 0; kill -0 $DP 2>/dev/null || break; sleep 0.05; done
	return 1
}

# the (MAC, VLAN) keys of the filters map the daemon holds, sorted: "02:44:00:00:00:0a/5 ..."
filters() {
	local id fd
	for fd in /proc/$DP/fdinfo/*; do
		id=$(sed -n 's/^map_id:\t*//p' "$fd" 2>/dev/null)
		[[ -n $id ]] || continue
		if bpftool -j map show id "$id" 2>/dev/null | jq -e '.name == "dvmq_kern_filte"' >/dev/null; then
			bpftool -j map dump id "$id" | jq -r '.[] | (.key // .formatted.key) as $k |
				if ($k|type) == "object" then "\($k.mac | map(tonumber | . + 256 | tostring | .[1:]) | join(":"))/\($k.vlan)"
				else ($k[0:6] | map(ltrimstr("0x")) | join(":")) + "/" + ((($k[7]|ltrimstr("0x")) + ($k[6]|ltrimstr("0x"))) | tostring) end' | sort | tr '\n' ' '
			return
		fi
	done
}

conf "$A
$Bv"
# --check attaches nothing, so the driver's XDP features are what it advertises, not proven
out=$(ip netns exec $NS "$DVMQ" run --config "$TMP/k.conf" --check 2>&1)
[[ $out == *"device dvt${T}u: the driver advertises native XDP yes, redirect yes"* ]] && ok kdp-daemon-check-says-advertised ||
	bad kdp-daemon-check-says-advertised "$(echo "$out" | grep -m1 "device dvt")"
if ! start; then
	bad kdp-daemon-start "$(tail -n 3 "$TMP/d.err")"
	finish
	exit $?
fi
got=$(filters)
[[ $got == *"02:44:00:00:00:0a"* && $got == *"02:44:00:00:00:0b"* ]] && ok "kdp-daemon-filters ($got)" ||
	bad kdp-daemon-filters "the map holds '$got'"

# dvmqctl: a VM with its kernel port's name; a port kind is refused
out=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" vm add d --mac 02:44:00:00:00:0d --port kernel:vnet4 2>&1)
[[ $(filters) == *"02:44:00:00:00:0d"* ]] && ok kdp-daemon-vm-add || bad kdp-daemon-vm-add "$out; map: $(filters)"
# ... a device that does not exist here is only a name for the views: accepted, with a warning;
# one that exists, without
out2=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" vm add f --mac 02:44:00:00:00:0f --port kernel:dvt${T}p 2>&1)
sleep 0.1
if grep -q "vm d: its kernel port vnet4 does not exist here" "$TMP/d.err" && ! grep -q "vm f: its kernel port" "$TMP/d.err"; then
	ok kdp-daemon-vm-add-missing-device-warned
else
	bad kdp-daemon-vm-add-missing-device-warned "$out2; log: $(grep 'kernel port' "$TMP/d.err" | head -n 2)"
fi
ip netns exec $NS "$CTL" --socket "$TMP/s.sock" vm remove f >/dev/null 2>&1
# adapter set's log line says "numa any" (was "numa -1")
out=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" adapter set --numa-node any 2>&1)
sleep 0.1
grep -q "adapter set (dvmqctl): .*, numa any$" "$TMP/d.err" && ok kdp-daemon-adapter-set-numa-any ||
	bad kdp-daemon-adapter-set-numa-any "$out; log: $(grep 'adapter set' "$TMP/d.err" | tail -n 1)"
out=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" vm add e --mac 02:44:00:00:00:0e --port tap:t0 2>&1)
rc=$?
((rc == 2)) && [[ $out == *"in kernel mode a VM has no port"* ]] && ok kdp-daemon-vm-add-port-refused ||
	bad kdp-daemon-vm-add-port-refused "exit $rc: $out"
js=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" stats --json 2>&1)
if echo "$js" | jq -e '.dataplane_kind == "kernel" and
	(.dataplane_counters | map(select(.name == "kernel_filters"))[0].value == 3) and
	(.dataplane_counters | map(select(.name == "xdp_frames_total" and .labels.fate == "redirected")) | length == 1)' \
	>/dev/null 2>&1; then
	ok kdp-daemon-stats
else
	bad kdp-daemon-stats "stats --json lacks kernel_filters = 3 or the XDP fates: $(echo "$js" | jq -c .dataplane_counters 2>&1 | head -c 300)"
fi

# The kernel's counters played with bpftool on the maps the daemon holds (below: ring drops, then
# frames redirected that the cpumap never processed nor counted dropped, as the kernel's enqueue
# tracepoint misses some in drop bursts)
map_named() { # map_named NAME: the id of the daemon's map called NAME (15 characters at most)
	local id fd
	for fd in /proc/$DP/fdinfo/*; do
		id=$(sed -n 's/^map_id:\t*//p' "$fd" 2>/dev/null)
		[[ -n $id ]] && bpftool -j map show id "$id" 2>/dev/null | jq -e --arg n "$1" '.name == $n' >/dev/null &&
			{ echo "$id"; return; }
	done
}
sid=$(map_named dvmq_kern_stats)

# a full ring's drops are counted per processor (the enqueue tracepoint; cpudrops map), not per
# queue: the daemon gives them to the processor's queues (kernel_drops.h), so that queue show's
# drops add up to the cpumap's and its backlog does not keep them. Played with bpftool: 7 frames
# per CPU redirected and dropped by processor 0's ring (cpus = 0: every queue is there)
key_of() { # key_of NAME: the index of DVMQ_KERN_NAME in bpf/dvmq_kern.h's enum dvmq_kern_stat
	awk -v n="DVMQ_KERN_$1," '/^enum dvmq_kern_stat/ { on = 1; next } on && /^};/ { exit }
		on && $1 ~ /^DVMQ_KERN_/ { if ($1 == n) { print i; exit } i++ }' "$here/../../../bpf/dvmq_kern.h"
}
cid=$(map_named dvmq_kern_cpudr) kd=$(key_of CPUMAP_DROPS)
ncpu=$(nproc --all)
if [[ -z $sid || -z $cid || -z $kd ]]; then
	bad kdp-daemon-queue-drops "no dvmq_kern_stats / dvmq_kern_cpudrops map among the daemon's descriptors, or no CPUMAP_DROPS key ($sid/$cid/$kd)"
else
	bpftool map update id "$sid" key 0 0 0 0 value 7 0 0 0 0 0 0 0 2>"$TMP/bpftool.err" &&
		bpftool map update id "$sid" key $kd 0 0 0 value 7 0 0 0 0 0 0 0 2>>"$TMP/bpftool.err" &&
		bpftool map update id "$cid" key 0 0 0 0 value 7 0 0 0 0 0 0 0 2>>"$TMP/bpftool.err"
	want=$((7 * ncpu))
	for ((i = 0; i < 40; i++)); do
		qs=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" queue show --json 2>&1)
		[[ $(echo "$qs" | jq '[.queues[] | .drops_total] | add' 2>/dev/null) == "$want" ]] && break
		sleep 0.1
	done
	if echo "$qs" | jq -e --argjson w $want '([.queues[] | .drops_total] | add) == $w and ([.queues[] | .backlog] | add) == 0' >/dev/null 2>&1; then
		ok "kdp-daemon-queue-drops ($want drops in queue show, backlog 0)"
	else
		bad kdp-daemon-queue-drops "want $want drops over the queues, backlog 0: $(echo "$qs" | jq -c '[.queues[] | {queue, drops_total, backlog}]' 2>&1 | head -c 300) $(cat "$TMP/bpftool.err")"
	fi
fi

# ... and now 7 more per CPU redirected, never processed nor dropped: the lost ones. Once the
# counts stand still (250 ms) the running daemon says so: cpumap_lost_total, a warning line
if [[ -n $sid ]] && bpftool map update id "$sid" key 0 0 0 0 value 14 0 0 0 0 0 0 0 2>>"$TMP/bpftool.err"; then
	# "lost redirected processed dropped" (the veth's own traffic counts too: a frame of it in
	# flight at the read is not lost)
	lost_now() { ip netns exec $NS "$CTL" --socket "$TMP/s.sock" stats --json 2>/dev/null | jq -r '.dataplane_counters |
		[(map(select(.name == "cpumap_lost_total"))[0].value), (map(select(.name == "xdp_frames_total" and
		.labels.fate == "redirected"))[0].value), (map(select(.name == "cpumap_processed_total"))[0].value),
		(map(select(.name == "cpumap_drops_total"))[0].value)] | map(tostring) | join(" ")' 2>/dev/null; }
	for ((i = 0; i < 40; i++)); do read -r l rd pr dr <<<"$(lost_now)"; [[ ${l:-0} != 0 && $l != null ]] && break; sleep 0.1; done
	if [[ $l =~ ^[0-9]+$ && $rd =~ ^[0-9]+$ ]] && ((l > 0 && l <= rd - pr - dr)) && grep -q "lost uncounted" "$TMP/d.err"; then
		ok "kdp-daemon-reports-uncounted-loss-at-rest ($l lost = $rd redirected - $pr processed - $dr dropped)"
	else
		bad kdp-daemon-reports-uncounted-loss-at-rest "cpumap_lost_total '$l' ($rd redirected, $pr processed, $dr dropped): $(grep -c 'lost uncounted' "$TMP/d.err") warning lines"
	fi
fi
# the stop does not wait its whole drain timeout for the lost frames as if in flight: the stop line
# reports them lost
t0=$(date +%s%N)
kill -TERM $DP
wait $DP
rc=$?
DP=
ms=$((($(date +%s%N) - t0) / 1000000))
((rc == 0)) && ok kdp-daemon-sigterm || bad kdp-daemon-sigterm "exit $rc: $(tail -n 2 "$TMP/d.err")"
re='offered ([0-9]+), delivered ([0-9]+), dropped ([0-9]+), in flight 0, lost ([1-9][0-9]*);'
if [[ -z $sid ]]; then
	bad kdp-daemon-stop-reports-uncounted-loss "no dvmq_kern_stats map among the daemon's descriptors"
elif ((ms < 1500)) && [[ $(grep 'stopped after' "$TMP/d.err") =~ $re ]] &&
	((BASH_REMATCH[1] == BASH_REMATCH[2] + BASH_REMATCH[3] + BASH_REMATCH[4])) &&
	! grep -q "did not drain" "$TMP/d.err"; then
	ok "kdp-daemon-stop-reports-uncounted-loss (${ms} ms)"
else
	bad kdp-daemon-stop-reports-uncounted-loss "stopped in $ms ms: $(tail -n 3 "$TMP/d.err" | tr '\n' ' ') $(cat "$TMP/bpftool.err")"
fi

# A plan's moves do not hold the control thread: a move whose old processor has frames to finish
# (played: the queue's steering word says 5 more frames sent than processed, so the drain never
# meets) is started and the command returns; a later sample forces it past its bound
# (kdp.h: 100 ms). Waited for there, `queue set` returned only once it was forced.
steer() { # steer QUEUE: the queue's steering word's 8 bytes, as bpftool prints them
	bpftool -j map lookup id "$qid" key $1 0 0 0 2>/dev/null | jq -r '(.value // .formatted.value) | .[0:8] | join(" ")'
}
steer_cpu() { local b=($(steer $1)); echo $((${b[6]} + 256 * ${b[7]})); }
if (($(nproc) < 2)); then
	skip kdp-daemon-moves-do-not-block "needs two processors"
else
	conf "$A"
	sed -i 's/^cpus = 0$/cpus = 0,1/' "$TMP/k.conf"
	if ! start; then
		bad kdp-daemon-moves-do-not-block "did not start: $(tail -n 3 "$TMP/d.err")"
	else
		qid=$(map_named dvmq_kern_queue)
		qa=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" queue show --vm a --json | jq '.queues[0].queue')
		from=$(steer_cpu $qa) to=$((1 - $(steer_cpu $qa)))
		b=($(steer $qa))
		b[0]=$(printf '0x%02x' $(((${b[0]} + 5) % 256)))
		bpftool map update id "$qid" key $qa 0 0 0 value ${b[*]} $(bpftool -j map lookup id "$qid" key $qa 0 0 0 |
			jq -r '(.value // .formatted.value) | .[8:] | join(" ")') 2>"$TMP/bpftool.err"
		out=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" queue set $qa --processor $to 2>&1)
		at_return=$(steer_cpu $qa)
		for ((i = 0; i < 30; i++)); do [[ $(steer_cpu $qa) == "$to" ]] && break; sleep 0.1; done
		later=$(steer_cpu $qa)
		forced=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" stats --json | jq '[.dataplane_counters[] |
			select(.name == "kernel_moves_total" and .labels.kind == "forced") | .value] | add')
		if [[ $at_return == "$from" && $later == "$to" ]] && ((forced >= 1)); then
			ok "kdp-daemon-moves-do-not-block (queue $qa: cpu $from when queue set returned, then forced to cpu $to)"
		else
			bad kdp-daemon-moves-do-not-block "queue $qa from cpu $from to $to: cpu $at_return when queue set returned, cpu $later later, $forced forced ($out; $(cat "$TMP/bpftool.err"))"
		fi
		# a VMQ revoked (vmq off: every VM to the default queue) is a rebind in order
		ip netns exec $NS "$CTL" --socket "$TMP/s.sock" adapter set --vmq off >/dev/null 2>&1
		rb=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" stats --json | jq '[.dataplane_counters[] |
			select(.name == "kernel_rebinds_total") | .value] | add')
		if [[ $rb =~ ^[0-9]+$ ]] && ((rb >= 1)) && ! grep -q "in order:" "$TMP/d.err"; then
			ok "kdp-daemon-vmq-revoke-rebinds-in-order ($rb rebinds)"
		else
			bad kdp-daemon-vmq-revoke-rebinds-in-order "kernel_rebinds_total '$rb': $(grep 'in order' "$TMP/d.err" | head -n 1)"
		fi
		kill -TERM $DP
		wait $DP
		DP=
	fi
fi

# send_udp DST_MAC FLOWS PAUSE_S [CMD...]: 64 UDP frames from the veth's peer to DST_MAC (12 hex
# digits), source ports 10000 + i % FLOWS, PAUSE_S between frames; CMD prefixes python3 (taskset)
send_udp() {
	local dst=$1 flows=$2 pause=$3
	shift 3
	ip netns exec $NS "$@" python3 - dvt${T}p "$dst" "$flows" "$pause" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
flows, pause = int(sys.argv[3]), float(sys.argv[4])
for i in range(64):
    udp = struct.pack("!HHHH", 10000 + i % flows, 9000, 8 + 18, 0) + bytes(18)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, bytes([10, 1, 0, 1]), bytes([10, 1, 0, 2]))
    s.send(bytes.fromhex(sys.argv[2] + "02440000ff01" "0800") + ip + udp)
    if pause:
        time.sleep(pause)
PY
}

# VMMQ with rx_hash = nic: a VM that may hold a queue group; frames to it from the veth's peer go
# through its group's table by the NIC's (here veth's) RSS hash, through dvmq_kern_dev
conf "[vm g]
mac = 02:44:00:00:00:0c
max-queues = 2" "rx_hash = nic"
if ! start; then
	bad kdp-daemon-nic-hash "did not start: $(tail -n 3 "$TMP/d.err")"
else
	send_udp 02440000000c 64 0
	n=0 hashed=0 nic=0
	for ((n = 0; n < 30; n++)); do
		js=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" stats --json 2>/dev/null)
		hashed=$(echo "$js" | jq '[.dataplane_counters[] | select(.name == "xdp_redirected_total" and .labels.kind == "hashed") | .value] | add // 0')
		nic=$(echo "$js" | jq '[.dataplane_counters[] | select(.name == "xdp_redirected_total" and .labels.kind == "nic_hashed") | .value] | add // 0')
		((nic >= 64)) && break
		sleep 0.1
	done
	if ((hashed >= 64 && nic >= 64)) && grep -q "dvmq_kern_dev (the NIC's hash" "$TMP/d.err"; then
		ok "kdp-daemon-nic-hash ($nic of $hashed hashed frames by the NIC's hash)"
	else
		bad kdp-daemon-nic-hash "hashed $hashed, by the NIC's hash $nic (want 64 each); $(grep -o 'dvmq_kern[a-z_]*[^,]*' "$TMP/d.err" | head -n 1)"
	fi
	kill -TERM $DP
	wait $DP
	DP=
fi

# local_path: 64 frames to vm b from a sender on cpu0, the processor of every queue (cpus = 0).
# off: each frame goes through the cpumap (none counted local) and the start line says so; on (the
# default): the XDP program runs on cpu0 too, and frames that can overtake none of their queue stay.
local_frames() { # local_frames: send, then print "LOCAL REDIRECTED" from stats
	send_udp 02440000000b 1 0.002 taskset -c 0
	local js l=0 r=0 n
	for ((n = 0; n < 30; n++)); do
		js=$(ip netns exec $NS "$CTL" --socket "$TMP/s.sock" stats --json 2>/dev/null)
		l=$(echo "$js" | jq '[.dataplane_counters[] | select(.name == "xdp_frames_total" and .labels.fate == "local") | .value] | add // 0')
		r=$(echo "$js" | jq '[.dataplane_counters[] | select(.name == "xdp_frames_total" and .labels.fate == "redirected") | .value] | add // 0')
		((l + r >= 64)) && break
		sleep 0.1
	done
	echo "$l $r"
}
# the names of the programs behind the BPF links the daemon holds (fdinfo link_id -> prog_id)
daemon_link_progs() {
	local fd lid pid
	for fd in /proc/$DP/fdinfo/*; do
		lid=$(sed -n 's/^link_id:\t*//p' "$fd" 2>/dev/null)
		[[ -n $lid ]] || continue
		pid=$(bpftool -j link show id "$lid" 2>/dev/null | jq -r '.prog_id // empty')
		[[ -n $pid ]] && bpftool -j prog show id "$pid" 2>/dev/null | jq -r '.name // empty'
	done | sort | tr '\n' ' '
}
for lp in off on; do
	if [[ $lp == off ]]; then conf "$Bv" "local_path = off"; else conf "$Bv"; fi
	if ! start; then
		bad "kdp-daemon-local-path-$lp" "did not start: $(tail -n 3 "$TMP/d.err")"
		continue
	fi
	read -r l r < <(local_frames)
	progs=$(daemon_link_progs)
	# off: no hook at every softirq's end (it serves only frames that stay local)
	hook=
	if [[ $lp == off ]] && [[ " $progs" == *" dvmq_kern_bh "* ]]; then hook="dvmq_kern_bh linked ($progs); "; fi
	if [[ $lp == on ]] && [[ " $progs" == *" dvmq_kern_batch "* ]] && [[ " $progs" != *" dvmq_kern_bh "* ]]; then
		hook="no dvmq_kern_bh among the links ($progs); "
	fi
	if [[ $lp == off ]]; then
		if [[ -z $hook ]] && ((l == 0 && r >= 64)) && grep -q "every frame through the cpumap" "$TMP/d.err"; then
			ok "kdp-daemon-local-path-off (all $r through the cpumap)"
		else
			bad kdp-daemon-local-path-off "${hook}local $l, redirected $r (want 0 and 64); $(grep -o 'every frame[^,]*\|local frames[^,]*' "$TMP/d.err" | head -n 1)"
		fi
	elif [[ -z $hook ]] && ((l > 0)) && grep -q "local frames stay local" "$TMP/d.err"; then
		ok "kdp-daemon-local-path-on ($l of 64 stayed on cpu0, $r redirected)"
	else
		bad kdp-daemon-local-path-on "${hook}local $l, redirected $r (want some local); $(grep -o 'every frame[^,]*\|local frames[^,]*' "$TMP/d.err" | head -n 1)"
	fi
	kill -TERM $DP
	wait $DP
	DP=
done
finish
