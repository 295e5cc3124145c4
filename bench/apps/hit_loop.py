"""Fail the session assertion at a steady rate from a known stack depth,
without a server: python3.11 hit_loop.py DEPTH RATE

Starts failing after a line on stdin; the benchmark stops it with SIGSTOP
before reading the BPF counters, so that every run of the session is in
the measured window.

Reads request.session on a Starlette Request (no SessionMiddleware ran, so it
raises) DEPTH Python frames below the module, RATE times a second, and
catches the AssertionError in the calling frame: each read is exactly one
probe run and one captured hit, so BPF time per hit is run_time / run_cnt.
The scope has the keys uvicorn and FastAPI put in a real one.
"""
import sys
import time

from starlette.requests import Request

SCOPE = {
    "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
    "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 43210), "scheme": "http",
    "method": "GET", "root_path": "", "path": "/hit/loop", "raw_path": b"/hit/loop",
    "query_string": b"", "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")],
    "state": {}, "app": object(), "fastapi_astack": None, "router": None,
    "endpoint": None, "path_params": {}, "route": None,
}


def loop(request: Request, rate: float) -> None:
    period = 1.0 / rate
    due = time.monotonic()
    while True:
        try:
            request.session
        except AssertionError:
            pass
        due += period
        left = due - time.monotonic()
        if left > 0:
            time.sleep(left)
        elif left < -1.0:
            due = time.monotonic()  # fell behind (a slow phase): do not burst


def down(n: int, request: Request, rate: float) -> None:
    if n:
        return down(n - 1, request, rate)
    sys.stdin.readline()  # the benchmark says go once the tracer is attached
    return loop(request, rate)


if __name__ == "__main__":
    down(int(sys.argv[1]), Request(SCOPE), float(sys.argv[2]))
