"""sessiontrace against live uvicorn servers (needs root, BTF, build/sessiontrace).

Every test starts its servers first, then the tracer (``-p PID -j FILE -q``),
waits for ``attached pid=PID python=X.Y.Z probe=raise|assert|watch``, drives traffic over
127.0.0.1, stops the tracer with SIGINT (exit 0 asserted) and checks the JSON
records exactly: counts, paths, pids, frames and lines.
"""
import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from conftest import (HEALTHY_EXPECTED, SESSION_MESSAGE, STOP_TIMEOUT, CookieClient,
                      access_line, app_file, http_request, parse_ts, proc_comm,
                      session_raise_frame, thread_ids)

RECORD_KEYS = {"ts", "pid", "tid", "comm", "python", "property", "exception", "request", "stack",
               "accessor"}


def check_record(rec, *, server, path, method, module, accessor_fn, raise_frame,
                 t0, t1, client_port, worker=False, threads=None):
    """Assert one record describes the failing access ``method path`` handled by
    ``accessor_fn`` in tests/apps/<module>.py."""
    where = f"record for {method} {path!r}: {json.dumps(rec, ensure_ascii=False)[:3000]}"
    assert RECORD_KEYS <= set(rec), f"missing keys {RECORD_KEYS - set(rec)}; {where}"

    ts = parse_ts(rec["ts"])
    assert t0 - 2.0 <= ts <= t1 + 2.0, f"ts {rec['ts']} outside [{t0}, {t1}]; {where}"

    assert rec["pid"] == server.pid, where
    assert isinstance(rec["tid"], int), where
    if worker:
        assert rec["tid"] != server.pid, f"sync endpoint ran on a worker thread; {where}"
        if threads is not None:
            assert rec["tid"] in threads, f"tid is not a thread of {server.pid} {threads}; {where}"
        assert isinstance(rec["comm"], str) and 0 < len(rec["comm"]) <= 15, where
    else:
        assert rec["tid"] == server.pid, f"async code runs on the main thread; {where}"
        assert rec["comm"] == proc_comm(server.pid), where
    assert rec["python"] == server.interp.tracer_version, where

    assert rec["exception"] == {"type": "AssertionError", "message": SESSION_MESSAGE}, where

    req = rec["request"]
    assert isinstance(req, dict), where
    assert req["type"] == "http", where
    assert req["method"] == method, where
    assert req["path"] == path, where
    assert req["root_path"] == "", where
    assert req["client"].startswith("127.0.0.1:"), where
    assert req["client"] == f"127.0.0.1:{client_port}", where

    stack = rec["stack"]
    assert isinstance(stack, list) and len(stack) >= 2, where
    for fr in stack:
        assert set(fr) >= {"function", "file", "line"}, where
        assert isinstance(fr["function"], str) and fr["function"], where
        assert isinstance(fr["file"], str) and fr["file"], where
        assert isinstance(fr["line"], int) and not isinstance(fr["line"], bool) and fr["line"] > 0, where
    top = {k: stack[0][k] for k in ("function", "file", "line")}
    assert top["function"] == server.interp.fn("HTTPConnection.session"), where
    assert top["file"].endswith("starlette/requests.py"), where
    assert top == {k: raise_frame[k] for k in ("function", "file", "line")}, where

    want_accessor = {"function": server.interp.fn(accessor_fn), "file": app_file(module),
                     "line": access_line(module, accessor_fn)}
    acc = rec["accessor"]
    assert isinstance(acc, dict), where
    assert acc["file"].endswith(f"tests/apps/{module}.py"), where
    assert {k: acc[k] for k in ("function", "file", "line")} == want_accessor, where
    # the property is called straight from the accessor's frame
    assert {k: stack[1][k] for k in ("function", "file", "line")} == want_accessor, where


def by_path(records):
    out = {}
    for r in records:
        p = r["request"]["path"] if isinstance(r.get("request"), dict) else None
        assert p not in out, f"two records for path {p!r}"
        out[p] = r
    return out


def still_serving(server, path="/still-serving"):
    assert server.alive(), f"server {server.pid} died:\n{server.log()}"
    assert os.path.isdir(f"/proc/{server.pid}")
    r = http_request(server.port, path)
    assert r.status in (200, 500), r


def _trace_failing_gets(tracers, server, paths):
    """Trace ``server`` while each of ``paths`` is sent to it once as a GET (each
    must answer 500), then stop the tracer once it has a record a path.
    Returns (records, {path: response}, the server's thread ids after the
    requests, t0, t1), t0 and t1 bounding the requests."""
    t = tracers.start([server])
    t0 = time.time()
    resp = {}
    for p in paths:
        r = http_request(server.port, p)
        assert r.status == 500, (p, r)
        resp[p] = r
    threads = thread_ids(server.pid)
    t1 = time.time()
    t.wait_records(len(paths))
    return t.stop(), resp, threads, t0, t1


