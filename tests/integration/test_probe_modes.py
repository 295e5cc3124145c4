"""The assert probe against the raise probe (issue 6).

``--probe assert`` puts the uprobe on the LOAD_ASSERTION_ERROR handler inside
the eval loop (found through opcode_targets, validated), so it runs only when
an ``assert`` fails; from 3.14 (no such opcode) on do_raise, which only a
Python ``raise`` statement reaches. ``--probe raise`` is on _PyErr_SetObject
and runs for every exception. Both must give the same records. The tracer's
exit summary (``..., R probe runs, ...``) counts the BPF program's runs in
traced processes, and the kernel's bpf_stats counts them independently: with
the assert probe, healthy traffic gives exactly zero on every interpreter.
"""
import json
import os
import re
import signal
import subprocess

import pytest

from conftest import SESSION_MESSAGE, access_line, app_file, http_request, session_raise_frame

SUMMARY = re.compile(r"exiting: (\d+) records, (\d+) lost, (\d+) hits, (\d+) AssertionError/KeyError "
                     r"raises examined, (\d+) probe runs")


def summary(tracer):
    for line in tracer.stderr_lines():
        m = SUMMARY.search(line)
        if m:
            return dict(zip(("records", "lost", "hits", "examined", "runs"), map(int, m.groups())))
    pytest.fail("no exit summary on stderr:\n" + "\n".join(tracer.stderr_lines()))


