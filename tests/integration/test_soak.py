"""Long-running servers (issue 13): code-object churn past the symbolizer
cache, a storm of failures, and `report` on files it did not write. Run on
the normal build by `make integration`, and on the ASan + UBSan build by
`make test` (SESSIONTRACE_BIN=build/asan/sessiontrace): any sanitizer report
makes the tracer exit non-zero, which fails the test.

Exact: N failing requests give N records with exactly those paths and the
accessor each path's own endpoint is; records + lost + dropped == hits.
"""
import concurrent.futures
import os
import re
import subprocess
import time

import pytest

from conftest import INTERPRETERS, TRACER_BIN, http_request

SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer")


@pytest.fixture
def debian():
    return INTERPRETERS["debian-3.11"].require()


def no_sanitizer_report(t):
    bad = [l for l in t.stderr_lines() if SANITIZER.search(l)]
    assert not bad, "\n".join(t.stderr_lines()[-80:])


def send_all(port, paths, workers=4):
    """Every path once, on a few client threads; returns {status: count}."""
    out = {}
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        for st in ex.map(lambda p: http_request(port, p).status, paths):
            out[st] = out.get(st, 0) + 1
    return out


@pytest.mark.parametrize("fat", [False, True], ids=["plain", "fat-linetables"])
def test_code_object_churn(debian, tracers, servers, fat):
    """3000 endpoints, each its own code object, two rounds of 3000 failing
    requests: the symbolizer cache (2048 entries, 8 MiB) evicts between
    events, never under one; 6000 hits give 6000 records, each with its own
    endpoint as the accessor. fat: each code object's line table is large
    (2000 extra lines), so the byte bound evicts too."""
    interp = debian
    if fat:
        interp = type(debian)(**{**debian.__dict__, "extra_env": {"CHURN_FAT": "1"},
                                 "_module_ok": {}})
    # 3000 functions (fat: 6 million lines) take ~15 s to compile here: more than a server's usual
    s = servers.start(interp, "churn_app", timeout=90.0)
    t = tracers.start([s])
    paths = [f"/e/{i}" for i in range(3000)] * 2
    assert send_all(s.port, paths) == {500: len(paths)}
    t.wait_records(len(paths), timeout=120.0, settle=0)
    with open(f"/proc/{t.pid}/status") as f:
        hwm = [l.split()[1] for l in f if l.startswith("VmHWM:")][0]
    print(f"tracer peak RSS (VmHWM) {hwm} kB, fat line tables: {fat}")  # README, "survived"
    records = t.stop()
    no_sanitizer_report(t)
    assert len(records) == len(paths)
    assert sorted(r["request"]["path"] for r in records) == sorted(paths)
    for r in records:
        i = r["request"]["path"].rsplit("/", 1)[1]
        assert r["accessor"]["function"] == f"endpoint_{i}", r["accessor"]
        assert r["accessor"]["file"] == f"<churn {i}>", r["accessor"]
        assert r["accessor"]["line"] == (2002 if fat else 2), r["accessor"]
    sm = t.summary()
    assert sm["hits"] == len(paths) and sm["dropped"] == 0 and sm["lost"] == 0, sm
    with open(f"/proc/{s.pid}/status") as f:
        assert "VmRSS" in f.read()  # the server lived through it


def test_storm_exact(debian, tracers, servers):
    """As many failures as 4 client threads can drive for a few seconds:
    records + lost + dropped == hits == failures sent, nothing dropped."""
    s = servers.start(debian, "mw_no_session")
    # a full record per hit: the records path itself keeps up (--record-rate: test_records)
    t = tracers.start([s], extra=["--record-rate", "0"])
    paths = [f"/storm/{i}" for i in range(2000)]
    assert send_all(s.port, paths, workers=4) == {500: len(paths)}
    t.wait_records(len(paths), timeout=60.0, settle=0)
    records = t.stop()
    no_sanitizer_report(t)
    sm = t.summary()
    # 2000 records fit the 4 MiB ring buffer between two 50 ms drains at this rate
    assert sm["hits"] == len(paths) and sm["dropped"] == 0 and sm["lost"] == 0, sm
    assert sorted(r["request"]["path"] for r in records) == sorted(paths)


HOSTILE_FILES = {
    "esc-ts": b'{"ts":"\\u001b]0;owned\\u0007\\u001b[2J","stack":[],"cause":"x\\u001b[31m"}\n',
    "huge-line": b'{"ts":"' + b"A" * (64 << 20) + b'"}\n'
                 b'{"ts":"2026-11-24T10:00:01.000000Z","stack":[],"cause":"c"}\n',
    "binary": bytes(range(256)) * 64 + b"\n",
    "deep-json": b"[" * 100000 + b"]" * 100000 + b"\n",
    "many-groups": b"".join(b'{"ts":"2026-11-24T10:00:01.000000Z","stack":[],"route":"/r/%d"}\n'
                            % i for i in range(50000)),
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_report_hostile_file(tmp_path, name):
    """`sessiontrace report` on files it did not write: no raw ESC or BEL on
    the terminal, peak RSS under 64 MB, a clean exit status (0 with records,
    1 with one line when nothing is one), no sanitizer report."""
    if not os.access(TRACER_BIN, os.X_OK):
        pytest.fail(f"{TRACER_BIN} not built")
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(HOSTILE_FILES[name])
    r = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M", str(TRACER_BIN), "report",
                        str(path)], capture_output=True, timeout=120)
    err = r.stderr.decode("utf-8", "replace")
    assert not SANITIZER.search(err), err[-4000:]
    assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout
    rss = int(re.search(r"maxrss_kb=(\d+)", err).group(1))
    if "ASAN_OPTIONS" not in os.environ:  # ASan's own quarantine and shadow memory inflate it
        assert rss < 64 * 1024, f"report used {rss} KB"
    has_records = name in ("esc-ts", "huge-line", "many-groups")
    if has_records:
        assert r.returncode == 0, err
    else:
        assert r.returncode == 1, (r.returncode, err)
        lines = [l for l in err.splitlines()
                 if not l.startswith(("maxrss_kb=", "Command exited with"))]  # time(1)
        assert len(lines) == 1 and "no records" in lines[0], lines
