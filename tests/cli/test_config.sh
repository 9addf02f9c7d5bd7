#!/bin/bash
# test_config.sh DVMQ — `dvmq run --config FILE --check`: the shipped examples pass, the summary
# and --json say what the file says, every bad input exits 2 with its file:line, the option's own
# misuses exit 2, and --check needs no privilege and touches no device.
set -u
dvmq=$(realpath "$1")
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d /tmp/dvmq-config-cli.XXXXXX)
chmod 755 "$tmp"
# a TAP that --check must not create; removed whatever happens, should a bug create it
trap 'ip link del dvtcfg0 2>/dev/null; rm -rf "$tmp"' EXIT
source tests/cli/harness.sh

# expect NAME CODE PATTERN -- ARGS: exit code and a stderr/stdout line matching PATTERN
expect() {
	local name=$1 code=$2 pat=$3
	shift 4
	local out rc
	out=$("$dvmq" "$@" 2>&1)
	rc=$?
	if [[ $rc != "$code" ]]; then bad "$name" "exit $rc, want $code: $out"; return; fi
	if ! grep -qE -- "$pat" <<<"$out"; then bad "$name" "no match for '$pat' in: $out"; return; fi
	ok "$name"
}
# bad NAME PATTERN TEXT: TEXT as a config file must fail --check with exit 2 and PATTERN
refused() {
	local name=$1 pat=$2
	printf '%s' "$3" >"$tmp/$name.conf"
	expect "$name" 2 "^dvmq run: $tmp/$name.conf:$pat" -- run --config "$tmp/$name.conf" --check
}

# the examples, as shipped
for ex in host lab; do
	if out=$("$dvmq" run --config "examples/$ex.conf" --check 2>"$tmp/$ex.err") &&
		grep -qx "examples/$ex.conf: valid" <<<"$out"; then
		ok "example-$ex-passes-check"
	else
		bad "example-$ex-passes-check" "$out $(cat "$tmp/$ex.err")"
	fi
done
if "$dvmq" run --config examples/host.conf --check --json >"$tmp/host.json" 2>/dev/null &&
	jq -e '.valid == true and .file == "examples/host.conf" and .uplink.port == "afxdp" and .uplink.device == "eth0"
		and .uplink.fallback == "afpacket" and (.vms | map(.name)) == ["web-1", "web-2", "db-1", "ct-1"]
		and (.vms | map(.vlan) | unique) == [10, 20] and .vms[3].port == "tap" and .vms[3].offload == true
		and .vms[2].weight == 50 and .vms[2].device == "vnet3" and .engine.policy == "adaptive"
		and .engine.high == "90%" and .host.max_processors == 8 and (.host.cpus_in_use | length) >= 1
		and .control.socket == "/run/dvmq/dvmq.sock" and .control.metrics == "127.0.0.1:9911"
		and .capabilities == ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_BPF"] and (.notes | type) == "array"' \
		"$tmp/host.json" >/dev/null; then
	ok host-json-says-what-the-file-says
else
	bad host-json-says-what-the-file-says "$(cat "$tmp/host.json")"
fi
if "$dvmq" run --config examples/lab.conf --check --json >"$tmp/lab.json" 2>/dev/null &&
	jq -e '.valid == true and .uplink.port == "gen" and (.uplink.scenario | endswith("/scenarios/default.ini"))
		and (.vms | length) == 24 and all(.vms[]; .port == "sink" and .from_scenario)
		and .host.queue_pool == 32 and .capabilities == [] and .control.log_level == "info"' \
		"$tmp/lab.json" >/dev/null; then
	ok lab-json-vms-from-the-scenario
else
	bad lab-json-vms-from-the-scenario "$(cat "$tmp/lab.json")"
fi

# no privilege, no device: as nobody with no capabilities, and a TAP named in the file stays absent
cat >"$tmp/tap.conf" <<'EOF'
[uplink]
port = gen
scenario = PLACEHOLDER
[vm probe]
mac = 02:00:00:00:77:01
port = tap
device = dvtcfg0
EOF
sed -i "s|PLACEHOLDER|$PWD/scenarios/default.ini|" "$tmp/tap.conf"
if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null; then
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all --bounding-set=-all \
		"$dvmq" run --config "$tmp/tap.conf" --check 2>&1)
	rc=$?
else
	out=$("$dvmq" run --config "$tmp/tap.conf" --check 2>&1)
	rc=$?
fi
if [[ $rc == 0 ]] && grep -q 'needs CAP_NET_ADMIN, which this process lacks' <<<"$out" &&
	! ip link show dvtcfg0 >/dev/null 2>&1; then
	ok check-needs-no-privilege-and-creates-no-device
else
	bad check-needs-no-privilege-and-creates-no-device "exit $rc: $out"
fi

# the option's own misuses
expect run-help-says-config 0 'dvmq run --config FILE --check \[--json\]' -- run --help
# (without --check, --config runs the daemon: tests/cli/test_daemon.sh)
expect config-with-duration 2 'are for a scenario; with --config they are keys of FILE' \
	-- run --config examples/lab.conf --duration 3s
