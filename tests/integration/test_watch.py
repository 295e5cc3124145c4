"""The watch trigger (issue 23): from Python 3.14 a failing ``assert`` runs
``LOAD_COMMON_CONSTANT 0``, the only code that reads the main interpreter's
``common_consts[CONSTANT_ASSERTIONERROR]``; ``-P auto`` puts a hardware data
breakpoint on that slot, one perf event per thread (inherited by the threads
each creates), running the ``watch_probe`` BPF program.

Oracles: the kernel's own run counts of every probe program a target can
trigger (bpf_stats), the threads the target itself reports, and the debug
registers and seccomp policy the tests set up themselves (hwbp.py).
"""
import errno
import json
import os
import subprocess

import pytest

import hwbp
from conftest import (APPS, INTERPRETERS, SESSION_MESSAGE, TRACER_BIN, access_line,  # noqa: F401
                      app_file, bpf_stats, http_request, kernel_runs, thread_ids)

WATCHED = ["sid-3.14", "sid-3.15"]


@pytest.fixture(params=WATCHED, ids=WATCHED)
def winterp(request):
    reason = hwbp.unavailable_reason()
    if reason:
        pytest.skip(reason)
    return INTERPRETERS[request.param].require()


def failing_gets(server, paths):
    for p in paths:
        assert http_request(server.port, p).status == 500, p


@pytest.mark.parametrize("app", ["watch_fastapi", "watch_starlette"])
def test_watch_healthy_zero_runs(winterp, app, tracers, servers, bpf_stats):
    """Healthy requests raise in Python (environ lookups; BaseHTTPMiddleware's
    streams): do_raise runs on them. The watch trigger runs for none of 500,
    by the kernel's count of every probe program; then N failing requests
    give N runs and exactly N records."""
    winterp.require_module(app)
    s = servers.start(winterp, app)
    # the healthy path does raise: the do_raise probe (-P assert from 3.14) runs on it
    t = tracers.start([s], extra=["--probe", "assert"])
    before = kernel_runs(t.pid)
    for _ in range(20):
        assert http_request(s.port, "/ok").status == 200
    raises = kernel_runs(t.pid) - before
    assert t.stop() == []
    assert raises >= 2 * 20, f"{app}: only {raises} do_raise runs for 20 healthy requests"

    t = tracers.start([s])  # -P auto
    assert t.wait_attached(s.pid, winterp.tracer_version) == "watch"
    before = kernel_runs(t.pid)
    for _ in range(500):
        assert http_request(s.port, "/ok").status == 200
    assert kernel_runs(t.pid) - before == 0  # 0 runs for 500 healthy requests
    paths = [f"/fail/{i}" for i in range(5)]
    failing_gets(s, paths)
    t.wait_records(len(paths))
    assert kernel_runs(t.pid) - before == len(paths)
    records = t.stop()
    assert [r["request"]["path"] for r in records] == paths
    tag = "ReadsSessionOnFail.__call__" if app == "watch_fastapi" else "AuthOnFail.dispatch"
    for r in records:
        assert r["exception"] == {"type": "AssertionError", "message": SESSION_MESSAGE}
        assert r["accessor"] == {"function": tag, "file": app_file(app),
                                 "line": access_line(app, tag)}, r["accessor"]
        assert r["cause"] == "middleware_order", r["cause"]
        assert r["tid"] == s.pid
    sm = t.summary()
    assert sm["runs"] == sm["hits"] == sm["records"] == len(paths), sm


