#!/bin/sh
# Run libFuzzer targets one after the other, each for SECONDS:
#   tests/fuzz/run.sh SECONDS build/fuzz/fuzz_a build/fuzz/fuzz_b ...
# Inputs: FUZZ_DIR (default build/fuzz) holds corpus/<name>/ (the seeds from
# seeds.py, read only), work/<name>/ (what the fuzzer adds, kept between
# runs), crashes/ (reproducers: crash-*, leak-*, timeout-*, oom-*, prefixed
# with the target name) and logs/<name>.log. Every target runs even after a
# failure; prints one summary line per target and exits non-zero if any
# found a crash (ASan, UBSan, a failed property, a leak, a timeout > 10 s,
# more than 2 GB of memory) or could not run.
set -u

secs=$1
shift
dir=${FUZZ_DIR:-build/fuzz}
mkdir -p "$dir/crashes" "$dir/logs"
failed=0
summary=""

for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	seeds=$dir/corpus/$name
	work=$dir/work/$name
	log=$dir/logs/$name.log
	mkdir -p "$work"
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		echo "FAILED: fuzz_$name: no seed corpus in $seeds"
		failed=$((failed + 1))
		continue
	fi
	case $name in
	elfsym|report|pyobj) maxlen=65536 ;;
	*) maxlen=8192 ;;
	esac
	before=$(ls "$dir/crashes" | wc -l)
	# UBSan: every report is fatal (the binaries also use -fno-sanitize-recover)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$maxlen \
		-print_final_stats=1 -artifact_prefix="$dir/crashes/$name-" \
		"$work" "$seeds" >"$log" 2>&1
	rc=$?
	after=$(ls "$dir/crashes" | wc -l)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 |
		sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\)\/.*/cov \1, ft \2, corpus \3/p')
	line="fuzz_$name: ${secs}s, ${execs:-?} execs, ${cov:-cov ?}"
	if [ "$rc" -ne 0 ] || [ "$after" -ne "$before" ]; then
		line="$line: FAILED (exit $rc), see $log"
		for f in $(ls -t "$dir/crashes" | head -n $((after - before))); do
			line="$line
    reproduce: $bin $dir/crashes/$f"
		done
		failed=$((failed + 1))
	else
		line="$line, 0 crashes"
	fi
	echo "$line"
	summary="$summary$line
"
done

printf '%s' "$summary" >"$dir/logs/summary.txt"
[ "$failed" -eq 0 ]
