#!/bin/bash
# test_dvmqctl.sh BUILD_DIR — dvmqctl end to end against dvmq-fake-daemon (the control socket and
# metrics page of a daemon over a fake state): every command's table and JSON (checked with jq),
# every error with its message and exit code, --follow, top, the bash completion, and the metrics
# page (promtool, and its counters equal to `dvmqctl stats --json`).
set -u
b=$1
cd "$(dirname "$0")/../.."
ctl=$b/src/cli/dvmqctl
fake=$b/tests/dvmq-fake-daemon
tmp=$(mktemp -d /tmp/dvmq-ctl-cli.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
source tests/cli/harness.sh

S=$tmp/dvmq.sock
# expect NAME CODE PATTERN -- ARGS: exit code, and output (stdout+stderr) matching PATTERN
expect() {
	local name=$1 code=$2 pat=$3
	shift 4
	local out rc
	out=$("$ctl" --socket "$S" "$@" 2>&1)
	rc=$?
	if [[ $rc != "$code" ]]; then bad "$name" "exit $rc, want $code: $out"; return; fi
	if ! grep -qE -- "$pat" <<<"$out"; then bad "$name" "no match for '$pat' in: $out"; return; fi
	ok "$name"
}
# jqok NAME FILTER -- ARGS: exit 0 and the --json output satisfies FILTER
jqok() {
	local name=$1 filter=$2 out
	shift 3
	if out=$("$ctl" --socket "$S" --json "$@" 2>&1) && jq -e "$filter" <<<"$out" >/dev/null 2>&1; then
		ok "$name"
	else
		bad "$name" "$filter on: $out"
	fi
}
start_fake() { # start_fake SOCKET [ARGS]: waits for the socket
	local s=$1
	shift
	"$fake" --socket "$s" "$@" 2>>"$tmp/fake.log" &
	pids+=($!)
	for _ in $(seq 100); do [[ -S $s ]] && return 0; sleep 0.05; done
	return 1
}

# ---- without a daemon ----
expect help 0 'usage: dvmqctl' -- --help
expect cmd-help 0 'usage: dvmqctl vm add NAME --mac MAC --port tap:DEV\|afpacket:DEV\|sink' -- vm add --help
expect group-help 0 'usage: dvmqctl queue set QUEUE\|VM --processor N\|auto' -- queue --help
expect vm-add-needs-port 2 'vm add: --port is required: tap:DEVICE, afpacket:DEVICE, or sink' -- vm add a --mac 02:00:00:00:00:09
expect queue-set-needs-processor 2 'queue set: --processor N or --processor auto is required' -- queue set 1
expect queue-set-bad-processor 2 "queue set: --processor wants a processor number or auto, got 'x'" -- queue set 1 --processor x
# --json: errors are JSON too, whatever failed (usage here, the daemon's refusals below)
# (jq -e passes an empty input: the output must be there first)
if out=$("$ctl" --socket "$S" --json vm add a --mac 02:00:00:00:00:09 2>/dev/null); [[ $? == 2 && $out == {* ]] &&
	jq -e '.ok == false and .error.code == "usage" and (.error.message | test("--port is required"))' <<<"$out" >/dev/null; then
	ok json-error-usage
else
	bad json-error-usage "$out"
fi
expect policy-help 0 'PARAM: interval and high low' -- policy set --help
expect no-args 2 'usage: dvmqctl' --
expect unknown-command 2 "unknown command 'frobnicate'" -- frobnicate
expect missing-verb 2 'vm: missing subcommand; one of: add remove show set' -- vm
expect unknown-verb 2 "vm: unknown subcommand 'fly'" -- vm fly
expect unknown-option 2 "vm add: unknown option '--colour'" -- vm add a --mac 02:00:00:00:00:09 --port sink --colour blue
expect option-not-a-number 2 "vm add: --weight wants a number, got 'x'" -- vm add a --mac 02:00:00:00:00:09 --port sink --weight x
expect option-without-value 2 'vm set: --weight needs a value' -- vm set a --weight
expect missing-name 2 'vm remove: missing NAME' -- vm remove
expect extra-argument 2 "stats: unexpected argument 'now'" -- stats now
expect onoff 2 "adapter set: --vmq wants on or off, got 'maybe'" -- adapter set --vmq maybe
expect bad-timeout 2 "--timeout wants seconds" -- --timeout 0 stats
expect no-daemon 2 "no dvmq daemon is running: no socket at $S" -- stats
python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$S"
expect stale-socket 2 'refuses connections \(a stale socket\)' -- stats
rm -f "$S"
echo not a socket >"$tmp/plain"
expect socket-is-a-file 2 "$tmp/plain is not a socket \(a regular file\)" -- --socket "$tmp/plain" stats
if out=$("$ctl" --socket "$S" --json stats 2>/dev/null); [[ $? == 2 && $out == {* ]] && jq -e '.error.code == "no-daemon"' <<<"$out" >/dev/null; then
	ok json-error-no-daemon
else
	bad json-error-no-daemon "$out"
fi

# ---- against the fake daemon ----
if ! start_fake "$S" --frozen --metrics-port-file "$tmp/port"; then
	bad fake-daemon "did not start: $(cat "$tmp/fake.log")"
	finish
	exit 1
fi
expect version 0 'daemon fake, protocol 1' -- version
expect adapter-show 0 'queue pool +8 \(3 used\)' -- adapter show
jqok adapter-show-json '.vmq == true and .queue_pool == 8 and .processors == [0,1,2,3] and .numa_node == null' -- adapter show
jqok adapter-set '.processors == [0,1,2]' -- adapter set --processors 0-2
expect adapter-set-unknown-processor 2 'unknown processor 9 \(this host has 4: 0..3\)' -- adapter set --base 9
expect adapter-set-bad-list 2 "bad processor list '1-x'" -- adapter set --processors 1-x
expect adapter-set-unsupported 2 'queue pool size is fixed while the daemon runs' -- adapter set --queue-pool 3
expect adapter-set-nothing 2 'adapter.set: nothing to set' -- adapter set
expect adapter-set-range 2 'max_processors 9 is out of range' -- adapter set --max-processors 9
jqok adapter-set-back '.processors == [0,1,2,3]' -- adapter set --processors 0-3 --numa-node any
expect queue-show 0 '^1 +web-1 +02:00:00:00:00:01 +0 +0 +50%' -- queue show
jqok queue-show-json '.queues | length == 4 and .[0].vm == null and .[1].vm == "web-1" and .[1].packets == 1000000' -- queue show
jqok queue-show-one '.queues | length == 1 and .[0].queue == 3 and .[0].vm == "db"' -- queue show 3
jqok queue-show-vm '.queues | length == 1 and .[0].vm == "web-2"' -- queue show --vm web-2
expect queue-unknown 2 'unknown queue 42' -- queue show 42
expect queue-not-a-number 2 "queue show: queue wants a number, got 'x'" -- queue show x
expect queue-unknown-vm 2 "unknown VM 'nope'" -- queue show --vm nope
expect vm-show 0 '^batch +02:00:00:00:00:04 +0 +0 +0 \(default\)' -- vm show
expect vm-add 0 '^web-9 +02:00:00:00:00:09 +5 +40 +4 ' -- vm add web-9 --mac 02:00:00:00:00:09 --vlan 5 --weight 40 --port tap:vm9
jqok vm-show-json '.vms | length == 1 and .[0].port == "tap:vm9" and .[0].weight == 40 and .[0].vlan == 5' -- vm show web-9
jqok vm-set '.vm.weight == 0 and .vm.queue == 0' -- vm set web-9 --weight 0
expect vm-remove 0 "removed VM 'web-9'" -- vm remove web-9
expect vm-unknown 2 "unknown VM 'web-9'" -- vm remove web-9
expect vm-unknown-set 2 "unknown VM 'nope'" -- vm set nope --weight 3
expect vm-weight-range 2 'weight 101 is out of range 0..100' -- vm add x --mac 02:00:00:00:00:0a --port sink --weight 101
expect vm-vlan-range 2 'vlan 4095 is out of range 0..4094' -- vm add x --mac 02:00:00:00:00:0a --port sink --vlan 4095
expect vm-bad-mac 2 "bad MAC '02:00:zz:00:00:0a'" -- vm add x --mac 02:00:zz:00:00:0a --port sink
expect vm-missing-mac 2 "vm.add: missing argument 'mac'" -- vm add x --port sink
expect vm-exists 2 "VM 'db' exists" -- vm add db --mac 02:00:00:00:00:0b --port sink
expect vm-mac-taken 2 "MAC 02:00:00:00:00:03 on VLAN 0 belongs to VM 'db'" -- vm add x --mac 02:00:00:00:00:03 --port sink
expect vm-bad-port 2 "bad port 'frob' \(want tap:DEVICE, afpacket:DEVICE or sink\)" -- vm add x --mac 02:00:00:00:00:0a --port frob
if out=$("$ctl" --socket "$S" --json vm remove nope 2>/dev/null); [[ $? == 2 && $out == {* ]] &&
	jq -e '.ok == false and .error.code == "unknown-vm" and .error.message == "unknown VM '"'nope'"'"' <<<"$out" >/dev/null; then
	ok json-error-refused
else
	bad json-error-refused "$out"
fi
expect vm-set-nothing 2 'vm.set: nothing to set' -- vm set db
expect processor-show 0 '^0 +0 +0 +80% +80% +awake +0-2' -- processor show
jqok processor-show-json '.processors | length == 1 and .[0].processor == 2 and .[0].awake == false' -- processor show 2
expect processor-unknown 2 'unknown processor 9' -- processor show 9
expect policy-show 0 '^policy +adaptive' -- policy show
jqok policy-show-json '.policy == "adaptive" and .interval == "100ms" and .params.high == "90%" and .params.dwell == "1s"' -- policy show
jqok policy-set '.policy == "dynamic" and .params.high == "85%" and .interval == "200ms"' -- policy set dynamic high=85% interval=200ms
expect policy-unknown-param 2 "unknown parameter 'agility'" -- policy set agility=3
expect policy-out-of-range 2 'high=2: high must be above 0 and at most 100%' -- policy set high=2
expect policy-bad-value 2 "high: bad value 'lots'" -- policy set high=lots
expect policy-unknown-policy 2 "unknown policy 'fastest'" -- policy set fastest
expect policy-two-policies 2 'one POLICY only' -- policy set dynamic static
expect policy-nothing 2 'policy set: nothing to set' -- policy set
"$ctl" --socket "$S" policy set adaptive high=90% interval=100ms >/dev/null 2>&1
expect moves-none 0 '^no moves$' -- moves
expect stats 0 '^frames received +2000000' -- stats
jqok stats-json '.frames.received == 2000000 and .moves.total == 0 and (.queues | length) == 4' -- stats
# the data plane's fates (both directions balance), each VM's and each port's counters
expect stats-dataplane 0 '^uplink frames +1480: delivered 243, in flight 101, dropped 1136 \(runt 17,' -- stats
expect stats-ports 0 '^afpacket:fake0 +\(uplink\) +90001 +90003 +90005 +90006 +90007$' -- stats
jqok stats-dataplane-json '.dataplane.uplink.balanced and .dataplane.vms.balanced and
	.dataplane.uplink.dropped_by_reason.overflow == 74 and .dataplane.vms.dropped_by_reason["spoofed-mac"] == 50182 and
	(.vms | length) == 4 and (.vms | all(.sent.balanced)) and .vms[0].refused == 7 and
	(.ports | length) == 5 and .ports[0].vm == null and .ports[1].vm == "web-1" and .ports[1].rx_dropped == 1005' -- stats
expect vm-show-counters 0 '^web-1 .* 6343 +5185 +7 +1005 +1006$' -- vm show
jqok vm-show-counters-json '.vms[0].sent.dropped_by_reason["foreign-vlan"] == 308 and .vms[0].refused == 7 and .vms[0].port_stats.tx_dropped == 1006' -- vm show web-1
expect rebalance 0 'rebalanced: 1 move' -- rebalance
jqok moves-json '.moves | length == 1 and .[0].vm == "web-1" and .[0].from == 0 and .[0].to == 2 and .[0].reason == "spread"' -- moves
jqok moves-limit '.moves | length == 1' -- moves --limit 1
expect moves-limit-range 2 'limit 0 is out of range 1..10000' -- moves --limit 0
expect explain-vm 0 '^why: ' -- explain web-1
jqok explain-queue-json '.queue == 1 and .vm == "web-1" and .processor == 2 and (.rule | length) > 10 and (.moves | length) == 1' -- explain 1
expect explain-unknown-queue 2 'unknown queue 99' -- explain 99
expect explain-unknown-vm 2 "unknown VM 'nope'" -- explain nope
expect explain-missing 2 'explain: missing QUEUE\|VM' -- explain
expect top 0 '^PROCESSOR +CPU' -- top -n 1
if out=$("$ctl" --socket "$S" --json top -n 2 2>&1) && [[ $(wc -l <<<"$out") == 2 ]] &&
	jq -se 'length == 2 and all(.[]; .stats.frames.received > 0 and (.processors | length) == 4 and (.queues | length) == 4)' <<<"$out" >/dev/null; then
	ok top-json
else
	bad top-json "$out"
fi
expect top-zero 2 'top: -n wants a count of 1 or more' -- top -n 0
jqok call-raw '.vms | length == 4' -- call vm.show
expect call-unknown 2 "unknown command 'frobnicate'" -- call frobnicate
expect call-bad-args 2 "vm.show: 'name' must be a string" -- call vm.show '{"name":1}'
expect call-not-json 2 'call: JSON-ARGS must be a JSON object' -- call vm.show '[1]'
if DVMQ_SOCKET=$S "$ctl" version >/dev/null 2>&1; then ok env-socket; else bad env-socket "DVMQ_SOCKET ignored"; fi

# --follow: the moves so far, then each new one as it is made
"$ctl" --socket "$S" --json moves --follow >"$tmp/follow" 2>&1 &
fpid=$!
pids+=($fpid)
for _ in $(seq 100); do [[ -s $tmp/follow ]] && break; sleep 0.05; done
# every queue onto processor 0, then a rebalance spreads one
"$ctl" --socket "$S" adapter set --processors 0 >/dev/null && "$ctl" --socket "$S" adapter set --processors 0-3 >/dev/null &&
	"$ctl" --socket "$S" rebalance >/dev/null
for _ in $(seq 100); do [[ $(wc -l <"$tmp/follow") -ge 2 ]] && break; sleep 0.05; done
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
if [[ $(wc -l <"$tmp/follow") == 2 ]] && jq -se '.[0].seq == 1 and .[1].seq == 2 and .[1].reason == "spread"' "$tmp/follow" >/dev/null; then
	ok moves-follow
else
	bad moves-follow "$(cat "$tmp/follow")"
fi

# an operator's hand (after --follow: these make moves of their own)
jqok version-json '.version == "fake" and .dvmqctl == "'"$("$ctl" --version | cut -d' ' -f2)"'"' -- version
expect queue-set 0 '^queue 2 \(web-2\) pinned to processor 3 \(moved there\)$' -- queue set web-2 --processor 3
jqok queue-set-json '.queue.pinned == true and .queue.processor == 3 and .move == null' -- queue set 2 --processor 3
jqok queue-show-pinned '.queues[0].pinned == true' -- queue show 2
expect explain-pinned 0 'why: pinned to processor 3 by an operator' -- explain web-2
jqok explain-considered '(.considered | length) == 3 and all(.considered[]; .why | test("pinned"))' -- explain web-2
expect queue-set-auto 0 'handed back to the engine, on processor 3 for now' -- queue set web-2 --processor auto
expect queue-set-no-vmq 2 "VM 'batch' has no VMQ" -- queue set batch --processor 1
expect queue-set-unknown-processor 2 'unknown processor 7' -- queue set 1 --processor 7
jqok rebalance-dry-run '.dry_run == true and (.processors | length) == 4 and (.gain | type) == "number" and
	(.processors[0] | has("load_before") and has("load_after"))' -- rebalance --dry-run
expect rebalance-dry-run-table 0 '^plan' -- rebalance --dry-run
jqok processor-counters '.processors[0].counters | has("busy_s") and has("idle_s") and has("frames") and
	has("ns_per_frame") and has("ring_full") and has("wakeups")' -- processor show
expect processor-counters-table 0 'BUSY +IDLE +FRAMES +NS/FRAME +RING-FULL +WAKEUPS' -- processor show
expect stats-clear 0 '^frames received +0$' -- stats --clear
jqok history-json '(.rows | length) >= 1 and .processors == 4 and (.rows[0].load | length) == 4' -- history
expect history-table 0 '^PROCESSOR +MEAN +MAX +LAST' -- history
out=$("$ctl" --socket "$S" history --csv 2>&1)
[[ $(head -n 1 <<<"$out") == "time_s,p0,p1,p2,p3,q0,q1:web-1,q2:web-2,q3:db,q4,q5,q6,q7,q8,awake,drops_per_s,moves" ]] &&
	ok history-csv || bad history-csv "$out"
expect history-plot-bad-dir 2 'no directory /nonexistent' -- history --plot /nonexistent/h.png
if command -v gnuplot >/dev/null; then
	if "$ctl" --socket "$S" history --plot "$tmp/h.png" >/dev/null 2>&1 && [[ $(head -c 4 "$tmp/h.png" | od -An -c | tr -d ' ') == '211PNG' ]]; then
		ok history-plot
	else
		bad history-plot "no PNG at $tmp/h.png"
	fi
else
	skip history-plot "gnuplot is not installed"
fi
expect config-show 0 '^\[vm web-1\]$' -- config show
expect config-diff-same 0 'no difference' -- config diff
"$ctl" --socket "$S" vm set db --weight 50 >/dev/null
expect config-diff 0 '^  vm db changed: weight 50 -> 100$' -- config diff
jqok config-diff-json '.same == false and .changes == ["vm db changed: weight 50 -> 100"]' -- config diff
"$ctl" --socket "$S" vm set db --weight 100 >/dev/null
O=$tmp/old.sock
if start_fake "$O" --frozen --minimal; then
	out=$("$ctl" --socket "$O" queue set 1 --processor 1 2>&1)
	rc=$?
	[[ $rc == 2 && $out == *"this daemon cannot pin queues"* ]] && ok older-daemon-unsupported ||
		bad older-daemon-unsupported "exit $rc: $out"
else
	bad older-daemon-unsupported "the minimal fake did not start"
fi
# VMMQ: max-queues 2 gives web-1 a second queue (the fake's: its odd buckets), the group and its
# indirection table in `vm show`, each queue's place in `queue show`; then back to one
jqok vm-set-max-queues '.vm.max_queues == 2 and (.vm.group.queues | length) == 2 and (.vm.group.table | length) == 128' -- vm set web-1 --max-queues 2
expect vm-show-group 0 'queue group \(VMMQ\): 2 of up to 2 queues, 64 bucket moves so far' -- vm show web-1
expect vm-show-group-queue 0 '^  queue 1 on processor [0-9]+: 64 buckets' -- vm show web-1
expect vm-show-table 0 '^  120: +1@[0-9]+ +[0-9.]+% +[0-9]+@' -- vm show web-1
expect queue-show-group 0 '^1 +web-1 .* 1/2 \(64 buckets\)$' -- queue show --vm web-1
expect vm-set-max-queues-range 2 'max_queues 17 is out of range' -- vm set web-1 --max-queues 17
jqok vm-set-max-queues-back '.vm.max_queues == 1 and (.vm.group.queues | length) == 1' -- vm set web-1 --max-queues 1
if out=$("$ctl" --socket "$S" vm show web-1 2>&1) && ! grep -q 'queue group' <<<"$out"; then ok vm-show-no-group; else bad vm-show-no-group "$out"; fi

# the bash completion, as bash calls it
complete_words() { # complete_words WORD... : the COMPREPLY for completing the last word
	bash -c 'PATH='"$b/src/cli"':$PATH; source dist/dvmqctl.bash; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1));
		_dvmqctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
got=$(complete_words dvmqctl v | tr '\n' ' ')
[[ $got == "vm version " ]] && ok complete-commands || bad complete-commands "'$got'"
got=$(complete_words dvmqctl vm r | tr '\n' ' ')
[[ $got == "remove " ]] && ok complete-verbs || bad complete-verbs "'$got'"
got=$(complete_words dvmqctl --socket "$S" vm remove w | tr '\n' ' ')
[[ $got == "web-1 web-2 " ]] && ok complete-vm-names || bad complete-vm-names "'$got'"
got=$(complete_words dvmqctl vm add x --w | tr '\n' ' ')
[[ $got == "--weight " ]] && ok complete-options || bad complete-options "'$got'"
got=$(complete_words dvmqctl policy set hi | tr '\n' ' ')
[[ $got == "high= " ]] && ok complete-params || bad complete-params "'$got'"

# the metrics page: promtool, and every counter equal to stats --json (the daemon is frozen)
port=$(cat "$tmp/port")
if ! curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/metrics"; then
	bad metrics-page "no page on port $port"
elif ! command -v promtool >/dev/null; then
	skip metrics-promtool "promtool is not installed (apt-get install prometheus)"
elif out=$(promtool check metrics <"$tmp/metrics" 2>&1) && [[ -z $out ]]; then
	ok metrics-promtool
else
	bad metrics-promtool "$out"
fi
"$ctl" --socket "$S" --json stats >"$tmp/stats.json"
jq -r '(.queues[] | . as $q | (if .vm then "vm=\"\(.vm)\"," else "" end) as $vm |
		"dvmq_queue_packets_total{\($vm)queue=\"\($q.queue)\"} \($q.packets)",
		"dvmq_queue_bytes_total{\($vm)queue=\"\($q.queue)\"} \($q.bytes)",
		"dvmq_queue_moves_total{\($vm)queue=\"\($q.queue)\"} \($q.moves)",
		($q.drops | to_entries[] | "dvmq_queue_drops_total{\($vm)queue=\"\($q.queue)\",reason=\"\(.key)\"} \(.value)")),
	"dvmq_frames_received_total \(.frames.received)", "dvmq_frames_delivered_total \(.frames.delivered)",
	(.moves.by_reason | to_entries[] | "dvmq_moves_total{reason=\"\(.key)\"} \(.value)"),
	"dvmq_pingpongs_total \(.pingpongs)", "dvmq_single_queue_overloads_total \(.single_queue_overloads)",
	"dvmq_engine_plan_seconds_count \(.plan.rounds)",
	(.dataplane.uplink | (.delivered | to_entries[] | "dvmq_uplink_delivered_total{path=\"\(.key)\"} \(.value)"),
		(.dropped_by_reason | to_entries[] | "dvmq_uplink_drops_total{reason=\"\(.key)\"} \(.value)"),
		"dvmq_uplink_in_flight_frames \(.in_flight)", "dvmq_uplink_flood_refused_total \(.flood.refused)"),
	(.dataplane.vms | "dvmq_vms_sent_frames_total \(.received)",
		(.forwarded | to_entries[] | "dvmq_vms_forwarded_total{to=\"\(.key)\"} \(.value)"),
		(.dropped_by_reason | to_entries[] | "dvmq_vms_drops_total{reason=\"\(.key)\"} \(.value)")),
	(.vms[] | . as $v | "vm=\"\(.vm)\"" as $l | "dvmq_vm_sent_frames_total{\($l)} \(.sent.received)",
		"dvmq_vm_refused_total{\($l)} \(.refused)",
		(.sent.forwarded | to_entries[] | "dvmq_vm_forwarded_total{\($l),to=\"\(.key)\"} \(.value)"),
		(.sent.dropped_by_reason | to_entries[] | "dvmq_vm_drops_total{\($l),reason=\"\(.key)\"} \(.value)")),
	(.ports[] | (if .vm then ",vm=\"\(.vm)\"" else "" end) as $vm | "{port=\"\(.port)\"\($vm)}" as $l |
		"dvmq_port_rx_packets_total\($l) \(.rx_packets)", "dvmq_port_tx_packets_total\($l) \(.tx_packets)",
		"dvmq_port_rx_bytes_total\($l) \(.rx_bytes)", "dvmq_port_tx_bytes_total\($l) \(.tx_bytes)",
		"dvmq_port_rx_dropped_total\($l) \(.rx_dropped)", "dvmq_port_tx_dropped_total\($l) \(.tx_dropped)",
		"dvmq_port_link_events_total\($l) \(.link_events)")' "$tmp/stats.json" >"$tmp/want"
missing=$(grep -vxFf "$tmp/metrics" "$tmp/want")
# the data plane's and ports' counters are in the comparison (a stats without them cannot pass)
ndp=$(grep -c '^dvmq_\(uplink\|vms\?\|port\)_' "$tmp/want")
if [[ -s $tmp/want && -z $missing && $(wc -l <"$tmp/want") -ge 20 && $ndp -ge 100 ]]; then
	ok metrics-counters-match-stats
else
	bad metrics-counters-match-stats "$ndp data plane/port counters; not on the page: $missing"
fi

# a daemon that fails is exit 1; one that never answers too
F=$tmp/fail.sock
if start_fake "$F" --fail; then
	out=$("$ctl" --socket "$F" vm remove web-1 2>&1)
	rc=$?
	[[ $rc == 1 && $out == *"the daemon failed: "* ]] && ok daemon-failed || bad daemon-failed "exit $rc: $out"
else
	bad daemon-failed "the failing fake did not start"
fi
M=$tmp/mute.sock
python3 -c "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); c=s.accept(); time.sleep(30)" "$M" &
pids+=($!)
for _ in $(seq 100); do [[ -S $M ]] && break; sleep 0.05; done
out=$("$ctl" --socket "$M" --timeout 0.3 stats 2>&1)
rc=$?
[[ $rc == 1 && $out == *"did not answer within 0.3 s"* ]] && ok daemon-silent || bad daemon-silent "exit $rc: $out"

# permission denied on the socket (root passes file modes: run as nobody then)
if [[ $(id -u) == 0 ]]; then
	if command -v setpriv >/dev/null; then
		out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl" --socket "$S" stats 2>&1)
		rc=$?
		[[ $rc == 2 && $out == *"permission denied on $S"* ]] && ok permission-denied || bad permission-denied "exit $rc: $out"
	else
		skip permission-denied "setpriv (util-linux) is missing"
	fi
else
	chmod 000 "$S"
	expect permission-denied 2 "permission denied on $S" -- stats
	chmod 660 "$S"
fi

# SIGTERM: the daemon removes its socket and exits 0 (a sanitizer's report would change that)
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
rc=$?
if [[ ! -e $S && $rc == 0 ]] && ! grep -q 'Sanitizer' "$tmp/fake.log"; then
	ok socket-removed-on-sigterm
else
	bad socket-removed-on-sigterm "exit $rc, socket $(ls "$S" 2>&1): $(cat "$tmp/fake.log")"
fi
finish