expect check-without-config 2 '^dvmq run: --check needs --config FILE$' -- run --check
expect config-and-scenario 2 '^dvmq run: --config FILE and SCENARIO exclude each other' \
	-- run --config examples/lab.conf --check step-up
expect config-and-set 2 '^dvmq run: --policy, --set, --duration, --cpus and --quiet are for a scenario' \
	-- run --config examples/lab.conf --check --set high=80%
expect config-missing-file 2 "^dvmq run: $tmp/nope.conf: cannot open: No such file or directory$" \
	-- run --config "$tmp/nope.conf" --check
printf '[uplink]\n\0' >"$tmp/nul.conf"
expect config-not-text 2 "^dvmq run: $tmp/nul.conf:1: file contains a NUL byte" -- run --config "$tmp/nul.conf" --check

# bad files: one per kind of mistake, each with its exit code and file:line
up=$'[uplink]\nport = afpacket\ndevice = eth0\n'
vm=$'[vm a]\nmac = 52:54:00:00:00:01\nport = tap\ndevice = ta\n'
refused unknown-key "2: unknown key 'colour' in \[host\]" $'[host]\ncolour = blue\n'"$up"
refused unknown-section "4: unknown section \[disk\]" "$up"$'[disk]\n'
refused multicast-mac "5: MAC '01:00:5e:00:00:01' is multicast" "$up"$'[vm a]\nmac = 01:00:5e:00:00:01\n'
refused malformed-mac "5: malformed MAC '52:54:00:00:00'" "$up"$'[vm a]\nmac = 52:54:00:00:00\n'
refused vlan-4095 "5: vlan 4095 is out of range 0..4094" "$up"$'[vm a]\nvlan = 4095\n'
refused weight-101 "5: weight 101 is out of range 0..100" "$up"$'[vm a]\nweight = 101\n'
refused duplicate-name "8: duplicate VM name 'a' \(first on line 4\)" "$up$vm"$'[vm a]\nmac = 52:54:00:00:00:02\nport = sink\n'
refused duplicate-mac-vlan "9: duplicate MAC\+VLAN: vm b has the address of vm a" "$up$vm"$'[vm b]\nmac = 52:54:00:00:00:01\nport = sink\n'
refused device-twice "11: device ta is used twice: vm b and vm a \(line 7\)" "$up$vm"$'[vm b]\nmac = 52:54:00:00:00:02\nport = afpacket\ndevice = ta\n'
refused device-of-the-uplink "7: device eth0 is used twice: vm a and the uplink \(line 3\)" "$up"$'[vm a]\nmac = 52:54:00:00:00:01\nport = afpacket\ndevice = eth0\n'
refused tap-as-uplink "2: port tap does not fit the uplink" $'[uplink]\nport = tap\ndevice = t0\n'
refused afxdp-as-vm-port "5: port afxdp does not fit a VM adapter" "$up"$'[vm a]\nport = afxdp\n'
refused device-too-long "3: device name 'abcdefghijklmnop' is longer than 15 characters \(IFNAMSIZ\)" $'[uplink]\nport = afpacket\ndevice = abcdefghijklmnop\n'
refused device-bad-characters "3: device name 'eth0:1' contains '/', ':', white space" $'[uplink]\nport = afpacket\ndevice = eth0:1\n'
refused engine-refuses "5: bad value '95%' for engine parameter 'low': low must be at least 0 and below high$" "$up"$'[engine]\nlow = 95%\n'
refused engine-unknown "5: unknown engine parameter 'agility'" "$up"$'[engine]\nagility = 3\n'
refused metrics-address "5: metrics address 'localhost' is not a numeric IPv4 address" "$up"$'[control]\nmetrics = localhost:9911\n'
refused no-uplink "1: no \[uplink\] section" "$vm"
printf '[host]\nprocessors = 2\ncolour = blue\n' >"$tmp/bad.ini"
refused scenario-does-not-load "3: scenario does not load: $tmp/bad.ini:3: unknown key 'colour'" \
	$'[uplink]\nport = gen\nscenario = bad.ini\n'
# the machine step: a CPU this machine does not have (4095: beyond any machine that runs tests)
refused cpu-not-on-this-machine "2: cpus names CPU 4095, which this machine does not have \(online: " \
	$'[host]\ncpus = 0,4095\n'"$up"

# --json on a bad file: the error in the object too
printf '%s' "$up"$'[vm a]\nvlan = 4095\n' >"$tmp/bad-json.conf"
out=$("$dvmq" run --config "$tmp/bad-json.conf" --check --json 2>/dev/null)
rc=$?
if [[ $rc == 2 ]] && jq -e --arg f "$tmp/bad-json.conf" '.valid == false and .file == $f
		and .error == ($f + ":5: vlan 4095 is out of range 0..4094")' <<<"$out" >/dev/null; then
	ok bad-file-json-error
else
	bad bad-file-json-error "exit $rc: $out"
fi
finish
