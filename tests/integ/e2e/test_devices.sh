#!/bin/bash
# test_devices.sh — VMs whose device comes and goes, under traffic. dvmq starts with VM b's device
# absent (as a libvirt VM that is not running: its vnetN does not exist), which must not stop it:
# b is configured and detached. Then b's device is created, deleted and created again three times
# while the external host pings VM a all along. Each appearance attaches b (from rtnetlink, with
# its log line) and b answers; each deletion detaches it (its line); a never notices (no ping
# lost); vm show counts 3 appearances and 3 departures; at the stop nothing is lost uncounted.
# Private namespaces and veths named dvt<tag>*. Root; skips with the reason otherwise.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"
name=e2e-devices
if [[ $E2E_MODE != dvmq ]]; then
	skip "$name" "E2E_MODE=$E2E_MODE: dvmq's own device handling only"
	finish
	exit
fi
if ! why=$(e2e_need ping); then
	skip "$name" "$why"
	finish
	exit
fi
e2e_init "$name"
NA=dvt${T}a NB=dvt${T}b
e2e_netns "$NS_H"
e2e_netns "$NS_E"
e2e_netns "$NA"
e2e_netns "$NB"
for ns in "$NS_H" "$NS_E" "$NA" "$NB"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
HA=dvt${T}ha HB=dvt${T}hb
ip -n "$NS_H" link add "$UP_H" type veth peer name "$UP_E" netns "$NS_E"
ip -n "$NS_E" addr add 10.78.0.254/24 dev "$UP_E"
ip -n "$NS_E" link set "$UP_E" up
ip -n "$NS_H" link set "$UP_H" up
ip -n "$NS_H" link add "$HA" type veth peer name va netns "$NA"
ip -n "$NA" link set va address 02:78:00:00:00:0a
ip -n "$NA" addr add 10.78.0.1/24 dev va
ip -n "$NA" link set va up
ip -n "$NS_H" link set "$HA" up
cat >"$E2E_TMP/d.conf" <<EOF
[host]
cpus = all
interval = 100ms
[uplink]
port = afpacket
device = $UP_H
[vm a]
mac = 02:78:00:00:00:0a
port = afpacket
device = $HA
[vm b]
mac = 02:78:00:00:00:0b
port = afpacket
device = $HB
[control]
socket = $E2E_TMP/d.sock
metrics = off
EOF
ctl() { "$DVMQCTL" --socket "$E2E_TMP/d.sock" "$@"; }
e2e_spawn "$NS_H" "$DVMQ" run --config "$E2E_TMP/d.conf" 2>"$E2E_TMP/dvmq.err"
DVMQ_PID=$SPAWNED
for ((n = 0; n < 100; n++)); do
	[[ -S $E2E_TMP/d.sock ]] && break
	kill -0 "$DVMQ_PID" 2>/dev/null || break
	sleep 0.1
done
if [[ -S $E2E_TMP/d.sock ]] && grep -q "vm b: device $HB absent: configured, detached until it appears" "$E2E_TMP/dvmq.err" &&
	ctl --json vm show b | jq -e '.vms[0].device == "absent"' >/dev/null; then
	ok "$name: starts with b's device absent, b detached"
else
	e2e_die "dvmq did not start with b's device absent: $(tail -c 600 "$E2E_TMP/dvmq.err")"
fi