def test_watch_sync_endpoint_new_thread(winterp, tracers, servers):
    """A sync endpoint runs in an anyio worker thread that does not exist
    when the tracer attaches (the server has served no request: its event
    loop thread, and uvloop's libuv workers where uvloop is installed): the
    event it inherits from the thread that created it records the failure,
    with the worker's tid; the event loop thread's own event records the
    async one."""
    s = servers.start(winterp, "endpoints", http_ready=False)  # no request served yet
    t = tracers.start([s])
    before = thread_ids(s.pid)
    assert t.wait_attached(s.pid, winterp.tracer_version) == "watch"
    failing_gets(s, ["/sync/1", "/async/2", "/sync/3"])
    t.wait_records(3)
    workers = thread_ids(s.pid) - before
    records = t.stop()
    assert [r["request"]["path"] for r in records] == ["/sync/1", "/async/2", "/sync/3"]
    by_path = {r["request"]["path"]: r for r in records}
    assert by_path["/async/2"]["tid"] == s.pid
    for p in ("/sync/1", "/sync/3"):
        assert by_path[p]["tid"] in workers, (p, by_path[p]["tid"], workers)
        assert by_path[p]["accessor"]["function"] == "sync_endpoint"
    sm = t.summary()
    assert sm["runs"] == sm["records"] == 3, sm


