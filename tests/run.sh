#!/bin/bash
# run.sh BUILD_DIR... — every suite in every build (normal, sanitizers); one total line at the end.
# A ThreadSanitizer build (its directory name contains "tsan") runs the threaded suites: the data
# plane, the captures, the kernel ports, the control socket and metrics page, dvmqctl, the daemon
# (`dvmq run --config`: commands, reload, stop, concurrent clients), and `dvmq run` usage checks
# (its end-to-end runs are timing-bound and too slow under TSan's 5-15x). The ASan build runs
# everything but those end-to-end runs too: their outcome depends on how fast frames are
# processed, which the sanitizers change.
set -u
cd "$(dirname "$0")/.."
total_pass=0
total_fail=0
total_skip=0
for b in "$@"; do
	if [[ $b == *tsan* ]]; then
		suites=("$b/tests/dvmq-tests dp_ pcap_ ctl_ port_" "env DVMQ_RUN_E2E=0 tests/cli/test_cli.sh $b/src/cli/dvmq"
			"tests/cli/test_dvmqctl.sh $b" "tests/cli/test_daemon.sh $b")
	else
		e2e=1
		[[ $b == *asan* ]] && e2e=0
		suites=("$b/tests/dvmq-tests" "env DVMQ_RUN_E2E=$e2e tests/cli/test_cli.sh $b/src/cli/dvmq"
			"$b/tests/fuzz-replay fuzz/corpus" "$b/tests/fuzz-replay-ctl fuzz/corpus-ctl" "tests/cli/test_dvmqctl.sh $b" "tests/cli/test_daemon.sh $b"
			"tests/cli/test_config.sh $b/src/cli/dvmq" "$b/tests/fuzz-replay-config fuzz/corpus-config"
			"$b/tests/fuzz-frame-replay fuzz/corpus-frame" "$b/tests/fuzz-switch-replay fuzz/corpus-switch")
		# make install / make deb from the normal build (what a user installs)
		((e2e)) && suites+=("tests/cli/test_install.sh $b")
		# the benchmarks' frame sender (root: a veth pair in a namespace of its own)
		((e2e)) && suites+=("tests/cli/test_blast.sh $b")
		# real traffic through dvmq between network namespaces (root; iperf3, tcpdump, tcpreplay)
		((e2e)) && suites+=("tests/integ/e2e/run_all.sh $b")
		# kernel mode: 10,000 ordered moves under traffic through a bridge (queues, then VMMQ
		# buckets); the daemon's maps on SIGHUP, and a clean uplink after SIGTERM and kill -9 (root)
		((e2e)) && suites+=("tests/integ/kdp/test_moves.sh $b" "env KDP_BUCKETS=1 tests/integ/kdp/test_moves.sh $b"
			"tests/integ/kdp/test_daemon.sh $b")
	fi
	for suite in "${suites[@]}"; do
		echo "== $b: ${suite%% *}"
		out=$($suite 2>&1)
		rc=$?
		echo "$out" | grep -v '^ok  '
		line=$(echo "$out" | tail -n 1)
		if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
			total_pass=$((total_pass + BASH_REMATCH[1]))
			total_fail=$((total_fail + BASH_REMATCH[2]))
			total_skip=$((total_skip + BASH_REMATCH[3]))
			((rc != 0 && BASH_REMATCH[2] == 0)) && total_fail=$((total_fail + 1))
		else
			echo "suite did not finish (exit $rc)"
			total_fail=$((total_fail + 1))
		fi
	done
done
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
((total_skip > 0)) && echo "(skipped tests did not run: each 'skip' line above says why)"
((total_fail == 0))
