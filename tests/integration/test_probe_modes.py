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
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import APPS, INTERPRETERS, TRACER_BIN
from conftest import (SESSION_MESSAGE, access_line, app_file, bpf_stats, http_request,  # noqa: F401
                      kernel_runs, session_raise_frame)

SUMMARY = re.compile(r"exiting: (\d+) records, (\d+) lost, (\d+) hits, (\d+) AssertionError/KeyError "
                     r"raises examined, (\d+) probe runs")


def summary(tracer):
    for line in tracer.stderr_lines():
        m = SUMMARY.search(line)
        if m:
            return dict(zip(("records", "lost", "hits", "examined", "runs"), map(int, m.groups())))
    pytest.fail("no exit summary on stderr:\n" + "\n".join(tracer.stderr_lines()))


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
    """Same server, the raise probe, the assert probe and (3.14+) the watch
    trigger: the same records, and the top frame's line is the one Python's
    own traceback shows."""
    s = servers.start(interp, "mw_no_session")
    want = session_raise_frame(interp)
    by = {}
    for probe in ("raise", "assert") + (("watch",) if interp.minor >= 14 else ()):
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
    for probe in by:
        assert [frames(r) for r in by[probe]] == [frames(r) for r in by["raise"]], probe


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


def test_auto_is_zero_cost(interp, tracers, servers):
    """-P auto takes the trigger that runs once per failing assert and never
    otherwise: the LOAD_ASSERTION_ERROR handler up to 3.13, the watchpoint
    from 3.14 (where do_raise would also run for every re-raise of the
    escaping error)."""
    s = servers.start(interp, "mw_no_session")
    want = "watch" if interp.minor >= 14 else "assert"
    records, sm = trace(tracers, s, None, ["/auto/1", "/auto/2"], want_probe=want)
    assert [r["request"]["path"] for r in records] == ["/auto/1", "/auto/2"]
    assert sm["hits"] == 2 and sm["runs"] == 2, sm


def test_optimized_falls_back_to_raise(interp, tracers, servers):
    """python -O has no asserts: auto uses the raise probe (KeyError variant);
    --probe assert is refused with one line and exit 2."""
    s = servers.start(interp, "mw_no_session", python_flags=["-O"])
    records, sm = trace(tracers, s, None, ["/opt/1", "/opt/2"], want_probe="raise")
    assert [r["request"]["path"] for r in records] == ["/opt/1", "/opt/2"]
    assert all(r["exception"]["type"] == "KeyError" for r in records)

    for probe in ("assert",) + (("watch",) if interp.minor >= 14 else ()):
        t = tracers.spawn(["-p", str(s.pid), "--probe", probe, "-q"])
        assert t.wait() == 2
        lines = [l for l in t.stderr_lines() if l.strip()]
        assert len(lines) == 1 and "-O" in lines[0], lines
    assert http_request(s.port, "/opt/3").status == 500


PROBE_AT = re.compile(r"pid (\d+): (assert|raise) probe (?:on )?.* (0x[0-9a-f]+) \(file offset")
BIAS = re.compile(r"pid (\d+): interpreter .* bias (0x[0-9a-f]+)$")


def code_byte(pid, addr):
    with open(f"/proc/{pid}/mem", "rb") as f:
        f.seek(addr)
        return f.read(1)[0]


@pytest.mark.parametrize("probe", ["raise", "assert"])
def test_uprobe_scoped_to_its_pid(interp, tracers, servers, probe):
    """Two servers map the same interpreter file; the tracer attaches to one
    (-P assert: the LOAD_ASSERTION_ERROR handler, from 3.14 do_raise).
    Its uprobe is for that pid alone: the int3 (0xcc) the kernel writes is in
    the traced process's copy of the probed instruction, and not in the
    other's, which takes no trap (with pid -1 both would have it)."""
    a = servers.start(interp, "mw_no_session")
    b = servers.start(interp, "mw_no_session")
    t = tracers.start([a], extra=["--probe", probe, "-v"])
    lines = t.stderr_lines()
    at = [int(m.group(3), 16) for m in map(PROBE_AT.search, lines)
          if m and int(m.group(1)) == a.pid and m.group(2) == probe]
    bias = [int(m.group(2), 16) for m in map(BIAS.search, lines) if m and int(m.group(1)) == a.pid]
    assert len(at) == 1 and len(bias) == 1, lines
    addr = at[0] + bias[0]
    # b maps the same file at the same place (non-PIE), or its own (a shared libpython)
    b_bias = subprocess.run([str(TRACER_BIN), "-p", str(b.pid), "-v", "-d", "1", "-q"],
                            capture_output=True, text=True, timeout=30).stderr
    b_bias = [int(m.group(2), 16) for m in map(BIAS.search, b_bias.splitlines()) if m]
    assert len(b_bias) == 1
    b_addr = at[0] + b_bias[0]
    assert code_byte(a.pid, addr) == 0xCC
    assert code_byte(b.pid, b_addr) != 0xCC
    failing = [f"/scoped/{i}" for i in range(2)]
    for p in failing:
        assert http_request(b.port, p).status == 500
        assert http_request(a.port, p).status == 500
    t.wait_records(2)
    records = t.stop()
    assert [(r["pid"], r["request"]["path"]) for r in records] == [(a.pid, p) for p in failing]
    assert code_byte(a.pid, addr) != 0xCC  # detached: the instruction is back


