"""Node mode finds a process by what it is, not by its name (issue 24): a
CPython process that has imported starlette and holds a listening socket.
Every server here starts after the tracer, which has no -p; N failing
requests give exactly N records from the serving process, with their paths
and cause. Non-servers (starlette imported but no socket, a sleeping python
-c, a server that is not Python) are never attached, and -v says why once.
"""
import http.client
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import APPS, INTERPRETERS, free_port, http_request
from test_reach import WATCHING, not_attached, workers_of

CHECKS = re.compile(r'^sessiontrace_discovery_checks_total\{verdict="(\w+)"\} (\d+)$', re.M)


def node_tracer(tracers, tmp_path, port=None):
    """sessiontrace without -p, -v (why each Python process is or is not
    traced), records in a file, /metrics on port."""
    json_path = tmp_path / f"node-{len(tracers.all)}.jsonl"
    args = ["-j", str(json_path), "-q", "-v", "--record-rate", "0"]
    if port:
        args += ["-m", f"127.0.0.1:{port}"]
    t = tracers.spawn(args, json_path)
    t.wait_line(WATCHING, 10.0)
    return t


def scrape(port) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def checks(port):
    return {k: int(v) for k, v in CHECKS.findall(scrape(port))}


# How each shape is started: argv (a {python} entry is the interpreter command),
# and the process that serves (None: the started one; "workers": its N children).
SHAPES = {
    "python main.py": (["{python}", "{apps}/run_main.py", "{port}"], None),
    "asyncio Server.serve": (["{python}", "{apps}/serve_asyncio.py", "{port}"], None),
    "python -m uvicorn": (["{python}", "-m", "uvicorn", "mw_no_session:app", "--host",
                           "127.0.0.1", "--port", "{port}", "--app-dir", "{apps}"], None),
    "daphne": (["{python}", "-m", "daphne", "-b", "127.0.0.1", "-p", "{port}",
                "mw_no_session:app"], None),
    "hypercorn": (["{python}", "-m", "hypercorn", "--bind", "127.0.0.1:{port}",
                   "mw_no_session:app"], None),
    "gunicorn -w 2": (["/usr/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "2",
                       "-b", "127.0.0.1:{port}", "--chdir", "{apps}", "mw_no_session:app"], 2),
    "uvicorn --workers 2": (["{python}", "-m", "uvicorn", "mw_no_session:app", "--host",
                             "127.0.0.1", "--port", "{port}", "--app-dir", "{apps}",
                             "--workers", "2"], 2),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_found_when_started_after_the_tracer(shape, tracers, servers, tmp_path):
    """Each shape, started after the tracer (Debian's python3.11 and its
    packages: daphne, hypercorn, gunicorn): the serving processes are
    attached and give exactly one record per failing request."""
    import dataclasses
    base = INTERPRETERS["debian-3.11"].require()
    interp = dataclasses.replace(base, extra_env={"PYTHONPATH": str(APPS)}, _module_ok={})
    argv, nworkers = SHAPES[shape]
    t = node_tracer(tracers, tmp_path)
    s = servers.start(interp, "mw_no_session", argv=argv, http_ready=False)
    serving = sorted(workers_of(s.pid, nworkers)) if nworkers else [s.pid]
    for p in serving:
        t.wait_line(rf"attached pid={p} python=3\.11\.\d+ probe=assert", 10.0)
    tag = uuid.uuid4().hex[:8]
    paths = [f"/found/{tag}/{i}" for i in range(6)]
    for p in paths:
        assert http_request(s.port, p).status == 500, p
    t.wait_records(len(paths), settle=0.5)
    records = [r for r in t.stop() if f"/{tag}/" in r["request"]["path"]]
    assert sorted(r["request"]["path"] for r in records) == sorted(paths)
    assert {r["pid"] for r in records} <= set(serving), (records, serving)
    assert all(r["cause"] == "missing_middleware" for r in records)
    if nworkers:
        not_attached(t, s.pid)  # the master never imports the app


def test_found_on_314_with_the_watch_trigger(tracers, servers, tmp_path):
    """python main.py on sid's 3.14, started after the tracer: found by its
    listen(), traced with the watch trigger."""
    import dataclasses
    base = INTERPRETERS["sid-3.14"].require()
    interp = dataclasses.replace(base, extra_env={"PYTHONPATH": str(APPS)}, _module_ok={})
    t = node_tracer(tracers, tmp_path)
    s = servers.start(interp, "run_main", argv=["{python}", "{apps}/run_main.py", "{port}"],
                      http_ready=False)
    t.wait_line(rf"attached pid={s.pid} python=3\.14\.\d+ probe=watch", 10.0)
    paths = [f"/w/{i}" for i in range(4)]
    for p in paths:
        assert http_request(s.port, p).status == 500
    t.wait_records(len(paths))
    records = [r for r in t.stop() if r["pid"] == s.pid]
    assert [r["request"]["path"] for r in records] == paths


def test_non_servers_are_not_attached(tracers, servers, tmp_path):
    """Started after the tracer: a Python process that imports starlette and
    never listens, a sleeping python -c, and a server that is not Python
    (perl, listening on a port): none is attached; -v says once why for the
    Python ones, after their schedule of checks; a real server started beside
    them is; the checks are counted by verdict."""
    port = free_port()
    t = node_tracer(tracers, tmp_path, port)
    py = "/usr/bin/python3.11"
    procs = {
        "starlette": subprocess.Popen([py, "-c", "import starlette.applications, time; "
                                       "time.sleep(30)"]),
        "sleep": subprocess.Popen([py, "-c", "import time; time.sleep(30)"]),
        "perl": subprocess.Popen(["perl", "-MIO::Socket::INET", "-e",
                                  "IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',"
                                  " LocalPort => %d, ReuseAddr => 1) or die; sleep 30"
                                  % free_port()]),
    }
    try:
        real = servers.start(INTERPRETERS["debian-3.11"].require(), "mw_no_session")
        t.wait_line(rf"attached pid={real.pid} .*", 10.0)
        for name in ("starlette", "sleep"):
            t.wait_line(rf"sessiontrace: pid {procs[name].pid}: not traced \(no_listener\): "
                        rf"holds no listening socket", 12.0)
        got = checks(port)
        t.stop()
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
    for p in procs.values():
        not_attached(t, p.pid)
        said = [l for l in t.stderr_lines() if l.startswith(f"sessiontrace: pid {p.pid}: ")]
        assert len(said) <= 1, said  # once per process
    assert not [l for l in t.stderr_lines() if f"pid {procs['perl'].pid}:" in l]
    assert got["traced"] >= 1 and got["no_listener"] >= 2, got
    assert set(got) == {"traced", "not_python", "helper", "not_ready", "no_starlette",
                        "no_listener", "refused", "gone"}, got


def test_lost_process_events_mean_a_rescan(tracers, servers, tmp_path):
    """The tracer stopped (SIGSTOP) while a Python process calls listen()
    20,000 times, more than the process-event ring buffer holds, then a
    server starts: its exec and listen are lost. Continued, the tracer counts
    the loss (sessiontrace_proc_events_lost_total), rescans /proc and attaches
    the server, which records each failing request exactly once."""
    port = free_port()
    t = node_tracer(tracers, tmp_path, port)
    py = INTERPRETERS["debian-3.11"].require()
    t.send(signal.SIGSTOP)
    try:
        subprocess.run([py.host_path, "-c", "import socket\nfor _ in range(20000):\n"
                        "    s = socket.socket(); s.listen(); s.close()"],
                       check=True, timeout=60)
        s = servers.start(py, "mw_no_session")
    finally:
        t.send(signal.SIGCONT)
    lost = t.wait_line(r"sessiontrace: (\d+) process events lost: rescanning /proc", 10.0)
    t.wait_line(rf"attached pid={s.pid} python=3\.11\.\d+ probe=assert", 10.0)
    n = int(re.search(r"(\d+) process events lost", lost).group(1))
    metric = re.search(r"^sessiontrace_proc_events_lost_total (\d+)$", scrape(port), re.M)
    assert metric and int(metric.group(1)) == n > 0, (n, metric)
    paths = [f"/lost/{i}" for i in range(3)]
    for p in paths:
        assert http_request(s.port, p).status == 500
    t.wait_records(len(paths), settle=0.5)
    records = [r for r in t.stop() if r["pid"] == s.pid]
    assert [r["request"]["path"] for r in records] == paths


def test_a_flood_of_bogus_interpreters(tracers, servers, tmp_path):
    """1,000 processes named python3.12, owned by nobody, each exporting
    _PyRuntime and Py_Version over garbage and listening on a port
    (tests/apps/bogus_python.c), exec'd at once: one user's processes take at
    most a quarter of discovery's 1,024 slots (said once), none is attached;
    a real server started right after (root) is attached and records each
    failing request exactly once. (The time to attach and the tracer's CPU
    for the flood are measured by make bench.)"""
    # where nobody can run it (pytest's directories are root's alone)
    where = pathlib.Path(tempfile.mkdtemp(prefix="st-flood-"))
    os.chmod(where, 0o755)
    bogus = where / "python3.12"
    subprocess.run(["cc", "-O2", "-rdynamic", "-o", str(bogus), str(APPS / "bogus_python.c")],
                   check=True, timeout=120)
    t = node_tracer(tracers, tmp_path)
    flood = subprocess.Popen([str(bogus), "1000"], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(children(flood.pid)) < 1000 and time.monotonic() < deadline:
            time.sleep(0.05)
        kids = children(flood.pid)
        assert len(kids) == 1000, len(kids)
        assert not [k for k in kids if state(k) in ("Z", "X")]  # each runs the flood
        full = t.wait_line(r"sessiontrace: pid \d+: not checked: \d+ processes already waiting, "
                           r"256 of uid 65534 \(said once; a rescan finds it later\)", 10.0)
        s = servers.start(INTERPRETERS["debian-3.11"].require(), "mw_no_session")
        t.wait_line(rf"attached pid={s.pid} python=3\.11\.\d+ probe=assert", 10.0)
        paths = [f"/flood/{i}" for i in range(5)]
        for p in paths:
            assert http_request(s.port, p).status == 500
        t.wait_records(len(paths), settle=0.5)
        records = t.stop()
    finally:
        kids = children(flood.pid)
        os.killpg(flood.pid, signal.SIGKILL)
        flood.wait()
        gone(kids)
        shutil.rmtree(where)
    assert [r["request"]["path"] for r in records if r["request"]["path"] != "/ok"] == paths
    assert {r["pid"] for r in records} == {s.pid}
    assert [l for l in t.stderr_lines() if "not checked:" in l] == [full]
    attached = [l for l in t.stderr_lines() if l.startswith("attached pid=")]
    assert len(attached) == 1 and attached[0].startswith(f"attached pid={s.pid} "), attached


def gone(pids, timeout=30.0):
    """Wait until every pid has been reaped (not even a zombie is left for
    the next test's tracer to find)."""
    deadline = time.monotonic() + timeout
    while any(os.path.exists(f"/proc/{p}") for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []
