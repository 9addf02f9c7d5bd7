#!/bin/bash
# run_all.sh [BUILD_DIR] — every end-to-end test here, one after the other, their lines passed
# through and one closing "N passed, N failed, N skipped" for tests/run.sh. E2E_MODE=dvmq (the
# default: dvmq from BUILD_DIR, default build/) or bridge (the same tests against a Linux bridge:
# checks the tests and the topology themselves). A test that ends without its closing line
# counts as one failure.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
export E2E_BUILD=${1:-${E2E_BUILD:-$dir/../../../build}}
E2E_MODE=${E2E_MODE:-dvmq}
E2E_BUILD=$(cd "$E2E_BUILD" && pwd)
p=0 f=0 s=0
# kernel mode (issue 14): the traffic checks again on the host's bridges with dvmq steering them,
# then its own (test_kernel*.sh set E2E_MODE=kernel themselves); each skips while dvmq has no
# kernel mode, with dvmq's reason
# rtc:move: the moves again with --run-to-completion (processor 1's queues on the uplink thread)
for t in traffic replay move rtc:move spoof faults xdpclean devices netns_tap kernel:traffic kernel kernel_life kernel_vmmq; do
	mode=$E2E_MODE
	export E2E_RUN_ARGS=
	if [[ $t == rtc:* ]]; then
		t=${t#rtc:}
		[[ $E2E_MODE != dvmq ]] && continue
		E2E_RUN_ARGS=--run-to-completion
	elif [[ $t == kernel:* ]]; then
		mode=kernel
		t=${t#kernel:}
		[[ ${E2E_MODE:-dvmq} != dvmq ]] && continue # once, beside the default mode's run
	fi
	out=$(E2E_MODE=$mode "$dir/test_$t.sh" 2>&1)
	rc=$?
	echo "$out" | sed '$d'
	line=$(echo "$out" | tail -n 1)
	if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		p=$((p + BASH_REMATCH[1])) f=$((f + BASH_REMATCH[2])) s=$((s + BASH_REMATCH[3]))
		((rc != 0 && BASH_REMATCH[2] == 0)) && f=$((f + 1))
	else
		echo "FAIL e2e-$t: did not finish (exit $rc): $line"
		f=$((f + 1))
	fi
done
echo "$p passed, $f failed, $s skipped"
((f == 0))