SWAP_ROUNDS = 10


def exec_maps(pid, path):
    """(start, end, file offset) of pid's executable mappings of path."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].strip() == path and "x" in parts[1]:
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi, int(parts[2], 16)))
    return out


def code_equals_file(pid, path):
    """Every executable byte pid maps from path is the file's: no int3 anywhere."""
    maps = exec_maps(pid, path)
    assert maps, f"pid {pid} does not map {path}"
    with open(path, "rb") as lib, open(f"/proc/{pid}/mem", "rb") as mem:
        for lo, hi, off in maps:
            lib.seek(off)
            mem.seek(lo)
            if lib.read(hi - lo) != mem.read(hi - lo):
                return False
    return True


def uprobes_of(pid):
    """The uprobes process pid holds, as the kernel reports them (bpftool perf)."""
    r = subprocess.run(["bpftool", "perf", "list", "-j"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return [e for e in json.loads(r.stdout or "[]") if e["pid"] == pid and e["fd_type"] == "uprobe"]


def test_interpreter_swapped_while_attaching(tracers):
    """Issue 25, item 1. A process maps a copy of pyenv's libpython3.12 as the
    loader would and, in a loop, maps pyenv's libpython3.11 and the copy in
    turn over the segment /proc/PID/maps names as its interpreter
    (tests/apps/swap_interp.c), while the tracer attaches to it, again and
    again. Each time the tracer either refuses (it opened 3.11: one line) or
    attaches; every probe it attaches is in the file it parsed: the kernel's
    uprobe is on /proc/self/fd/N, whose target, read back through the
    tracer's descriptor, is the copy, at the handler's offset the tracer
    computed from it, and its int3 is in the swapping process's copy. A real
    Python 3.11 process mapping libpython3.11 all along never has an int3 in
    its code and runs on."""
    py312 = INTERPRETERS["pyenv-3.12"].require()
    py311 = INTERPRETERS["pyenv-3.11"].require()
    if shutil.which("bpftool") is None:
        pytest.fail("bpftool is missing (scripts/deps.sh installs it)")
    lib312 = str(Path(py312.python).parents[1] / "lib" / "libpython3.12.so.1.0")
    lib311 = str(Path(py311.python).parents[1] / "lib" / "libpython3.11.so.1.0")
    work = Path(tempfile.mkdtemp(prefix="st-swap-"))
    procs = []
    try:
        copy = str(work / "libpython3.12.so.1.0")
        shutil.copyfile(lib312, copy)
        swap = work / "swap_interp"
        subprocess.run(["cc", "-O2", "-o", str(swap), str(APPS / "swap_interp.c")], check=True)
        # the unrelated process: pyenv's 3.11, running its eval loop all along
        other = subprocess.Popen([py311.python, "-c", "import json\nwhile True: "
                                  "json.loads(json.dumps({'k': list(range(100))}))"],
                                 env=py311.env())
        procs.append(other)
        swapper = subprocess.Popen([str(swap), copy, lib311], stdout=subprocess.PIPE, text=True)
        procs.append(swapper)
        assert swapper.stdout.readline().startswith("ready "), "swap_interp did not start"
        deadline = time.monotonic() + 10
        while not exec_maps(other.pid, lib311) and time.monotonic() < deadline:
            time.sleep(0.05)
        attached = refused = 0
        for _ in range(SWAP_ROUNDS):
            t = tracers.spawn(["-p", str(swapper.pid), "-v", "-q", "-d", "2"])
            line = t.wait_line(r"attached pid=\d+ .*|sessiontrace: pid \d+ (runs Python|is not"
                               r" a Python process|: cannot).*", 15.0)
            if not line.startswith("attached"):
                assert t.wait() != 0
                refused += 1
                continue
            attached += 1
            lines = t.stderr_lines()
            offs = {int(m.group(1), 16) for m in
                    (re.search(r"assert probe on .* \(file offset (0x[0-9a-f]+)\)", l)
                     for l in lines) if m}
            interp = [l for l in lines if re.search(r": interpreter .* bias ", l)]
            assert len(offs) == 1 and len(interp) == 1 and f" {copy} " in interp[0], lines
            probes = uprobes_of(t.pid)
            assert len(probes) == 1, probes
            m = re.fullmatch(r"/proc/self/fd/(\d+)", probes[0]["filename"])
            assert m, probes
            assert os.readlink(f"/proc/{t.pid}/fd/{m.group(1)}") == copy
            assert probes[0]["offset"] in offs
            # the int3 is in the swapper's copy of the handler, and nowhere in 3.11's code
            at = [lo + probes[0]["offset"] - off for lo, hi, off in exec_maps(swapper.pid, copy)
                  if off <= probes[0]["offset"] < off + (hi - lo)]
            assert len(at) == 1 and code_byte(swapper.pid, at[0]) == 0xCC
            assert code_equals_file(other.pid, lib311)
            assert t.wait() == 0
        print(f"{attached} attached, {refused} refused (opened 3.11) of {SWAP_ROUNDS}")
        assert attached >= 2, (attached, refused)
        assert other.poll() is None and code_equals_file(other.pid, lib311)
        assert swapper.poll() is None
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)
