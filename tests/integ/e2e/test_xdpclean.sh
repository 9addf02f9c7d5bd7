#!/bin/bash
# test_xdpclean.sh — the daemon with an afxdp uplink leaves nothing on the device: for native and
# generic XDP, after SIGTERM, after kill -9, after a start that fails once the program is on (a
# control socket in a directory that does not exist: the socket opens after the ports), and the
# issue's own case (a veth uplink in generic mode beside a VM whose device is absent). In a private
# namespace on a veth of its own (dvt<tag>u1/u0). Root; skips with the reason otherwise.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"
name=e2e-xdpclean
if [[ $E2E_MODE != dvmq ]]; then
	skip "$name" "E2E_MODE=$E2E_MODE: dvmq's own XDP attach only"
	finish
	exit
fi
if ! why=$(e2e_need); then
	skip "$name" "$why"
	finish
	exit
fi
e2e_init "$name"
e2e_netns "$NS_H"
ip -n "$NS_H" link add "$UP_H" type veth peer name "$UP_E"
ip -n "$NS_H" link set "$UP_H" up
ip -n "$NS_H" link set "$UP_E" up

xdp_on() { ip -n "$NS_H" -d link show "$UP_H" | grep -c 'prog/xdp' || true; }

# conf MODE SOCKET [EXTRA VM DEVICE]: an afxdp uplink in MODE, one sink VM, and an afpacket VM
# on DEVICE when given
conf() {
	cat >"$E2E_TMP/x.conf" <<-EOF
		[host]
		cpus = all
		interval = 100ms
		[uplink]
		port = afxdp
		device = $UP_H
		fallback = none
		xdp_mode = $1
		[vm dvtsink]
		mac = 02:77:00:00:01:01
		port = sink
		[control]
		socket = $2
		metrics = off
	EOF
	if [[ -n ${3:-} ]]; then
		printf '[vm dvtlate]\nmac = 02:77:00:00:01:02\nport = afpacket\ndevice = %s\n' "$3" >>"$E2E_TMP/x.conf"
	fi
}

# clean WHAT: no XDP program on the uplink within 2 s
clean() {
	local n
	for ((n = 0; n < 20; n++)); do
		(($(xdp_on) == 0)) && { ok "$name: $1"; return; }
		sleep 0.1
	done
	bad "$name: $1" "$(ip -n "$NS_H" -d link show "$UP_H" | grep -o 'prog/xdp.*' | head -c 200 || true)"
}

# started: the program is on and the socket answers, within 10 s
started() {
	local n
	for ((n = 0; n < 100; n++)); do
		[[ -S $E2E_TMP/d.sock ]] && (($(xdp_on) > 0)) && return 0
		kill -0 "$SPAWNED" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

for mode in native generic; do
	for sig in TERM KILL; do
		rm -f "$E2E_TMP/d.sock"
		conf "$mode" "$E2E_TMP/d.sock"
		e2e_spawn "$NS_H" "$DVMQ" run --config "$E2E_TMP/x.conf" 2>"$E2E_TMP/d.err"
		if ! started && grep -q 'built without AF_XDP' "$E2E_TMP/d.err"; then
			skip "$name" "dvmq built without AF_XDP (meson -Dxdp)"
			e2e_finish
			exit
		elif ! kill -0 "$SPAWNED" 2>/dev/null; then
			bad "$name: $mode, SIGTERM/kill -9" "dvmq did not start: $(tail -c 400 "$E2E_TMP/d.err")"
			continue
		fi
		grep -q "BPF link, $mode XDP" "$E2E_TMP/d.err" || bad "$name: $mode line" "$(grep afxdp "$E2E_TMP/d.err")"
		kill -"$sig" "$SPAWNED"
		wait "$SPAWNED" 2>/dev/null || true
		clean "$mode XDP: the device is clean after SIG$sig"
	done
	# a start that fails after the attach: the control socket comes after the ports
	conf "$mode" "$E2E_TMP/nonexistent/d.sock"
	rc=0
	ip netns exec "$NS_H" "$DVMQ" run --config "$E2E_TMP/x.conf" 2>"$E2E_TMP/d.err" || rc=$?
	if ((rc == 0)) || ! grep -q "BPF link, $mode XDP" "$E2E_TMP/d.err"; then
		bad "$name: $mode failed start" "exit $rc, want a failure after the attach: $(tail -c 400 "$E2E_TMP/d.err")"
	else
		clean "$mode XDP: the device is clean after a start that failed after the attach (exit $rc)"
	fi
done

# the issue's report: generic mode and a VM whose device does not exist
rm -f "$E2E_TMP/d.sock"
conf generic "$E2E_TMP/d.sock" "dvt${T}gone"
e2e_spawn "$NS_H" "$DVMQ" run --config "$E2E_TMP/x.conf" 2>"$E2E_TMP/d.err"
for ((n = 0; n < 100; n++)); do
	[[ -S $E2E_TMP/d.sock ]] && break
	kill -0 "$SPAWNED" 2>/dev/null || break
	sleep 0.1
done
if grep -q 'another XDP program' "$E2E_TMP/d.err"; then
	bad "$name: generic, absent VM device" "dvmq found its own program in the way: $(grep afxdp "$E2E_TMP/d.err")"
fi
kill -TERM "$SPAWNED" 2>/dev/null || true
wait "$SPAWNED" 2>/dev/null || true
clean "generic XDP, a VM whose device is absent: the device is clean after dvmq is gone"
e2e_finish
