"""Raise and catch ValueError in a tight loop; print one line per batch of
about 50 ms: "<batch end, time.monotonic()> <raises> <ns per raise>". The
benchmark attaches and detaches the tracer by pid while this runs and keeps
the batches that fall entirely inside each phase.
"""
import sys
import time

CHUNK = 1000
BATCH_NS = 50_000_000


def main() -> None:
    out = sys.stdout
    while True:
        n = 0
        t0 = time.perf_counter_ns()
        while True:
            for _ in range(CHUNK):
                try:
                    raise ValueError("bench")
                except ValueError:
                    pass
            n += CHUNK
            t1 = time.perf_counter_ns()
            if t1 - t0 >= BATCH_NS:
                break
        out.write(f"{time.monotonic():.6f} {n} {(t1 - t0) / n:.1f}\n")
        out.flush()


if __name__ == "__main__":
    main()