# ---------------------------------------------------------------------------
# 1. middleware reading request.session
# ---------------------------------------------------------------------------

def test_middleware_five_paths(interp, tracers, servers):
    s = servers.start(interp, "mw_no_session")
    raise_frame = session_raise_frame(interp)
    tag = uuid.uuid4().hex[:8]
    paths = [f"/mw/{i}/{tag}" for i in range(5)]
    records, resp, _, t0, t1 = _trace_failing_gets(tracers, s, paths)

    assert len(records) == 5, records
    assert sorted(r["request"]["path"] for r in records) == sorted(paths)
    got = by_path(records)
    for p in paths:
        check_record(got[p], server=s, path=p, method="GET", module="mw_no_session",
                     accessor_fn="ReadsSession.dispatch", raise_frame=raise_frame,
                     t0=t0, t1=t1, client_port=resp[p].client_port)
    still_serving(s)


# ---------------------------------------------------------------------------
# 2. async and sync (worker thread) endpoints, GET and POST
# ---------------------------------------------------------------------------

def _endpoint_case(interp, tracers, servers, module, prefix, async_fn, sync_fn):
    s = servers.start(interp, module)
    raise_frame = session_raise_frame(interp)
    t = tracers.start([s])
    tag = uuid.uuid4().hex[:8]
    plan = [  # (method, path, accessor, worker thread?)
        ("GET", f"{prefix}/async/g{tag}", async_fn, False),
        ("GET", f"{prefix}/sync/g{tag}", sync_fn, True),
        ("POST", f"{prefix}/async/p{tag}", async_fn, False),
        ("POST", f"{prefix}/sync/p{tag}", sync_fn, True),
    ]
    t0 = time.time()
    resp = {}
    for method, path, _, _ in plan:
        assert http_request(s.port, "/ok").status == 200
        r = http_request(s.port, path, method=method, body=b"x=1" if method == "POST" else None)
        assert r.status == 500, (method, path, r)
        resp[path] = r
    assert http_request(s.port, "/ok").status == 200
    threads = thread_ids(s.pid)
    t1 = time.time()
    t.wait_records(len(plan))
    records = t.stop()

    assert len(records) == len(plan), records
    assert sorted(r["request"]["path"] for r in records) == sorted(p for _, p, _, _ in plan)
    got = by_path(records)
    for method, path, fn, worker in plan:
        check_record(got[path], server=s, path=path, method=method, module=module,
                     accessor_fn=fn, raise_frame=raise_frame, t0=t0, t1=t1,
                     client_port=resp[path].client_port, worker=worker, threads=threads)
    still_serving(s, "/ok")


def test_endpoints_async_and_sync(interp, tracers, servers):
    _endpoint_case(interp, tracers, servers, "endpoints", "", "async_endpoint", "sync_endpoint")


def test_fastapi_endpoints(interp, tracers, servers):
    interp.require_module("fastapi_app")
    _endpoint_case(interp, tracers, servers, "fastapi_app", "/fa", "fa_async", "fa_sync")


def test_fastapi_sync_dependency(interp, tracers, servers):
    """A sync dependency runs in an anyio worker thread with its own thread
    state: the record carries that thread's tid and its own request."""
    interp.require_module("fastapi_app")
    s = servers.start(interp, "fastapi_app")
    raise_frame = session_raise_frame(interp)
    tag = uuid.uuid4().hex[:8]
    paths = [f"/fa/dep/{tag}{i}" for i in range(3)]
    records, resp, threads, t0, t1 = _trace_failing_gets(tracers, s, paths)
    assert sorted(r["request"]["path"] for r in records) == sorted(paths), records
    got = by_path(records)
    for p in paths:
        check_record(got[p], server=s, path=p, method="GET", module="fastapi_app",
                     accessor_fn="fa_sync_dep", raise_frame=raise_frame, t0=t0, t1=t1,
                     client_port=resp[p].client_port, worker=True, threads=threads)


# ---------------------------------------------------------------------------
# 3. healthy app: zero records, unchanged responses
# ---------------------------------------------------------------------------

def _healthy_round(port):
    c = CookieClient(port)
    out = []
    for _ in range(2):  # 2 x 15 = 30 requests
        for path, _, _ in HEALTHY_EXPECTED:
            r = c.get(path)
            out.append((path, r.status, r.body))
    return out


