# lib.sh — the end-to-end topology the tests in this directory share (sourced, bash).
#
#   ext ns  dvtTx10 (10.77.10.254/24) ─┐ vlanmux   host ns (dvmq or a Linux bridge)
#           dvtTx20 (10.77.20.254/24) ─┴ dvtTu0 <veth> dvtTu1: the uplink, a VLAN trunk
#   vm1 ns  dvtTt1  VLAN 10, 10.77.10.1/16   tap:      dvmq creates the TAP, we move it here
#   vm2 ns  dvtTv2  VLAN 10, 10.77.10.2/16   afpacket: veth, host end dvtTa2
#   vm3 ns  dvtTt3  VLAN 20, 10.77.20.3/16   tap
#   vm4 ns  dvtTv4  VLAN 20, 10.77.20.4/16   afpacket
#
# The VMs share one /16 (and fd77::/64) across both VLANs on purpose: a VM believes every other
# VM is on its link, so only the switch keeps VLAN 10 from VLAN 20 (ARP/ND across VLANs must go
# unanswered). The host namespace has IPv6 off and no addresses: nothing of its own leaks into
# the ports. Every name starts with dvt plus a 4-hex tag of this shell's PID, so two runs can
# coexist; e2e_teardown (installed as the EXIT trap by e2e_init) kills only the PIDs this script
# started, then deletes the namespaces (their veths and VLAN devices go with them; dvmq's TAPs
# go with dvmq).
#
# Modes (E2E_MODE): "dvmq" (the default) runs `dvmq run --config F --socket S` in the host
# namespace with an afpacket uplink (afxdp with E2E_UPLINK=afxdp); "bridge" puts a VLAN-filtering
# Linux bridge there instead (the tap VMs become veths: a TAP without a holder has no carrier).
# The bridge mode checks the tests themselves and is the benchmark's baseline.
# "kernel" (issue 14) is the bridge mode's topology, the host's own Linux bridges, with dvmq in
# kernel mode on the uplink (`[uplink] mode = kernel`: XDP + cpumap steering, no switch of its own):
# frames from ext are processed on the processor of their VM's queue, the bridge does the rest.
# The external host's trunk has tx checksumming off in this mode: a veth peer leaves checksums to
# offload and native XDP on the other end drops that (docs/kernel-mode.md, "veth").
# "ovs" (the benchmark's second peer, scripts/bench-e2e.sh) runs Open vSwitch's userspace
# datapath there (datapath_type=netdev, userspace-tso-enable=true, veths as in bridge mode): its
# own ovsdb-server and ovs-vswitchd in the host namespace, with private run/db/log directories in
# E2E_TMP, ended by PID like everything else here; the uplink a trunk, each VM an access port.
#
# VLANs: this kernel has no VLAN devices and no bridge VLAN filtering (CONFIG_VLAN_8021Q and
# CONFIG_BRIDGE_VLAN_FILTERING are off), so a trunk is split into one veth per VLAN by a tc BPF
# program (vlanmux.bpf.c, built here with clang): in ext, the VLAN's veth dvtTxV is where the
# external host's stack sits; in bridge mode the host side does the same into one bridge per VLAN.

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
source "$E2E_ROOT/tests/cli/harness.sh"

E2E_MODE=${E2E_MODE:-dvmq}
# the switch process's nice value (dvmq, ovs-vswitchd): 0 for the tests; the benchmark starts
# both at -10, as their units do (dist/dvmq.service.in, ovs-ctl's default for ovs-vswitchd)
E2E_SWITCH_NICE=${E2E_SWITCH_NICE:-0}
E2E_UPLINK=${E2E_UPLINK:-afpacket}
E2E_BUILD=${E2E_BUILD:-$E2E_ROOT/build}
DVMQ=${DVMQ:-$E2E_BUILD/src/cli/dvmq}
DVMQCTL=${DVMQCTL:-$E2E_BUILD/src/cli/dvmqctl}

