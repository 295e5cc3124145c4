#!/bin/bash
# Run libFuzzer targets, each for SECONDS, FUZZ_JOBS (default: the CPUs) at a time:
#   tests/fuzz/run.sh SECONDS build/fuzz/fuzz_a build/fuzz/fuzz_b ...
# Inputs: FUZZ_DIR (default build/fuzz) holds corpus/<name>/ (the seeds from
# seeds.py, read only), work/<name>/ (what the fuzzer adds, kept between
# runs), crashes/ (reproducers: crash-*, leak-*, timeout-*, oom-*, prefixed
# with the target name) and logs/<name>.log. Every target runs even after a
# failure; prints one summary line per target, in the order given, and exits non-zero if any
# found a crash (ASan, UBSan, a failed property, a leak, a timeout > 10 s,
# more than 2 GB of memory) or could not run.
set -u

secs=$1
shift
dir=${FUZZ_DIR:-build/fuzz}
mkdir -p "$dir/crashes" "$dir/logs"
jobs=${FUZZ_JOBS:-$(nproc)}

# One target: its summary line in logs/NAME.line; logs/NAME.failed when it failed.
run_one() {
	local bin=$1 name seeds work log maxlen rc found execs cov line f
	name=$(basename "$bin")
	name=${name#fuzz_}
	seeds=$dir/corpus/$name
	work=$dir/work/$name
	log=$dir/logs/$name.log
	rm -f "$dir/logs/$name.line" "$dir/logs/$name.failed"
	mkdir -p "$work"
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		echo "fuzz_$name: FAILED: no seed corpus in $seeds" >"$dir/logs/$name.line"
		touch "$dir/logs/$name.failed"
		return
	fi
	case $name in
	elfsym|report|pyobj) maxlen=65536 ;;
	*) maxlen=8192 ;;
	esac
	# reproducers are named after their target: a new one is this target's
	find "$dir/crashes" -name "$name-*" >"$dir/logs/$name.before"
	# UBSan: every report is fatal (the binaries also use -fno-sanitize-recover)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$maxlen \
		-print_final_stats=1 -artifact_prefix="$dir/crashes/$name-" \
		"$work" "$seeds" >"$log" 2>&1
	rc=$?
	found=$(find "$dir/crashes" -name "$name-*" | sort | comm -13 <(sort "$dir/logs/$name.before") -)
	rm -f "$dir/logs/$name.before"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 |
		sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\)\/.*/cov \1, ft \2, corpus \3/p')
	line="fuzz_$name: ${secs}s, ${execs:-?} execs, ${cov:-cov ?}"
	if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
		line="$line: FAILED (exit $rc), see $log"
		for f in $found; do
			line="$line
    reproduce: $bin $f"
		done
		touch "$dir/logs/$name.failed"
	else
		line="$line, 0 crashes"
	fi
	echo "$line" >"$dir/logs/$name.line"
}

running=0
for bin in "$@"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$bin" &
	running=$((running + 1))
done
wait

failed=0
summary=""
for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	line=$(cat "$dir/logs/$name.line" 2>/dev/null || echo "fuzz_$name: FAILED: did not run")
	[ -e "$dir/logs/$name.failed" ] || [ ! -e "$dir/logs/$name.line" ] && failed=$((failed + 1))
	echo "$line"
	summary="$summary$line
"
done

printf '%s' "$summary" >"$dir/logs/summary.txt"
[ "$failed" -eq 0 ]