def test_healthy_app_no_records(interp, tracers, servers):
    s = servers.start(interp, "healthy")
    canary = servers.start(interp, "mw_no_session")
    before = _healthy_round(s.port)
    assert [(p, st, b) for p, st, b in before[:len(HEALTHY_EXPECTED)]] == HEALTHY_EXPECTED
    assert len(before) >= 20

    t = tracers.start([s, canary])
    during = _healthy_round(s.port)
    # Proves the tracer was live while the healthy traffic ran, and that its
    # events were all handled: records leave the ring buffer in order, so
    # once the canary's hit after it is recorded, any healthy one would be
    # too. It must be the one and only record.
    canary_path = f"/canary/{uuid.uuid4().hex[:8]}"
    assert http_request(canary.port, canary_path).status == 500
    t.wait_records(1)
    records = t.stop()

    assert during == before
    # No session record from the healthy app. Its /escapes/auth route (two
    # rounds) lets Starlette's request.auth assertion escape: a sibling
    # failure, recorded by default as property "auth", exactly twice.
    session = [r for r in records if r["property"] == "session"]
    assert [r["pid"] for r in session] == [canary.pid], records
    assert session[0]["request"]["path"] == canary_path
    auth = [r for r in records if r["pid"] == s.pid]
    assert len(auth) == 2, auth
    for r in auth:
        assert r["property"] == "auth", r
        assert r["request"]["path"] == "/escapes/auth", r
        assert r["exception"] == {"type": "AssertionError", "message":
                                  "AuthenticationMiddleware must be installed to access "
                                  "request.auth"}, r
    assert len(records) == 3, records
    still_serving(s, "/ok")


# ---------------------------------------------------------------------------
# 4. twenty distinct paths, encoded characters
# ---------------------------------------------------------------------------

ENCODED_PATHS = [
    ("/caf%C3%A9", "/café"),                       # latin-1 range, 1-byte kind, non-ASCII
    ("/q%22uote", '/q"uote'),                      # JSON escaping of "
    ("/back%5Cslash", "/back\\slash"),             # JSON escaping of \
    ("/tab%09here", "/tab\there"),                 # control character
    ("/sp%20ace", "/sp ace"),
    ("/pct%25sign", "/pct%sign"),
    ("/%E6%97%A5%E6%9C%AC", "/日本"),             # 2-byte kind str
    ("/emoji/%F0%9F%98%80", "/emoji/😀"),         # 4-byte kind str
    ("/mixed/caf%C3%A9/%E2%82%AC", "/mixed/café/€"),
    ("/deep/a/b/c/d/e/f/g", "/deep/a/b/c/d/e/f/g"),
    ("/long/" + "x" * 300, "/long/" + "x" * 300),
]


def test_twenty_distinct_paths(interp, tracers, servers):
    s = servers.start(interp, "mw_no_session")
    pid = s.pid
    raise_frame = session_raise_frame(interp)
    tag = uuid.uuid4().hex[:6]
    cases = list(ENCODED_PATHS)
    i = 0
    while len(cases) < 20:
        cases.append((f"/n/{i}/{tag}", f"/n/{i}/{tag}"))
        i += 1
    assert len({d for _, d in cases}) == 20

    t = tracers.start([s])
    t0 = time.time()
    resp = {}
    for raw, decoded in cases:
        r = http_request(s.port, raw)
        assert r.status == 500, (raw, r)
        resp[decoded] = r
    t1 = time.time()
    t.wait_records(20)
    records = t.stop()  # asserts exit code 0

    assert len(records) == 20, [r.get("request") for r in records]
    assert sorted(r["request"]["path"] for r in records) == sorted(d for _, d in cases)
    got = by_path(records)
    for _, decoded in cases:
        check_record(got[decoded], server=s, path=decoded, method="GET", module="mw_no_session",
                     accessor_fn="ReadsSession.dispatch", raise_frame=raise_frame,
                     t0=t0, t1=t1, client_port=resp[decoded].client_port)
    assert s.pid == pid and s.alive()
    still_serving(s)
    assert http_request(s.port, "/caf%C3%A9").status == 500


# ---------------------------------------------------------------------------
# 5. bad input
# ---------------------------------------------------------------------------

def _uprobe_links():
    """{id: link} of BPF links that look like uprobes and are not owned by a
    live process (a leftover would be pinned/orphaned), or None w/o bpftool."""
    try:
        r = subprocess.run(["bpftool", "-j", "link", "list"], capture_output=True,
                           text=True, timeout=20)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    links = json.loads(r.stdout or "[]")
    out = {}
    for ln in links:
        typ = str(ln.get("type", ""))
        if typ in ("perf_event", "uprobe_multi") or typ.isdigit() or "uprobe" in typ:
            out[ln["id"]] = ln
    return out