T=$(printf '%04x' $(($$ % 65536)))
NS_H=dvt${T}h
NS_E=dvt${T}e
UP_E=dvt${T}u0
UP_H=dvt${T}u1
E2E_VMS=(1 2 3 4)
declare -A VM_NS VM_IF VM_HOSTDEV VM_KIND VM_VLAN VM_MAC VM_IP4 VM_IP6 VM_EXT4
for i in "${E2E_VMS[@]}"; do
	VM_NS[$i]=dvt${T}v$i
	if ((i % 2)); then VM_KIND[$i]=tap; else VM_KIND[$i]=afpacket; fi
	if ((i <= 2)); then VM_VLAN[$i]=10; else VM_VLAN[$i]=20; fi
	VM_MAC[$i]=$(printf '02:77:00:00:%02x:%02x' "${VM_VLAN[$i]}" "$i")
	VM_IP4[$i]=10.77.${VM_VLAN[$i]}.$i
	VM_IP6[$i]=fd77::${VM_VLAN[$i]}:$i
	VM_EXT4[$i]=10.77.${VM_VLAN[$i]}.254
done
E2E_PIDS=()
E2E_NS=()
DVMQ_PID=
OVS_PID=
E2E_TMP=

# e2e_vm_setup_kind I: the VM's port as set up in this mode (the bridge modes have veths only)
e2e_vm_setup_kind() {
	if e2e_bridged || [[ $E2E_MODE == ovs ]]; then echo afpacket; else echo "${VM_KIND[$1]}"; fi
}

# e2e_bridged: the host namespace forwards with Linux bridges (bridge and kernel modes)
e2e_bridged() {
	[[ $E2E_MODE == bridge || $E2E_MODE == kernel ]]
}

# e2e_need NAME TOOL...: prints the reason this test cannot run (not root, a tool missing, dvmq
# not built or lacking what the mode needs) and returns 1, or returns 0.
e2e_need() {
	local t
	if [[ $(id -u) != 0 ]]; then
		echo "needs root (network namespaces, veth, TAP)"
		return 1
	fi
	for t in ip bridge tc clang ethtool jq sysctl "$@"; do
		if ! command -v "$t" >/dev/null; then
			echo "$t is not installed (make test installs PKGS_TEST)"
			return 1
		fi
	done
	case $E2E_MODE in
	bridge) ;;
	ovs)
		for t in ovsdb-server ovs-vswitchd ovs-vsctl ovsdb-tool; do
			if ! command -v "$t" >/dev/null; then
				echo "$t is not installed (apt-get install openvswitch-switch)"
				return 1
			fi
		done
		if [[ ! -r /usr/share/openvswitch/vswitch.ovsschema ]]; then
			echo "/usr/share/openvswitch/vswitch.ovsschema is missing (apt-get install openvswitch-common)"
			return 1
		fi
		;;
	kernel)
		if [[ ! -x $DVMQ || ! -x $DVMQCTL ]]; then
			echo "$DVMQ or $DVMQCTL is not built"
			return 1
		fi
		local why
		if ! why=$(e2e_kernel_supported); then
			echo "$why"
			return 1
		fi
		;;
	dvmq)
		if [[ ! -x $DVMQ || ! -x $DVMQCTL ]]; then
			echo "$DVMQ or $DVMQCTL is not built"
			return 1
		fi
		# The daemon (`dvmq run --config F --socket S` opening kernel ports) is branch daemon's.
		if ! "$DVMQ" run --help 2>&1 | grep -q -- '--socket'; then
			echo "dvmq run has no --socket: the daemon (dvmq run --config FILE opening tap/afpacket ports) is not built yet"
			return 1
		fi
		;;
	*)
		echo "E2E_MODE=$E2E_MODE: want dvmq, bridge, kernel or ovs"
		return 1
		;;
	esac
	return 0
}

# e2e_init NAME: the EXIT trap and the scratch directory; call before creating anything.
e2e_init() {
	E2E_NAME=$1
	E2E_TMP=$(mktemp -d /tmp/dvmq-e2e.XXXXXX)
	chmod 755 "$E2E_TMP"
	trap e2e_teardown EXIT
	trap 'exit 130' INT TERM
	trap 'echo "FAIL $E2E_NAME: command failed (line $LINENO): $BASH_COMMAND"' ERR
}

# e2e_spawn NS CMD...: starts CMD in namespace NS (host namespace for NS = -) in the background,
# remembers its PID for the teardown and sets SPAWNED to it. `ip netns exec` execs CMD, so the
# PID is CMD's own.
e2e_spawn() {
	local ns=$1
	shift
	if [[ $ns == - ]]; then
		"$@" &
	else
		ip netns exec "$ns" "$@" &
	fi
	SPAWNED=$!
	E2E_PIDS+=("$SPAWNED")
}