def run_threads(winterp, tracers, tmp_path, residents, churn):
    """tests/apps/watch_threads.py traced after it started: its residents
    (and a spawner) alive before the tracer, with churn a burst of threads
    created by the spawner as soon as its event is armed, then one nested
    thread. Returns (app output, records, summary, threads alive before the
    tracer started)."""
    p = subprocess.Popen(winterp.argv() + [str(APPS / "watch_threads.py"), str(residents), "20"],
                         env=winterp.env(), cwd=str(APPS), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        word, pid = p.stdout.readline().split()
        assert word == "ready"
        pid = int(pid)
        before = thread_ids(pid)
        assert len(before) == residents + 2, before  # main, spawner, residents
        if churn:
            p.stdin.write("churn\n")
            p.stdin.flush()
        jpath = tmp_path / f"threads-{len(tracers.all)}.jsonl"
        t = tracers.spawn(["-p", str(pid), "-j", str(jpath), "-q", "--record-rate", "0"], jpath)
        assert t.wait_attached(pid, winterp.tracer_version) == "watch"
        p.stdin.write("go\n")
        p.stdin.flush()
        out = json.loads(p.stdout.readline())
        t.wait_records(len(out["reads"]))
        records = t.stop()
        p.stdin.write("exit\n")
        p.stdin.flush()
        p.wait(timeout=10)
        return out, records, t.summary(), before
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_watch_threads_before_and_after_attach(winterp, tracers, tmp_path):
    """Threads alive before the tracer (one event each) and a thread created
    after it by a thread created after it (inherited twice): one record per
    failing read, each with the tid of the thread that read."""
    out, records, sm, before = run_threads(winterp, tracers, tmp_path, 6, churn=False)
    reads = out["reads"]
    assert sorted(reads) == sorted([f"/resident/{i}" for i in range(6)] + ["/nested"])
    got = {r["request"]["path"]: r["tid"] for r in records}
    assert len(records) == len(reads) and got == reads, (got, reads)
    assert all(reads[f"/resident/{i}"] in before for i in range(6))
    assert reads["/nested"] not in before
    assert sm["runs"] == sm["hits"] == len(reads), sm


def test_watch_threads_created_while_attaching(winterp, tracers, tmp_path):
    """Threads created, while the tracer still opens events, by a thread
    whose event is open already inherit it and get their own too: both
    breakpoints fire on one read. The spawner creates such a burst the
    moment a read of the slot shows its own event armed (a debug exception
    takes microseconds) while 100 residents' events are still being opened.
    The BPF program counts the thread's events and records each read once:
    exact records, and more runs than hits (the doubled events' second runs,
    skipped). The spawner's own timing reads are hits without a record
    (look-alikes: not the session property)."""
    out, records, sm, _ = run_threads(winterp, tracers, tmp_path, 100, churn=True)
    reads = out["reads"]
    assert sorted(reads) == sorted([f"/resident/{i}" for i in range(100)] +
                                   [f"/burst/{j}" for j in range(20)] + ["/nested"])
    got = {r["request"]["path"]: r["tid"] for r in records}
    assert len(records) == len(reads) and got == reads, \
        (sorted(set(got) ^ set(reads)), len(records), len(reads))
    assert sm["records"] == len(reads) and sm["why"] == {"look_alike": sm["dropped"]}, sm
    assert 1 <= sm["dropped"] <= out["slot_reads"], (sm, out["slot_reads"])
    # each burst thread's read ran the program twice: once recorded, once skipped
    assert sm["runs"] - sm["hits"] >= 1, sm


def test_watch_debug_registers_taken(winterp, tracers, servers):
    """All four debug registers of the server's thread are held by another
    user (as a debugger's hardware watchpoints would): -P auto says so in one
    line and does not trace it (exit 2, nothing attached); with
    --allow-fallback it traces on do_raise, saying so, and records exactly;
    once the registers are free the watchpoint is back."""
    s = servers.start(winterp, "mw_no_session")
    held = [hwbp.open_breakpoint(s.pid, 0x10000 + 8 * i) for i in range(4)]
    try:
        t = tracers.spawn(["-p", str(s.pid), "-q"])
        assert t.wait() == 2
        lines = [ln for ln in t.stderr_lines() if ln.strip()]
        assert len(lines) == 1, lines
        assert "no hardware watchpoint" in lines[0] and "debug registers" in lines[0] \
            and "--allow-fallback" in lines[0], lines[0]
        failing_gets(s, ["/unseen"])

        t = tracers.start([s], extra=["--allow-fallback"])
        assert t.wait_attached(s.pid, winterp.tracer_version) == "assert"
        said = [ln for ln in t.stderr_lines() if "no zero-cost trigger" in ln]
        assert len(said) == 1 and "do_raise" in said[0], t.stderr_lines()
        paths = ["/fallback/1", "/fallback/2"]
        failing_gets(s, paths)
        t.wait_records(len(paths))
        assert [r["request"]["path"] for r in t.stop()] == paths
    finally:
        for fd in held:
            os.close(fd)
    t = tracers.start([s])
    assert t.wait_attached(s.pid, winterp.tracer_version) == "watch"
    failing_gets(s, ["/watch/1"])
    t.wait_records(1)
    assert [r["request"]["path"] for r in t.stop()] == ["/watch/1"]


def test_watch_refused_by_policy(winterp, tracers, servers, tmp_path):
    """A seccomp policy refuses perf_event_open (as a container runtime's
    default profile does): one line names it, exit 2."""
    s = servers.start(winterp, "mw_no_session")
    p = subprocess.run([str(TRACER_BIN), "-p", str(s.pid), "-q"], capture_output=True,
                       text=True, timeout=30,
                       preexec_fn=lambda: hwbp.refuse_syscall(hwbp.NR_PERF_EVENT_OPEN,
                                                             errno.EACCES))
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "perf_event_open is refused" in lines[0], lines


def test_watch_jit(winterp, tracers, servers):
    """PYTHON_JIT=1 (the tier-2 optimizer, built into these interpreters):
    the optimizer may fold LOAD_COMMON_CONSTANT into a constant in a trace,
    but a failing assert's branch leaves the trace: 200 failing requests in a
    row still give 200 runs and 200 records."""
    jit = type(winterp)(**{**winterp.__dict__, "extra_env": {"PYTHON_JIT": "1"},
                           "_module_ok": {}})
    r = jit.run("import sys; print(sys._jit.is_enabled())")
    assert r.stdout.strip() == "True", (r.stdout, r.stderr)
    s = servers.start(jit, "mw_no_session")
    t = tracers.start([s], extra=["--record-rate", "0"])
    assert t.wait_attached(s.pid, winterp.tracer_version) == "watch"
    paths = [f"/jit/{i}" for i in range(200)]
    failing_gets(s, paths)
    t.wait_records(len(paths))
    records = t.stop()
    assert [r["request"]["path"] for r in records] == paths
    sm = t.summary()
    assert sm["runs"] == sm["records"] == len(paths), sm