def _run_bad(tracers, args):
    before = _uprobe_links()
    t = tracers.spawn(args)
    rc = t.wait(timeout=STOP_TIMEOUT)
    lines = t.stderr_lines()
    after = _uprobe_links()
    assert rc == 2, f"{args}: rc={rc}, stderr={lines}"
    assert len(lines) == 1 and lines[0].strip(), f"{args}: want one stderr line, got {lines}"
    if before is not None and after is not None:
        new = {i: ln for i, ln in after.items() if i not in before
               and (not ln.get("pids") or any(p.get("pid") == t.pid for p in ln["pids"]))}
        assert not new, f"{args}: left BPF links behind: {new}"
    return lines[0]


def _unused_pid():
    for pid in (999999, 999998, 888888, 777777):
        if not os.path.exists(f"/proc/{pid}"):
            return pid
    pytest.fail("no unused pid found")


def test_bad_pid_nonexistent(tracers):
    pid = _unused_pid()
    _run_bad(tracers, ["-p", str(pid)])


def test_bad_pid_not_python(tracers):
    p = subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL)
    try:
        _run_bad(tracers, ["-p", str(p.pid)])
        assert p.poll() is None, "tracer must leave the target alone"
    finally:
        p.kill()
        p.wait(timeout=5)


def test_bad_pid_unsupported_python(tracers):
    py2 = "/root/.pyenv/versions/2.7.18/bin/python2.7"
    if not os.access(py2, os.X_OK):
        pytest.skip(f"{py2} not installed (needed as an unsupported Python)")
    p = subprocess.Popen([py2, "-c", "import time; time.sleep(60)"], stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.5)  # let it map libpython / reach the sleep
        assert p.poll() is None
        _run_bad(tracers, ["-p", str(p.pid)])
        assert p.poll() is None, "tracer must leave the target alone"
    finally:
        p.kill()
        p.wait(timeout=5)


# ---------------------------------------------------------------------------
# 6. one of two targets exits
# ---------------------------------------------------------------------------

def test_target_exits_while_traced(interp, tracers, servers):
    a = servers.start(interp, "mw_no_session")
    b = servers.start(interp, "mw_no_session")
    t = tracers.start([a, b])
    tag = uuid.uuid4().hex[:8]
    pa, pb1, pb2 = f"/a/{tag}", f"/b1/{tag}", f"/b2/{tag}"
    assert http_request(a.port, pa).status == 500
    assert http_request(b.port, pb1).status == 500
    t.wait_records(2)

    a_pid = a.pid
    a.kill(signal.SIGKILL)
    a.proc.wait(timeout=10)
    t.wait_line(rf".*\b{a_pid}\b.*\bexited\b.*|.*\bexited\b.*\b{a_pid}\b.*", timeout=10)
    assert t.proc.poll() is None, "tracer must keep running for the other target"

    assert http_request(b.port, pb2).status == 500
    t.wait_records(3)
    records = t.stop()

    got = sorted((r["pid"], r["request"]["path"]) for r in records)
    assert got == sorted([(a_pid, pa), (b.pid, pb1), (b.pid, pb2)]), records
    assert not [ln for ln in t.stderr_lines() if "exited" in ln and re.search(rf"\b{b.pid}\b", ln)], \
        f"only {a_pid} exited: {t.stderr_lines()}"
    still_serving(b)


# ---------------------------------------------------------------------------
# 7. -d and signals
# ---------------------------------------------------------------------------

def test_duration_exits_by_itself(interp, tracers, servers, tmp_path):
    s = servers.start(interp, "mw_no_session")
    json_path = tmp_path / "d.jsonl"
    start = time.monotonic()
    t = tracers.spawn(["-p", str(s.pid), "-d", "2", "-j", str(json_path), "-q"], json_path)
    t.wait_attached(s.pid, interp.tracer_version)
    rc = t.wait(timeout=15)
    elapsed = time.monotonic() - start
    assert rc == 0, t.stderr_lines()
    assert 1.9 <= elapsed <= 15, elapsed
    assert t.stdout() == b""
    assert s.alive()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_exit_summary(interp, tracers, servers, sig):
    s = servers.start(interp, "mw_no_session")
    t = tracers.start([s])
    assert http_request(s.port, "/one-hit").status == 500
    t.wait_records(1)
    records = t.stop(sig)  # asserts exit code 0
    assert [r["request"]["path"] for r in records] == ["/one-hit"]
    rest = [ln for ln in t.stderr_lines()
            if not re.fullmatch(rf"attached pid={s.pid} python=\S+ probe=(raise|assert|watch)", ln)]
    assert len(rest) == 1 and rest[0].strip(), f"want a one-line summary, stderr: {t.stderr_lines()}"
    still_serving(s)