# e2e_stop PID: SIGTERM, up to 3 s, then SIGKILL; reaps it. Only for PIDs from e2e_spawn.
e2e_stop() {
	local p=$1 n keep=() q
	# forgotten once reaped: the teardown must not signal a PID the system has given to another process
	for q in "${E2E_PIDS[@]}"; do [[ $q == "$p" ]] || keep+=("$q"); done
	E2E_PIDS=("${keep[@]}")
	kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
	kill -TERM "$p" 2>/dev/null || true
	for ((n = 0; n < 30; n++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

e2e_teardown() {
	local rc=$? p ns
	trap - EXIT
	for p in "${E2E_PIDS[@]}"; do e2e_stop "$p"; done
	for ns in "${E2E_NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	if [[ -n $E2E_TMP && ${E2E_KEEP:-0} == 1 ]]; then
		echo "e2e: kept $E2E_TMP (config, dvmq's output, captures, iperf3 JSON)" >&2
	elif [[ -n $E2E_TMP ]]; then
		rm -rf "$E2E_TMP"
	fi
	exit "$rc"
}

# e2e_vlanmux NS TRUNK S M: splits TRUNK (in NS) into VLANs 10 and 20: veth pairs dvtT<S>V (the
# VLAN's untagged link, for a stack or a bridge) and dvtT<M>V (the mux end), tc BPF on the
# trunk's and the mux ends' ingress (vlanmux.bpf.c).
e2e_vlanmux() {
	local ns=$1 trunk=$2 s=$3 m=$4 v src=$E2E_ROOT/tests/integ/e2e/vlanmux.bpf.c
	local cc=(clang -O2 -g0 -target bpf -I/usr/include/x86_64-linux-gnu -c "$src")
	local -A idx
	for v in 10 20; do
		ip -n "$ns" link add "dvt${T}$s$v" type veth peer name "dvt${T}$m$v"
		ip -n "$ns" link set "dvt${T}$s$v" up
		ip -n "$ns" link set "dvt${T}$m$v" up
		idx[$v]=$(ip -j -n "$ns" link show "dvt${T}$m$v" | jq '.[0].ifindex')
	done
	local ti
	ti=$(ip -j -n "$ns" link show "$trunk" | jq '.[0].ifindex')
	"${cc[@]}" -DTRUNK_SIDE -DVLAN_A=10 -DIF_A="${idx[10]}" -DVLAN_B=20 -DIF_B="${idx[20]}" \
		-o "$E2E_TMP/mux-$ns-trunk.o"
	ip netns exec "$ns" tc qdisc add dev "$trunk" clsact
	ip netns exec "$ns" tc filter add dev "$trunk" ingress bpf da obj "$E2E_TMP/mux-$ns-trunk.o" sec tc/trunk
	for v in 10 20; do
		"${cc[@]}" -DVLAN="$v" -DTRUNK="$ti" -o "$E2E_TMP/mux-$ns-$v.o"
		ip netns exec "$ns" tc qdisc add dev "dvt${T}$m$v" clsact
		ip netns exec "$ns" tc filter add dev "dvt${T}$m$v" ingress bpf da obj "$E2E_TMP/mux-$ns-$v.o" sec tc/access
	done
}

e2e_netns() {
	ip netns add "$1"
	E2E_NS+=("$1")
	ip -n "$1" link set lo up
}

# e2e_config FILE: dvmq's host configuration for this topology (kept in E2E_TMP for a failure's
# post-mortem; E2E_KEEP=1 keeps E2E_TMP).
e2e_config() {
	local i
	{
		echo "# dvmq e2e topology $T (tests/integ/e2e/lib.sh)"
		echo "[host]"
		echo "cpus = all"
		echo "interval = 100ms"
		echo "[engine]"
		echo "policy = ${E2E_POLICY:-adaptive}"
		echo "[uplink]"
		echo "port = $E2E_UPLINK"
		echo "device = $UP_H"
		for i in "${E2E_VMS[@]}"; do
			echo "[vm dvt${T}vm$i]"
			echo "mac = ${VM_MAC[$i]}"
			echo "vlan = ${VM_VLAN[$i]}"
			echo "weight = 100"
			echo "port = ${VM_KIND[$i]}"
			echo "device = ${VM_HOSTDEV[$i]}"
			[[ ${VM_KIND[$i]} == tap ]] && echo "offload = yes"
		done
		echo "[control]"
		echo "socket = $E2E_TMP/dvmq.sock"
		echo "metrics = off"
		echo "log_level = info"
	} >"$1"
}

# e2e_config_kernel FILE [UPLINK_DEVICE]: dvmq's host configuration in kernel mode: the uplink
# (default UP_H) steered, each VM a MAC + VLAN + weight with its kernel port named for the views.
# E2E_INTERVAL (default 100ms) and E2E_POLICY as in e2e_config; E2E_ENGINE_EXTRA, E2E_KERNEL_EXTRA:
# more [engine] and [uplink] lines.
e2e_config_kernel() {
	local i
	{
		echo "# dvmq e2e topology $T in kernel mode (tests/integ/e2e/lib.sh)"
		echo "[host]"
		echo "cpus = ${E2E_CPUS:-all}"
		echo "interval = ${E2E_INTERVAL:-100ms}"
		echo "[engine]"
		echo "policy = ${E2E_POLICY:-adaptive}"
		[[ -n ${E2E_ENGINE_EXTRA:-} ]] && printf '%s\n' "$E2E_ENGINE_EXTRA"
		echo "[uplink]"
		echo "mode = kernel"
		echo "device = ${2:-$UP_H}"
		[[ -n ${E2E_KERNEL_EXTRA:-} ]] && printf '%s\n' "$E2E_KERNEL_EXTRA"
		for i in "${E2E_VMS[@]}"; do
			echo "[vm dvt${T}vm$i]"
			echo "mac = ${VM_MAC[$i]}"
			echo "vlan = ${VM_VLAN[$i]}"
			echo "weight = 100"
			[[ -n ${VM_HOSTDEV[$i]:-} ]] && echo "device = ${VM_HOSTDEV[$i]}"
		done
		echo "[control]"
		echo "socket = $E2E_TMP/dvmq.sock"
		echo "metrics = off"
		echo "log_level = ${E2E_LOG_LEVEL:-info}"
	} >"$1"
}

# e2e_kernel_supported: 0 when this dvmq takes a kernel-mode configuration (`--check`, which
# touches no device); else prints why not (dvmq's own words) and returns 1.
e2e_kernel_supported() {
	local d out
	d=$(mktemp -d /tmp/dvmq-e2e-probe.XXXXXX)
	E2E_TMP=$d e2e_config_kernel "$d/probe.conf" lo
	out=$("$DVMQ" run --config "$d/probe.conf" --check 2>&1)
	local rc=$?
	rm -rf "$d"
	if ((rc == 0)); then
		return 0
	fi
	echo "dvmq has no kernel mode yet (issue 14: [uplink] mode = kernel): $(head -n 1 <<<"$out" | head -c 200)"
	return 1
}

ctl() { "$DVMQCTL" --socket "$E2E_TMP/dvmq.sock" "$@"; }

# e2e_vm_addr I: the VM's MAC and addresses on its NIC, link up
e2e_vm_addr() {
	local i=$1 ns=${VM_NS[$1]} d=${VM_IF[$1]}
	ip -n "$ns" link set "$d" address "${VM_MAC[$i]}"
	ip -n "$ns" link set "$d" up
	ip -n "$ns" addr add "${VM_IP4[$i]}/16" dev "$d"
	ip -n "$ns" addr add "${VM_IP6[$i]}/64" dev "$d" nodad
}

# e2e_finish: the closing line, last (the ERR trap must not add a line after it)
e2e_finish() {
	trap - ERR
	finish
}

# e2e_die WHY: a failed setup is a failed test (FAIL line, closing line, exit 1; the trap cleans up)
e2e_die() {
	bad "$E2E_NAME: setup" "$1"
	trap - ERR
	finish || true
	exit 1
}

# e2e_up: the whole topology, the switch running and every VM's NIC up; a switch that does not
# start is a FAIL (e2e_die), not a skip: e2e_need already said whether it should.
e2e_up() {
	local i ns v n
	e2e_netns "$NS_H"
	e2e_netns "$NS_E"
	ip netns exec "$NS_H" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip netns exec "$NS_E" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$NS_H" link add "$UP_H" type veth peer name "$UP_E" netns "$NS_E"
	ip -n "$NS_E" link set "$UP_E" up
	e2e_vlanmux "$NS_E" "$UP_E" x y
	for v in 10 20; do ip -n "$NS_E" addr add "10.77.$v.254/24" dev "dvt${T}x$v"; done
	# AF_XDP cannot learn that the veth left checksums to do (docs/ports.md), nor can native XDP
	# redirecting through a cpumap (docs/kernel-mode.md)
	if [[ ($E2E_MODE == dvmq && $E2E_UPLINK == afxdp) || $E2E_MODE == kernel ]]; then
		ip netns exec "$NS_E" ethtool -K "$UP_E" tx off >/dev/null
	fi
	# txvlan stays on: veth hands the VLAN tag over beside the frame, as a NIC with rxvlan does;
	# the afpacket port reads it from PACKET_AUXDATA, the afxdp port's XDP program puts it back
	ip -n "$NS_H" link set "$UP_H" up
	for i in "${E2E_VMS[@]}"; do
		ns=${VM_NS[$i]}
		e2e_netns "$ns"
		# no duplicate address detection: link-local addresses usable at once
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
		if [[ $(e2e_vm_setup_kind "$i") == tap ]]; then
			VM_HOSTDEV[$i]=dvt${T}t$i
			VM_IF[$i]=dvt${T}t$i
		else
			VM_HOSTDEV[$i]=dvt${T}a$i
			VM_IF[$i]=dvt${T}v$i
			ip -n "$NS_H" link add "${VM_HOSTDEV[$i]}" type veth peer name "${VM_IF[$i]}" netns "$ns"
			ip -n "$NS_H" link set "${VM_HOSTDEV[$i]}" up
			e2e_vm_addr "$i"
		fi
	done
	if e2e_bridged; then
		# one bridge per VLAN, the trunk split into them as in ext
		e2e_vlanmux "$NS_H" "$UP_H" r q
		for v in 10 20; do
			ip -n "$NS_H" link add "dvt${T}b$v" type bridge
			ip -n "$NS_H" link set "dvt${T}b$v" up
			ip -n "$NS_H" link set "dvt${T}r$v" master "dvt${T}b$v"
		done
		for i in "${E2E_VMS[@]}"; do
			ip -n "$NS_H" link set "${VM_HOSTDEV[$i]}" master "dvt${T}b${VM_VLAN[$i]}"
			# what dvmq's configured MAC filters are: no flooding to learn a VM
			# replace, not add: the bridge may have learned the MAC already (the VM spoke first)
			bridge -n "$NS_H" fdb replace "${VM_MAC[$i]}" dev "${VM_HOSTDEV[$i]}" master static
		done
		if [[ $E2E_MODE == kernel ]]; then e2e_kernel_start; fi
	elif [[ $E2E_MODE == ovs ]]; then
		e2e_ovs_up
	else
		e2e_config "$E2E_TMP/dvmq.conf"
		# E2E_RUN_ARGS: more `dvmq run` arguments (e.g. --run-to-completion), as in kernel mode
		# shellcheck disable=SC2086
		e2e_spawn "$NS_H" nice -n "$E2E_SWITCH_NICE" "$DVMQ" run --config "$E2E_TMP/dvmq.conf" --socket "$E2E_TMP/dvmq.sock" \
			${E2E_RUN_ARGS:-} >"$E2E_TMP/dvmq.out" 2>"$E2E_TMP/dvmq.err"
		DVMQ_PID=$SPAWNED
		for ((n = 0; n < 100; n++)); do
			if ! kill -0 "$DVMQ_PID" 2>/dev/null; then
				e2e_die "dvmq exited while starting: $(head -c 600 "$E2E_TMP/dvmq.err")"
			fi
			ctl stats --json >/dev/null 2>&1 && break
			sleep 0.1
		done
		if ((n == 100)); then
			e2e_die "dvmq not ready after 10 s (dvmqctl stats fails): $(head -c 600 "$E2E_TMP/dvmq.err")"
		fi
		# dvmq created the TAPs in the host namespace: hand each to its VM
		for i in "${E2E_VMS[@]}"; do
			[[ ${VM_KIND[$i]} == tap ]] || continue
			if ! ip -n "$NS_H" link show "${VM_HOSTDEV[$i]}" >/dev/null 2>&1; then
				e2e_die "dvmq is ready but its TAP ${VM_HOSTDEV[$i]} does not exist"
			fi
			ip -n "$NS_H" link set "${VM_HOSTDEV[$i]}" netns "${VM_NS[$i]}"
			e2e_vm_addr "$i"
		done
	fi
}

# e2e_wait_ready WHAT: dvmq (DVMQ_PID) answers dvmqctl within 10 s, or the test dies saying why
e2e_wait_ready() {
	local n
	for ((n = 0; n < 100; n++)); do
		if ! kill -0 "$DVMQ_PID" 2>/dev/null; then
			e2e_die "dvmq exited while starting$1: $(head -c 600 "$E2E_TMP/dvmq.err")"
		fi
		ctl stats --json >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	e2e_die "dvmq not ready after 10 s$1 (dvmqctl stats fails): $(head -c 600 "$E2E_TMP/dvmq.err")"
}

# e2e_kernel_start: dvmq in kernel mode on the uplink (the bridges are up), ready for dvmqctl;
# E2E_RUN_ARGS: more `dvmq run` arguments (e.g. --own-load)
e2e_kernel_start() {
	e2e_config_kernel "$E2E_TMP/dvmq.conf"
	# shellcheck disable=SC2086
	e2e_spawn "$NS_H" "$DVMQ" run --config "$E2E_TMP/dvmq.conf" --socket "$E2E_TMP/dvmq.sock" ${E2E_RUN_ARGS:-} \
		>>"$E2E_TMP/dvmq.out" 2>>"$E2E_TMP/dvmq.err"
	DVMQ_PID=$SPAWNED
	e2e_wait_ready " in kernel mode"
}

# e2e_dvmq_alive: dvmq still runs (dvmq mode; ovs-vswitchd in ovs mode; always true for the bridge)
e2e_dvmq_alive() {
	case $E2E_MODE in
	bridge) return 0 ;;
	ovs) kill -0 "$OVS_PID" 2>/dev/null ;;
	*) kill -0 "$DVMQ_PID" 2>/dev/null ;;
	esac
}

