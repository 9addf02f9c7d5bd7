# Sourced by the shell test scripts: one line per check ("ok   NAME", "FAIL NAME: why",
# "skip NAME: why") and the closing "N passed, N failed, N skipped" that tests/run.sh counts.
pass=0
fail=0
skipped=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
skip() { echo "skip $1: $2"; skipped=$((skipped + 1)); }
# finish: the closing line; the script's exit status says whether anything failed
finish() {
	echo "$pass passed, $fail failed, $skipped skipped"
	((fail == 0))
}
