"""Not a server: threads that read request.session of a Request built by
hand (issue 23), to trace threads the watch trigger must cover. Commands on
stdin, one per line; results as one JSON line on stdout.

argv: RESIDENTS (default 6) threads wait from the start, alive before any
tracer attaches, behind a spawner thread created first; then it prints
``ready PID``.

* ``churn``  (3.14+) the spawner polls the time one read of the slot the
             watch trigger's breakpoint goes on takes (found beside
             NotImplementedError in the interpreter's common constants); the
             read that takes a debug exception, i.e. the spawner's own event
             is armed, starts a burst of BURST (argv[2], default 20) threads:
             threads created by a thread the tracer watches already while it
             is still opening the events of the residents
* ``go``     every waiting thread reads ``.session`` once (path
             ``/resident/I`` or ``/burst/J``); then a new thread creates a
             thread that reads it (``/nested``); prints
             ``{"reads": {path: tid, ...}, "slot_reads": N}`` when all are done
             (N: the spawner's reads of the slot)
* ``exit``   ends
"""
import ctypes
import json
import os
import sys
import threading
import time

from starlette.requests import Request

go = threading.Event()
churn = threading.Event()
leaving = threading.Event()
lock = threading.Lock()
reads = {}
threads = []
slot_reads = 0


def read_session(path):
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    request = Request(scope)
    try:
        request.session  # st-access: read_session
    except AssertionError:
        with lock:
            reads[path] = threading.get_native_id()


def waiter(path):
    go.wait()
    read_session(path)


def start(path):
    t = threading.Thread(target=waiter, args=(path,))
    t.start()
    threads.append(t)


def assertion_slot():
    """interp->common_consts[CONSTANT_ASSERTIONERROR]: AssertionError, then
    NotImplementedError, within the main interpreter's first 256 KiB."""
    api = ctypes.pythonapi
    api.PyInterpreterState_Main.restype = ctypes.c_void_p
    interp = api.PyInterpreterState_Main()
    words = (ctypes.c_uint64 * (32768)).from_address(interp)
    a, n = id(AssertionError), id(NotImplementedError)
    for i in range(len(words) - 1):
        if words[i] == a and words[i + 1] == n:
            return interp + 8 * i
    raise SystemExit("no common_consts slot found")


def spawner(burst, slot):
    global slot_reads
    churn.wait()
    if leaving.is_set():
        return
    word = ctypes.c_uint64.from_address(slot)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        best = None
        for _ in range(3):  # the fastest of three: a debug exception costs microseconds
            t0 = time.perf_counter_ns()
            word.value
            dt = time.perf_counter_ns() - t0
            best = dt if best is None else min(best, dt)
        slot_reads += 3
        if best > 8000:
            break
        time.sleep(0.0002)
    for j in range(burst):
        start(f"/burst/{j}")


def nested():
    inner = threading.Thread(target=read_session, args=("/nested",))
    inner.start()
    inner.join()


def main():
    residents = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    burst = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    sp = None
    if sys.version_info >= (3, 14):
        sp = threading.Thread(target=spawner, args=(burst, assertion_slot()))
        sp.start()
    for i in range(residents):
        start(f"/resident/{i}")
    print("ready", os.getpid(), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "churn":
            churn.set()
        elif cmd == "go":
            if sp and churn.is_set():
                sp.join()
            go.set()
            for t in list(threads):
                t.join()
            outer = threading.Thread(target=nested)
            outer.start()
            outer.join()
            print(json.dumps({"reads": reads, "slot_reads": slot_reads}), flush=True)
        elif cmd == "exit":
            leaving.set()
            churn.set()
            return


main()