@pytest.fixture
def bpf_stats():
    """kernel.bpf_stats_enabled=1 for the test (restored after): the kernel
    then counts every run of every BPF program, an oracle independent of the
    tracer's own counters."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write("1")
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(old)


def kernel_runs(tracer_pid: int, names=("assert_probe", "do_raise_probe", "raise_probe")) -> int:
    """run_cnt (bpf_stats) of the tracer's probe programs, summed: the BPF
    program fds it holds (/proc/PID/fdinfo), named by bpftool."""
    total, seen = 0, 0
    fddir = f"/proc/{tracer_pid}/fd"
    for fd in os.listdir(fddir):
        try:
            if os.readlink(f"{fddir}/{fd}") != "anon_inode:bpf-prog":
                continue
            with open(f"/proc/{tracer_pid}/fdinfo/{fd}") as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        r = subprocess.run(["bpftool", "-j", "prog", "show", "id", info["prog_id"].strip()],
                           capture_output=True, text=True, check=True)
        if json.loads(r.stdout).get("name") in names:
            total += int(info["run_cnt"])
            seen += 1
    # -p loads only the program its targets need
    assert seen >= 1, f"tracer {tracer_pid}: none of {names} loaded"
    return total


def trace(tracers, server, probe, paths, want_probe=None):
    """Attach with --probe PROBE, send a failing GET for each path, stop;
    returns (records, summary)."""
    t = tracers.start([server], extra=["--probe", probe] if probe else [])
    got = t.wait_attached(server.pid, server.interp.tracer_version, probe=want_probe or probe)
    assert got == (want_probe or probe)
    for p in paths:
        assert http_request(server.port, p).status == 500, p
    t.wait_records(len(paths))
    records = t.stop()
    return records, summary(t)


def assert_probe_round(tracers, server, path, status, times):
    """Attach with --probe assert, GET path the given number of times (each
    answering status), stop: nothing may be recorded. Returns (tracer, summary)."""
    t = tracers.start([server], extra=["--probe", "assert"])
    t.wait_attached(server.pid, server.interp.tracer_version, probe="assert")
    for _ in range(times):
        assert http_request(server.port, path).status == status
    assert t.stop() == []
    return t, summary(t)


def frames(rec):
    return [(f["function"], f["file"], f["line"]) for f in rec["stack"]]


def test_modes_agree(interp, tracers, servers):
    """Same server, the raise probe then the assert probe: the same records,
    and the top frame's line is the one Python's own traceback shows."""
    s = servers.start(interp, "mw_no_session")
    want = session_raise_frame(interp)
    by = {}
    for probe in ("raise", "assert"):
        paths = [f"/modes/{probe}/{i}" for i in range(5)]
        records, sm = trace(tracers, s, probe, paths)
        assert [r["request"]["path"] for r in records] == paths
        assert sm["records"] == sm["hits"] == len(paths) and sm["lost"] == 0, sm
        for r in records:
            assert r["exception"] == {"type": "AssertionError", "message": SESSION_MESSAGE}
            top = r["stack"][0]
            assert (top["function"], top["file"], top["line"]) == \
                (want["function"], want["file"], want["line"]), (probe, top, want)
            assert r["accessor"] == {"function": interp.fn("ReadsSession.dispatch"),
                                     "file": app_file("mw_no_session"),
                                     "line": access_line("mw_no_session",
                                                         "ReadsSession.dispatch")}, r["accessor"]
            assert r["cause"] == "missing_middleware", r["cause"]
        by[probe] = records
    assert [frames(r) for r in by["raise"]] == [frames(r) for r in by["assert"]]


def test_assert_probe_healthy_zero_runs(interp, tracers, servers, bpf_stats):
    """Healthy traffic, caught exceptions and KeyErrors: the assert probe does
    not run at all. Up to 3.13 it sits on LOAD_ASSERTION_ERROR: each failing
    assert statement runs it exactly once (a `raise AssertionError(...)` does
    not) and user space decides. From 3.14 it sits on do_raise: every Python
    `raise` statement runs it (an escaping exception's re-raises too), the
    BPF program filters by type and message, and only ours become hits.
    None is recorded here."""
    do_raise = interp.minor >= 14
    s = servers.start(interp, "healthy")
    t = tracers.start([s], extra=["--probe", "assert"])
    assert t.wait_attached(s.pid, interp.tracer_version, probe="assert") == "assert"
    before = kernel_runs(t.pid)
    for i in range(40):
        assert http_request(s.port, "/ok").status == 200
        assert http_request(s.port, "/caught/keyerror").status == 200
        assert http_request(s.port, "/caught/valueerror").status == 200
    assert kernel_runs(t.pid) - before == 0  # bpf_stats: 0 runs for 120 healthy requests
    assert t.stop() == []
    sm = summary(t)
    assert sm["runs"] == 0 and sm["hits"] == 0, sm

    _, sm = assert_probe_round(tracers, s, "/escapes/keyerror", 500, 1)
    assert sm["hits"] == 0, sm
    assert (sm["runs"] > 0) if do_raise else (sm["runs"] == 0), sm

    t, sm = assert_probe_round(tracers, s, "/caught/assert", 200, 3)
    assert sm["runs"] == 3 and sm["hits"] == (0 if do_raise else 3), sm
    # the LOAD_ASSERTION_ERROR site captures every failing assert; user space
    # names why these three are not records
    assert t.summary()["why"] == ({} if do_raise else {"look_alike": 3}), t.summary()

    _, sm = assert_probe_round(tracers, s, "/escapes/assert", 500, 2)
    assert sm["hits"] == 0, sm
    assert (sm["runs"] >= 2) if do_raise else (sm["runs"] == 0), sm


def test_auto_prefers_assert(interp, tracers, servers):
    s = servers.start(interp, "mw_no_session")
    records, sm = trace(tracers, s, None, ["/auto/1", "/auto/2"], want_probe="assert")
    assert [r["request"]["path"] for r in records] == ["/auto/1", "/auto/2"]
    assert sm["hits"] == 2, sm
    # 3.14+: do_raise also runs for the middleware's re-raises of the escaping error
    assert (sm["runs"] >= 2) if interp.minor >= 14 else (sm["runs"] == 2), sm


def test_optimized_falls_back_to_raise(interp, tracers, servers):
    """python -O has no asserts: auto uses the raise probe (KeyError variant);
    --probe assert is refused with one line and exit 2."""
    s = servers.start(interp, "mw_no_session", python_flags=["-O"])
    records, sm = trace(tracers, s, None, ["/opt/1", "/opt/2"], want_probe="raise")
    assert [r["request"]["path"] for r in records] == ["/opt/1", "/opt/2"]
    assert all(r["exception"]["type"] == "KeyError" for r in records)

    t = tracers.spawn(["-p", str(s.pid), "--probe", "assert", "-q"])
    assert t.wait() == 2
    lines = [l for l in t.stderr_lines() if l.strip()]
    assert len(lines) == 1 and "-O" in lines[0], lines
    assert http_request(s.port, "/opt/3").status == 500
