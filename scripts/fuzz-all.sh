#!/bin/bash
# fuzz-all.sh [--seeds] [SECONDS] — every libFuzzer target of build-fuzz (make fuzz-all), one after
# the other, SECONDS each (default 60): the scenario parser, the control protocol, the host
# configuration, the frame parser and the switch decision. New inputs go to build-fuzz/corpus*
# (the seeds in fuzz/ stay as they are); a crash, leak, timeout or out-of-memory input goes to
# build-fuzz/findings/TARGET/ and makes the whole run fail (after every target ran). A finding,
# once fixed, belongs in the target's seed corpus (fuzz/corpus*), which make test replays.
# One line per target: executions, executions per second, coverage (libFuzzer's cov: edges and
# ft: features), corpus size and findings.
# --seeds: run each target over its seed corpus only (-runs=0): make test's check that the
# clang build of the targets works, a few seconds, no campaign (its findings and logs apart, in
# build-fuzz/seeds/, so that it can run beside a campaign). FUZZ_BUILD: another build directory.
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=0
[[ ${1:-} == --seeds ]] && { seeds=1; shift; }
secs=${1:-60}
fb=${FUZZ_BUILD:-build-fuzz}
if [[ ! $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
	echo "fuzz-all: SECONDS must be a positive whole number, not '$secs'" >&2
	exit 2
fi
# target  seed corpus  work corpus (in the build directory)  max_len
targets=(
	"fuzz_scenario fuzz/corpus corpus 65536"
	"fuzz_ctl fuzz/corpus-ctl corpus-ctl 70000"
	"fuzz_config fuzz/corpus-config corpus-config 65536"
	"fuzz_frame fuzz/corpus-frame corpus-frame 9100"
	"fuzz_switch fuzz/corpus-switch corpus-switch 70000"
)
bad=0
for t in "${targets[@]}"; do
	read -r name seed work max_len <<<"$t"
	bin=$fb/fuzz/$name
	if [[ ! -x $bin ]]; then
		echo "$name: not built ($bin): ninja -C $fb fuzz/$name" >&2
		bad=1
		continue
	fi
	out=$fb
	((seeds)) && out=$fb/seeds
	work=$fb/$work
	found=$out/findings/$name # this run's, so emptied first
	rm -rf "$found"
	mkdir -p "$work" "$found"
	log=$out/$name.log
	if ((seeds)); then
		"$bin" -runs=0 -max_len="$max_len" -timeout=10 -artifact_prefix="$found/" "$seed" >"$log" 2>&1
	else
		"$bin" -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$found/" "$work" "$seed" >"$log" 2>&1
	fi
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	[[ -z $execs ]] && execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	last=$(grep -E '#[0-9]+.*cov: ' "$log" | tail -n 1)
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
	n_found=$(find "$found" -type f | wc -l)
	printf '%-14s %s %s execs%s, cov %s, ft %s, corpus %s, findings %s\n' "$name" \
		"$( ((seeds)) && echo seeds || echo "${secs}s")" "${execs:-?}" "${speed:+ ($speed/s)}" "${cov:-?}" \
		"${ft:-?}" "${corp:-?}" "$n_found"
	if ((rc != 0 || n_found > 0)); then
		bad=1
		echo "$name: FINDING (exit $rc): $(grep -m1 -E 'ERROR|==[0-9]+==|deadly signal|timeout' "$log" | head -c 300)"
		echo "  log: $log; inputs: $found/"
	fi
done
exit $bad
