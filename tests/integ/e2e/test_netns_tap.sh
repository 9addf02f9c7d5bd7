#!/bin/bash
# test_netns_tap.sh — a container's NIC is a persistent TAP that lives in the container's own
# namespace (`ip tuntap add` there): dvmq opens it there (`netns = NAME`) rather than creating a
# TAP of its own in the host namespace, so a restart of dvmq cuts nothing off: the TAP stays in the
# container, and the next dvmq opens it again. Then the container's namespace goes (the VM is
# detached, its port lost) and comes back with a new TAP (attached again, no event of ours needed).
# Private namespaces and devices named dvt<tag>*. Root; skips with the reason otherwise.
set -Eeuo pipefail
source "$(dirname "$0")/lib.sh"
name=e2e-netns-tap
if [[ $E2E_MODE != dvmq ]]; then
	skip "$name" "E2E_MODE=$E2E_MODE: dvmq's own TAP handling only"
	finish
	exit
fi
if ! why=$(e2e_need ping); then
	skip "$name" "$why"
	finish
	exit
fi
e2e_init "$name"
NC=dvt${T}c
TAPN=dvt${T}tc
e2e_netns "$NS_H"
e2e_netns "$NS_E"
for ns in "$NS_H" "$NS_E"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$NS_H" link add "$UP_H" type veth peer name "$UP_E" netns "$NS_E"
ip -n "$NS_E" addr add 10.79.0.254/24 dev "$UP_E"
ip -n "$NS_E" link set "$UP_E" up
ip -n "$NS_H" link set "$UP_H" up
# the container: its own namespace and its NIC, a persistent TAP made there. dvmq is told of its
# namespace by a path of the container's own (as a runtime keeps one), not /run/netns: its
# inotify there hears the namespace come and go, and only its watcher inside the namespace hears
# the TAP (nothing else touches that directory meanwhile)
# (a shared mount, as iproute2 makes /run/netns: dvmq runs in a mount namespace of its own, which
# sees a namespace mounted there after it started only through propagation)
NSP=$E2E_TMP/ns/c
mkdir -p "$E2E_TMP/ns"
mount --bind "$E2E_TMP/ns" "$E2E_TMP/ns"
mount --make-shared "$E2E_TMP/ns"
netns_teardown() {
	local rc=$?
	trap - ERR
	set +e
	umount "$NSP" 2>/dev/null
	umount "$E2E_TMP/ns" 2>/dev/null
	(exit "$rc")
	e2e_teardown
}
trap netns_teardown EXIT
container() {
	e2e_netns "$NC"
	touch "$NSP"
	mount --bind "/run/netns/$NC" "$NSP"
	ip netns exec "$NC" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$NC" tuntap add dev "$TAPN" mode tap
	ip -n "$NC" link set "$TAPN" address 02:79:00:00:00:0c
	ip -n "$NC" addr add 10.79.0.3/24 dev "$TAPN"
	ip -n "$NC" link set "$TAPN" up
}
container
cat >"$E2E_TMP/t.conf" <<EOF
[host]
cpus = all
interval = 100ms
[uplink]
port = afpacket
device = $UP_H
[vm c]
mac = 02:79:00:00:00:0c
port = tap
device = $TAPN
netns = $NSP
[control]
socket = $E2E_TMP/t.sock
metrics = off
EOF
start() {
	rm -f "$E2E_TMP/t.sock"
	e2e_spawn "$NS_H" "$DVMQ" run --config "$E2E_TMP/t.conf" 2>>"$E2E_TMP/dvmq.err"
	DVMQ_PID=$SPAWNED
	for ((n = 0; n < 100; n++)); do
		[[ -S $E2E_TMP/t.sock ]] && return 0
		kill -0 "$DVMQ_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
answers() { # answers: the container answers a ping from the external host within 5 s
	local n
	for ((n = 0; n < 10; n++)); do
		ip netns exec "$NS_E" ping -n -q -c 1 -W 1 10.79.0.3 >/dev/null 2>&1 && return 0
	done
	return 1
}
start || e2e_die "dvmq did not start: $(tail -c 500 "$E2E_TMP/dvmq.err")"
if answers && ! ip -n "$NS_H" link show "$TAPN" >/dev/null 2>&1; then
	ok "$name: the container answers through its own TAP (none made in the host namespace)"
else
	bad "$name: the container answers through its own TAP" "$(tail -c 300 "$E2E_TMP/dvmq.err")"
fi
kill -TERM "$DVMQ_PID"
wait "$DVMQ_PID" 2>/dev/null || true
if ip -n "$NC" link show "$TAPN" >/dev/null 2>&1; then
	ok "$name: the TAP stays in the container when dvmq stops"
else
	bad "$name: the TAP stays in the container when dvmq stops" "gone"
fi
start || e2e_die "dvmq did not start again: $(tail -c 500 "$E2E_TMP/dvmq.err")"
answers && ok "$name: after a restart the container is not cut off" ||
	bad "$name: after a restart the container is not cut off" "no reply"
# the container goes (its namespace and TAP with it), and comes back
umount "$NSP"
rm "$NSP"
ip netns del "$NC"
for ((n = 0; n < 100; n++)); do
	grep -q "vm c: tap $TAPN lost its port: detached" "$E2E_TMP/dvmq.err" && break
	sleep 0.1
done
grep -q "vm c: tap $TAPN lost its port: detached" "$E2E_TMP/dvmq.err" && ok "$name: the container gone, c detached" ||
	bad "$name: the container gone, c detached" "$(tail -c 300 "$E2E_TMP/dvmq.err")"
container
if answers && "$DVMQCTL" --socket "$E2E_TMP/t.sock" --json vm show c | jq -e '.vms[0].device == "present"' >/dev/null; then
	ok "$name: the container back, c attached again"
else
	bad "$name: the container back, c attached again" "$(tail -c 300 "$E2E_TMP/dvmq.err")"
fi
# the container stays, its TAP goes and comes back (heard in its namespace, not polled)
ip -n "$NC" link del "$TAPN"
for ((n = 0; n < 50; n++)); do
	[[ $(grep -c "vm c: tap $TAPN .*: detached" "$E2E_TMP/dvmq.err") -ge 2 ]] && break
	sleep 0.1
done
mk_tap() {
	ip -n "$NC" tuntap add dev "$TAPN" mode tap
	ip -n "$NC" link set "$TAPN" address 02:79:00:00:00:0c
	ip -n "$NC" addr add 10.79.0.3/24 dev "$TAPN"
	ip -n "$NC" link set "$TAPN" up
}
mk_tap
if answers && [[ $(grep -c "vm c: tap $TAPN .*: detached" "$E2E_TMP/dvmq.err") -ge 2 ]]; then
	ok "$name: its TAP deleted and made again in the container: detached, then attached"
else
	bad "$name: its TAP deleted and made again in the container: detached, then attached" \
		"$(tail -c 400 "$E2E_TMP/dvmq.err")"
fi
kill -TERM "$DVMQ_PID"
wait "$DVMQ_PID" 2>/dev/null || true
# dvmq started while the container has no TAP yet: configured, detached until it is made
ip -n "$NC" link del "$TAPN"
start || e2e_die "dvmq did not start without the TAP: $(tail -c 500 "$E2E_TMP/dvmq.err")"
mk_tap
if answers && grep -q "vm c: device $TAPN in network namespace $NSP absent" "$E2E_TMP/dvmq.err"; then
	ok "$name: a container's TAP made after dvmq started is opened when it appears"
else
	bad "$name: a container's TAP made after dvmq started is opened when it appears" "$(tail -c 400 "$E2E_TMP/dvmq.err")"
fi
kill -TERM "$DVMQ_PID"
wait "$DVMQ_PID" 2>/dev/null || true
ip -n "$NC" link show "$TAPN" >/dev/null 2>&1 && ok "$name: still the container's TAP after dvmq stops" ||
	bad "$name: still the container's TAP after dvmq stops" "gone"
e2e_finish