# e2e_switch_pid: the switch's process (dvmq, ovs-vswitchd), empty for the bridge (the kernel)
e2e_switch_pid() {
	case $E2E_MODE in
	bridge) echo "" ;;
	ovs) echo "$OVS_PID" ;;
	*) echo "$DVMQ_PID" ;;
	esac
}

ovs() { ovs-vsctl --db="unix:$E2E_TMP/ovs/db.sock" --timeout=10 "$@"; }

# e2e_ovs_up: Open vSwitch's userspace datapath in the host namespace, its files in E2E_TMP/ovs
# (the package's own directories and any system OVS untouched): ovsdb-server and ovs-vswitchd in
# the foreground under e2e_spawn (ended by PID), one netdev bridge, the uplink a trunk of VLANs
# 10 and 20, each VM an access port. A daemon that does not start is e2e_die.
e2e_ovs_up() {
	local d=$E2E_TMP/ovs i n br=dvt${T}o
	mkdir -p "$d"
	export OVS_RUNDIR=$d OVS_DBDIR=$d OVS_LOGDIR=$d OVS_SYSCONFDIR=$d
	ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema >/dev/null ||
		e2e_die "ovsdb-tool create failed"
	e2e_spawn "$NS_H" ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" --unixctl="$d/ovsdb.ctl" \
		--log-file="$d/ovsdb.log" --pidfile="$d/ovsdb.pid" 2>"$d/ovsdb.err"
	for ((n = 0; n < 100; n++)); do
		[[ -S $d/db.sock ]] && break
		sleep 0.1
	done
	ovs --no-wait init || e2e_die "ovsdb-server did not start: $(tail -c 300 "$d/ovsdb.err")"
	ovs --no-wait set Open_vSwitch . other_config:userspace-tso-enable=true
	e2e_spawn "$NS_H" nice -n "$E2E_SWITCH_NICE" ovs-vswitchd "unix:$d/db.sock" --unixctl="$d/vswitchd.ctl" \
		--log-file="$d/vswitchd.log" \
		--pidfile="$d/vswitchd.pid" 2>"$d/vswitchd.err"
	OVS_PID=$SPAWNED
	ovs add-br "$br" -- set bridge "$br" datapath_type=netdev ||
		e2e_die "ovs-vswitchd did not take a netdev bridge: $(tail -c 400 "$d/vswitchd.log")"
	ovs add-port "$br" "$UP_H" -- set port "$UP_H" vlan_mode=trunk trunks=10,20
	for i in "${E2E_VMS[@]}"; do
		ovs add-port "$br" "${VM_HOSTDEV[$i]}" tag="${VM_VLAN[$i]}"
	done
	ip -n "$NS_H" link set "$br" up 2>/dev/null || true
	kill -0 "$OVS_PID" 2>/dev/null || e2e_die "ovs-vswitchd exited: $(tail -c 400 "$d/vswitchd.log")"
}

