#!/bin/bash
# test_kernel_life.sh — dvmq in kernel mode leaves nothing on the uplink (issue 14 section 2,
# lifecycle): after SIGINT, SIGTERM, kill -9 (then a restart that attaches again), and a start
# that fails (a control socket in a directory that does not exist: the socket opens before kernel
# mode attaches, so nothing is attached; failures after the attach are test_kdp_life.c's fault
# injection), `ip link` shows no XDP program and `bpftool net` neither
# XDP nor tc on the device; a device that holds another XDP program is refused with a line that
# names it, and the program is left as it was. In a private namespace on a veth of its own
# (dvt<tag>u1/u0). Root and dvmq with kernel mode; skips with the reason otherwise.
set -Eeuo pipefail
export E2E_MODE=kernel
source "$(dirname "$0")/lib.sh"
name=e2e-kernel-life
if ! why=$(e2e_need bpftool); then
	skip "$name" "$why"
	finish
	exit
fi
e2e_init "$name"
e2e_netns "$NS_H"
e2e_netns "$NS_E"
ip -n "$NS_H" link add "$UP_H" type veth peer name "$UP_E" netns "$NS_E"
ip -n "$NS_H" link set "$UP_H" up
ip -n "$NS_E" link set "$UP_E" up
# one VM, no kernel port named (e2e_config_kernel reads these)
# shellcheck disable=SC2034
E2E_VMS=(1)
# shellcheck disable=SC2034
VM_HOSTDEV[1]=

