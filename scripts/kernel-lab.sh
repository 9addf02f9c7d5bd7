#!/bin/bash
# kernel-lab.sh — try dvmq's kernel mode (issue 14, docs/kernel-mode.md) without a host of your
# own: a lab of network namespaces, dvmq steering its uplink, everything removed on exit.
#
#   ext ns   dvt<T>x10 10.77.10.254, dvt<T>x20 10.77.20.254 ─ VLAN trunk dvt<T>u0
#              │ veth (tx checksumming off: see docs/kernel-mode.md, "veth")
#   host ns  dvt<T>u1: the uplink; dvmq's XDP program + cpumap here ─ the VLANs split (tc) ─
#            Linux bridges dvt<T>b10, dvt<T>b20 (the host's own datapath, left as it is)
#   vm1..4   veth dvt<T>v1..4: vm1, vm2 on VLAN 10 (10.77.10.1, .2), vm3, vm4 on VLAN 20
#            (10.77.20.3, .4); IPv6 fd77::VLAN:I between VMs only (the ext and host namespaces
#            have IPv6 off, as in the tests: nothing IPv6 crosses the uplink)
#
# The topology is tests/integ/e2e/lib.sh's (the kernel-mode tests and `dvmq bench kernel` use
# the same), T a 4-hex tag of this shell's PID. Needs root.
set -u
usage() {
	cat <<'EOF'
usage: scripts/kernel-lab.sh [--bridge] [--build DIR] [--interval TIME] [-- COMMAND [ARG...]]

Builds the lab (see the top of this file), starts `dvmq run` in kernel mode on its uplink
(--bridge: no dvmq, the plain Linux bridge path to compare with) and prints how to reach every
part. Then runs COMMAND in the host namespace with the lab in its environment (LAB_NS_EXT,
LAB_NS_HOST, LAB_UPLINK, LAB_NS_VM1..4, LAB_IP_VM1..4, LAB_SOCKET, DVMQCTL) or, without one,
waits until Ctrl-C. Everything it made (namespaces, veths, bridges, dvmq) is removed when it
ends, whatever way.
  --bridge        the bridges alone (RPS and friends are yours to set)
  --build DIR     the build with dvmq and dvmqctl (default: build/)
  --interval T    dvmq's sampling interval (default 100ms)
Try, in another shell (names are printed at start):
  ip netns exec dvt<T>e iperf3 -c 10.77.10.1          (an iperf3 server runs in every VM)
  dvmqctl --socket /tmp/dvmq-e2e.*/dvmq.sock queue show
  dvmqctl --socket ... stats                           (per-processor counters of the steering)
EOF
}
mode=kernel
cmd=()
while (($#)); do
	case $1 in
	--bridge) mode=bridge ;;
	--build) E2E_BUILD=$(cd "$2" && pwd) || exit 2; shift ;;
	--interval) E2E_INTERVAL=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; cmd=("$@"); break ;;
	*) echo "kernel-lab.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
export E2E_MODE=$mode E2E_INTERVAL=${E2E_INTERVAL:-100ms}
[[ -n ${E2E_BUILD:-} ]] && export E2E_BUILD
source "$(dirname "$0")/../tests/integ/e2e/lib.sh"
if ! why=$(e2e_need iperf3); then
	echo "kernel-lab.sh: cannot build the lab: $why" >&2
	exit 1
fi
e2e_init kernel-lab
trap - ERR
e2e_up
e2e_servers

echo "lab $T up ($mode): ext $NS_E, host $NS_H (uplink $UP_H)"
for i in "${E2E_VMS[@]}"; do
	echo "  vm$i: ns ${VM_NS[$i]}, ${VM_IP4[$i]} (${VM_IP6[$i]}: from other VMs only), VLAN ${VM_VLAN[$i]}, MAC ${VM_MAC[$i]}, bridge port ${VM_HOSTDEV[$i]}"
done
echo "  IPv6 is off in ext and host: no IPv6 crosses the uplink here (VM-to-VM IPv6 goes through the bridges)"
if [[ $mode == kernel ]]; then
	echo "  dvmq (PID $DVMQ_PID): $DVMQCTL --socket $E2E_TMP/dvmq.sock stats; its log: $E2E_TMP/dvmq.err"
	echo "  XDP on the uplink: ip -n $NS_H -d link show $UP_H | grep prog/xdp"
fi
export LAB_NS_EXT=$NS_E LAB_NS_HOST=$NS_H LAB_UPLINK=$UP_H LAB_SOCKET=$E2E_TMP/dvmq.sock DVMQCTL
for i in "${E2E_VMS[@]}"; do
	export "LAB_NS_VM$i=${VM_NS[$i]}" "LAB_IP_VM$i=${VM_IP4[$i]}"
done
if ((${#cmd[@]})); then
	ip netns exec "$NS_H" "${cmd[@]}"
	rc=$?
	echo "kernel-lab.sh: '${cmd[*]}' exited $rc; removing the lab"
	exit "$rc"
fi
echo "Ctrl-C (or SIGTERM) removes the lab."
e2e_spawn - sleep infinity
wait "$SPAWNED" 2>/dev/null