# the kernel's per-CPU backlog drops (/proc/net/softnet_stat, 2nd column): shared by every
# namespace, so other programs' traffic on a loaded machine can drop a veth's frame before dvmq
# ever sees it
softnet_drops() {
	local _ d s=0
	while read -r _ d _; do s=$((s + 16#$d)); done </proc/net/softnet_stat
	echo "$s"
}
softnet0=$(softnet_drops)
# a all along: 50 pings a second for 8 s while b comes and goes
e2e_spawn "$NS_E" ping -n -q -i 0.02 -c 400 -W 2 10.78.0.1 >"$E2E_TMP/ping-a" 2>&1
ping_a=$SPAWNED

# wait_line PATTERN COUNT: the daemon's log has COUNT lines matching, within 10 s
wait_line() {
	local n
	for ((n = 0; n < 100; n++)); do
		(($(grep -c -- "$1" "$E2E_TMP/dvmq.err" || true) >= $2)) && return 0
		sleep 0.1
	done
	return 1
}
for round in 1 2 3; do
	ip -n "$NS_H" link add "$HB" type veth peer name vb netns "$NB"
	ip -n "$NB" link set vb address 02:78:00:00:00:0b
	ip -n "$NB" addr add 10.78.0.2/24 dev vb
	ip -n "$NB" link set vb up
	ip -n "$NS_H" link set "$HB" up
	if ! wait_line "vm b: afpacket $HB appeared: attached" "$round"; then
		bad "$name: round $round: b attached when its device appeared" "$(tail -c 400 "$E2E_TMP/dvmq.err")"
		break
	fi
	answered=0
	for ((n = 0; n < 10 && !answered; n++)); do
		ip netns exec "$NS_E" ping -n -q -c 1 -W 1 10.78.0.2 >/dev/null 2>&1 && answered=1
	done
	((answered)) && ok "$name: round $round: b attached and answering" ||
		bad "$name: round $round: b answers" "no reply from 10.78.0.2"
	sleep 0.5 # traffic to a meanwhile
	ip -n "$NS_H" link del "$HB"
	if ! wait_line "vm b: afpacket $HB is gone: detached" "$round"; then
		bad "$name: round $round: b detached when its device went" "$(tail -c 400 "$E2E_TMP/dvmq.err")"
		break
	fi
	sleep 0.5
done
if ctl --json vm show b | jq -e '.vms[0] | .device == "absent" and .device_appeared == 3 and .device_gone == 3' >/dev/null; then
	ok "$name: vm show counts 3 appearances and 3 departures"
else
	bad "$name: device counts" "$(ctl --json vm show b 2>&1 | head -c 400)"
fi
wait "$ping_a" 2>/dev/null || true # its 400 pings end by themselves
sent=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1/p' "$E2E_TMP/ping-a")
got=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\2/p' "$E2E_TMP/ping-a")
softnet=$(($(softnet_drops) - softnet0))
if [[ $sent == 400 && $got == "$sent" ]]; then
	ok "$name: a never noticed ($got of $sent pings answered)"
elif [[ $sent == 400 && -n $got ]] && ((sent - got <= softnet)); then
	# as many lost as the kernel's backlog dropped meanwhile (every namespace's): not dvmq's; the
	# stats and the closing line below still hold dvmq to every frame it saw
	ok "$name: a never noticed ($got of $sent pings answered; the $((sent - got)) others within the kernel's $softnet backlog drops meanwhile, before dvmq)"
else
	# what dvmq counted for a and the uplink, to tell a drop dvmq saw from one outside it
	bad "$name: a never noticed" "$(tail -3 "$E2E_TMP/ping-a"); kernel backlog drops meanwhile: $softnet; uplink: $(ctl --json stats 2>&1 | jq -c '.dataplane.uplink' | head -c 900); a: $(ctl --json vm show a 2>&1 | jq -c '.vms[0]' | head -c 600)"
fi
if ctl --json stats | jq -e '.dataplane.uplink.balanced and .dataplane.vms.balanced' >/dev/null; then
	ok "$name: every frame has a fate (stats balanced)"
else
	bad "$name: stats balanced" "$(ctl --json stats | jq -c '.dataplane.uplink')"
fi
kill -TERM "$DVMQ_PID"
wait "$DVMQ_PID" 2>/dev/null || true
if grep -q 'stopped after .* lost 0, .*VM frames [0-9]* (forwarded [0-9]*, dropped [0-9]*, detached [0-9]*, lost 0)' \
	"$E2E_TMP/dvmq.err"; then
	ok "$name: nothing lost uncounted at the stop"
else
	bad "$name: nothing lost uncounted" "$(grep 'stopped after' "$E2E_TMP/dvmq.err" || tail -c 400 "$E2E_TMP/dvmq.err")"
fi
e2e_finish