# attached: "XDP TC" programs on the uplink: ip link's XDP count; bpftool net's tc entries plus
# BPF links dvmq left pinned (a tcx link, which Debian 12's bpftool cannot list by device, lives
# only as long as its process or a pin)
attached() {
	local x t p
	x=$(e2e_xdp_progs "$NS_H" "$UP_H")
	t=$(ip netns exec "$NS_H" bpftool -j net show dev "$UP_H" 2>/dev/null |
		jq '[.[] | ((.tc // []) + (.tcx // []))[]] | length' 2>/dev/null || echo 0)
	p=$(find /sys/fs/bpf -maxdepth 3 -iname '*dvmq*' 2>/dev/null | wc -l)
	echo "$x $((t + p))"
}
# clean WHAT: nothing on the uplink within 2 s
clean() {
	local n a
	for ((n = 0; n < 20; n++)); do
		a=$(attached)
		[[ $a == "0 0" ]] && { ok "$name: $1"; return; }
		sleep 0.1
	done
	bad "$name: $1" "XDP and tc programs left: $a; $(ip netns exec "$NS_H" bpftool net show dev "$UP_H" 2>&1 | head -c 300)"
}
# start: dvmq in kernel mode on the uplink with socket $1; 0 once it answers with the program on
start() {
	e2e_config_kernel "$E2E_TMP/k.conf"
	sed -i "s|^socket = .*|socket = $1|" "$E2E_TMP/k.conf"
	e2e_spawn "$NS_H" "$DVMQ" run --config "$E2E_TMP/k.conf" 2>"$E2E_TMP/k.err"
	local n
	for ((n = 0; n < 100; n++)); do
		if [[ -S $1 ]] && [[ $(attached) != "0 "* ]] && "$DVMQCTL" --socket "$1" stats --json >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$SPAWNED" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

for sig in INT TERM KILL; do
	rm -f "$E2E_TMP/k.sock"
	if ! start "$E2E_TMP/k.sock"; then
		bad "$name: SIG$sig" "dvmq did not start in kernel mode: $(tail -c 400 "$E2E_TMP/k.err")"
		continue
	fi
	if [[ $sig == INT ]]; then
		kind=$("$DVMQCTL" --socket "$E2E_TMP/k.sock" stats --json | jq -r '.dataplane_kind // "none"')
		if [[ $kind == kernel ]]; then ok "$name: dvmqctl says the kernel steering runs"; else bad "$name: dvmqctl says the kernel steering runs" "dataplane_kind $kind"; fi
	fi
	kill -"$sig" "$SPAWNED"
	rc=0
	wait "$SPAWNED" 2>/dev/null || rc=$?
	if [[ $sig != KILL ]] && ((rc != 0)); then
		bad "$name: SIG$sig exits 0" "exit $rc: $(tail -c 300 "$E2E_TMP/k.err")"
	fi
	if [[ $sig == TERM ]]; then
		# the stop line counts what kernel mode counts, none of the userspace switch's fates
		line=$(grep 'stopped after' "$E2E_TMP/k.err" || true)
		what="$name: the stop line is the kernel data plane's"
		if [[ $line =~ \(kernel\ data\ plane\):\ offered\ [0-9]+,\ delivered\ [0-9]+ && $line != *"VM frames"* ]]; then
			ok "$what"
		else
			bad "$what" "${line:-no stop line}"
		fi
	fi
	clean "the device is clean after SIG$sig"
done
# kill -9 and a restart: the new instance attaches (nothing of the old one in its way)
rm -f "$E2E_TMP/k.sock"
if start "$E2E_TMP/k.sock"; then
	ok "$name: a restart after kill -9 attaches"
	kill -TERM "$SPAWNED"
	wait "$SPAWNED" 2>/dev/null || true
	clean "the device is clean after the restarted instance's SIGTERM"
else
	bad "$name: a restart after kill -9 attaches" "$(tail -c 400 "$E2E_TMP/k.err")"
fi

# a start that fails (before the attach: the control socket opens first)
e2e_config_kernel "$E2E_TMP/k.conf"
sed -i "s|^socket = .*|socket = $E2E_TMP/nonexistent/k.sock|" "$E2E_TMP/k.conf"
rc=0
ip netns exec "$NS_H" "$DVMQ" run --config "$E2E_TMP/k.conf" 2>"$E2E_TMP/k.err" || rc=$?
if ((rc == 0)); then
	bad "$name: a failed start" "exit 0 with the socket in a directory that does not exist"
else
	clean "the device is clean after a start that failed (exit $rc)"
fi

# another program on the device: refused, named, left alone
cat >"$E2E_TMP/pass.bpf.c" <<'EOF'
#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int dvt_foreign(struct xdp_md *ctx) { return XDP_PASS; }
char _license[] __attribute__((section("license"), used)) = "GPL";
EOF
clang -O2 -g0 -target bpf -I/usr/include/x86_64-linux-gnu -c "$E2E_TMP/pass.bpf.c" -o "$E2E_TMP/pass.o"
ip -n "$NS_H" link set dev "$UP_H" xdpdrv obj "$E2E_TMP/pass.o" sec xdp
id0=$(ip -j -d -n "$NS_H" link show "$UP_H" | jq '.[0].xdp.prog.id // .[0].xdp.attached[0].prog.id // 0')
rm -f "$E2E_TMP/k.sock"
e2e_config_kernel "$E2E_TMP/k.conf"
sed -i "s|^socket = .*|socket = $E2E_TMP/k.sock|" "$E2E_TMP/k.conf"
rc=0
timeout 20 ip netns exec "$NS_H" "$DVMQ" run --config "$E2E_TMP/k.conf" 2>"$E2E_TMP/k.err" || rc=$?
id1=$(ip -j -d -n "$NS_H" link show "$UP_H" | jq '.[0].xdp.prog.id // .[0].xdp.attached[0].prog.id // 0')
what="$name: a device with another XDP program is refused, the program named and left"
if ((rc != 0 && rc != 124)) && grep -qE "dvt_foreign|id $id0" "$E2E_TMP/k.err" && ((id0 != 0 && id1 == id0)); then
	ok "$what"
else
	bad "$what" "exit $rc, program id $id0 -> $id1: $(tail -c 300 "$E2E_TMP/k.err")"
fi
ip -n "$NS_H" link set dev "$UP_H" xdpdrv off
e2e_finish