# e2e_xdp_progs NS DEV: the XDP programs attached to DEV (ip link's view: 0 when clean)
e2e_xdp_progs() {
	ip -d -n "$1" link show "$2" 2>/dev/null | grep -c 'prog/xdp' || true
}

# e2e_cpumap_ticks: "CPU TICKS" per cpumap kthread (cpumap/CPU/map:ID) of any map, user+system
# clock ticks each used so far: the processing each processor did for redirected frames, read
# from /proc, independent of dvmq's own counters
e2e_cpumap_ticks() {
	local p c
	for p in /proc/[0-9]*; do
		c=$(cat "$p/comm" 2>/dev/null) || continue
		[[ $c == cpumap/* ]] || continue
		c=${c#cpumap/}
		echo "${c%%/*} $(e2e_cpu_ticks "${p#/proc/}")"
	done
}

# e2e_cpu_ticks PID: user+system clock ticks the process used so far
e2e_cpu_ticks() {
	local s
	s=$(<"/proc/$1/stat")
	s=${s##*) }
	# fields after "comm)": state is 1, utime 12, stime 13
	awk '{ print $12 + $13 }' <<<"$s"
}

# e2e_servers: an iperf3 server in ext and in every VM (port 5201), ready when this returns
e2e_servers() {
	local ns n
	for ns in "$NS_E" "${VM_NS[@]}"; do
		e2e_spawn "$ns" iperf3 -s -p 5201 >/dev/null 2>&1
	done
	for ns in "$NS_E" "${VM_NS[@]}"; do
		for ((n = 0; n < 50; n++)); do
			ip netns exec "$ns" ss -ltnH 'sport = :5201' | grep -q . && break
			sleep 0.1
		done
	done
}

# e2e_iperf NS TARGET OUT ARGS...: one iperf3 client run, its JSON in OUT; returns iperf3's status
e2e_iperf() {
	local ns=$1 target=$2 out=$3
	shift 3
	timeout 30 ip netns exec "$ns" iperf3 -c "$target" -p 5201 -J "$@" >"$out" 2>&1
}

# e2e_stat JSONPATH: a number from `dvmqctl stats --json` (jq path), 0 where absent
e2e_stat() {
	ctl stats --json 2>/dev/null | jq -r "($1) // 0" 2>/dev/null || echo 0
}

# e2e_ping NS ARGS...: ping quietly; 0 when it got replies
e2e_ping() {
	local ns=$1
	shift
	ip netns exec "$ns" ping -q "$@" >/dev/null 2>&1
}

# e2e_capture NS DEV FILE [FILTER]: tcpdump on DEV in NS into FILE (packet-buffered, no promisc),
# returns when it listens; SPAWNED is its PID (stop it with e2e_stop: SIGTERM flushes the file)
e2e_capture() {
	local ns=$1 dev=$2 file=$3 n
	shift 3
	e2e_spawn "$ns" tcpdump -p -U -n -i "$dev" -w "$file" "$@" 2>"$file.err"
	for ((n = 0; n < 50; n++)); do
		grep -q 'listening on' "$file.err" 2>/dev/null && return 0
		sleep 0.1
	done
	e2e_die "tcpdump on $dev in $ns does not listen after 5 s: $(head -c 300 "$file.err")"
}

# e2e_count FILE FILTER: frames in a capture that match a tcpdump filter
e2e_count() {
	tcpdump -n -r "$1" "$2" 2>/dev/null | wc -l
}
