# Benchmarks (issue 6): `make bench`, as root. Real servers, real load, every
# figure measured side by side in one run; writes bench/results.json.
# Never part of `make test`: timings are not assertions. BENCH_QUICK=1 for
# short durations while developing. build/profile/sessiontrace is the
# tracer with BPF's stage profile compiled in (-DST_PROFILE): where a hit's
# BPF time goes.
.PHONY: bench

bench:
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory OUT=build/profile BPF_DEFS=-DST_PROFILE build/profile/sessiontrace
	$(Q)/usr/bin/python3 bench/run.py
