# Benchmarks (issue 6): `make bench`, as root. Real servers, real load, every
# figure measured side by side in one run; writes bench/results.json.
# Never part of `make test`: timings are not assertions. BENCH_QUICK=1 for
# short durations while developing.
.PHONY: bench

bench:
	$(Q)$(MAKE) --no-print-directory all
	$(Q)/usr/bin/python3 bench/run.py
