"""Reach: stripped interpreters (issue 3).

A stripped copy of each pyenv libpython (``strip`` of the real file) is put
first on LD_LIBRARY_PATH of a uvicorn started before the tracer; the test
checks the server really maps the stripped copy, then that N failing requests
give exactly N records with their paths and the right accessor.
"""
import dataclasses
import http.client
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import INTERPRETERS, access_line, free_port, http_request, session_raise_frame


def mapped_files(pid: int) -> set:
    out = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                out.add(parts[5].strip())
    return out


def has_symtab(path: Path) -> bool:
    r = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True,
                       check=True)
    return " .symtab " in r.stdout


@pytest.fixture(params=["pyenv-3.10", "pyenv-3.11", "pyenv-3.12", "pyenv-3.13"])
def stripped_interp(request, tmp_path):
    base = INTERPRETERS[request.param].require()
    lib = Path(base.python).parents[1] / "lib" / f"libpython3.{base.minor}.so.1.0"
    if not lib.exists():
        pytest.skip(f"{base.name}: {lib} not found (not a shared-libpython build)")
    if shutil.which("strip") is None:
        pytest.fail("strip (binutils) is not installed; scripts/deps.sh installs it")
    libdir = tmp_path / "stripped-lib"
    libdir.mkdir()
    copy = libdir / lib.name
    subprocess.run(["strip", "-o", str(copy), str(lib)], check=True)
    assert not has_symtab(copy)
    interp = dataclasses.replace(base, extra_env={"LD_LIBRARY_PATH": str(libdir)},
                                 _module_ok={})
    return interp, copy


@pytest.mark.parametrize("probe", ["assert", "raise"])
def test_stripped_libpython(stripped_interp, tracers, servers, probe):
    """Both probes on a stripped copy: the assert probe finds opcode_targets
    by its shape, the raise probe _PyErr_SetObject (3.13: by the jump its
    exported callers share)."""
    interp, copy = stripped_interp
    s = servers.start(interp, "mw_no_session")
    maps = mapped_files(s.pid)
    assert str(copy) in maps, f"server does not map the stripped copy {copy}: {sorted(maps)}"
    raise_frame = session_raise_frame(interp)

    t = tracers.start([s], extra=["--probe", probe])
    assert t.wait_attached(s.pid, interp.tracer_version, probe=probe) == probe
    tag = uuid.uuid4().hex[:8]
    paths = [f"/stripped/{i}/{tag}" for i in range(4)]
    for p in paths:
        assert http_request(s.port, p).status == 500
    t.wait_records(len(paths))
    records = t.stop()

    assert sorted(r["request"]["path"] for r in records) == sorted(paths), records
    acc_line = access_line("mw_no_session", "ReadsSession.dispatch")
    for r in records:
        assert r["pid"] == s.pid
        assert r["python"] == interp.tracer_version
        top = {k: r["stack"][0][k] for k in ("function", "file", "line")}
        assert top == {k: raise_frame[k] for k in ("function", "file", "line")}, r
        assert r["accessor"]["function"] == interp.fn("ReadsSession.dispatch"), r
        assert r["accessor"]["line"] == acc_line, r
    assert s.alive()


# ---------------------------------------------------------------------------
# Discovery: no -p. The tracer traces every ASGI server on the machine, so
# each test only looks at the records and attach lines of its own processes.
# ---------------------------------------------------------------------------

import os
import signal
import threading

WATCHING = r"sessiontrace: watching for ASGI servers \(\d+ traced now\)"


def proc_table() -> dict:
    """pid -> (ppid, cmdline) for every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError, ValueError):
            continue
        out[int(d)] = (ppid, cmd)
    return out


def descendants(pid: int) -> dict:
    table = proc_table()
    found, todo = {}, [pid]
    while todo:
        p = todo.pop()
        for c, (pp, cmd) in table.items():
            if pp == p and c not in found:
                found[c] = cmd
                todo.append(c)
    return found


def workers_of(pid: int, n: int, timeout: float = 20.0) -> set:
    """The n serving workers under pid (not multiprocessing's resource tracker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w = {p for p, cmd in descendants(pid).items() if "resource_tracker" not in cmd}
        if len(w) == n:
            return w
        time.sleep(0.1)
    pytest.fail(f"expected {n} workers under {pid}, found {descendants(pid)}")


def start_discovery(tracers, tmp_path):
    json_path = tmp_path / f"discovery-{len(tracers.all)}.jsonl"
    t = tracers.spawn(["-j", str(json_path), "-q"], json_path)
    t.wait_line(WATCHING, 10.0)
    return t


def wait_attached(t, pids, timeout: float = 10.0):
    for p in pids:
        t.wait_line(rf"attached pid={p} python=\S+ probe=(raise|assert|watch)", timeout)


def drive(t, port, workers, tag, *, min_requests=16, max_requests=120):
    """Send failing requests until records show every worker served one;
    returns (paths, records of these workers)."""
    paths = []
    seen = set()
    i = 0
    while i < max_requests:
        batch = [f"/disc/{tag}/{i + k}" for k in range(4)]
        i += 4
        res = {}

        def one(p):
            res[p] = http_request(port, p).status

        ths = [threading.Thread(target=one, args=(p,)) for p in batch]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        assert all(res[p] == 500 for p in batch), res
        paths += batch
        if i >= min_requests:
            recs = [r for r in t.wait_records(0, timeout=0.1, settle=0.3)
                    if r["pid"] in workers and r["request"]["path"].startswith(f"/disc/{tag}/")]
            seen = {r["pid"] for r in recs}
            if seen == set(workers) and len(recs) == len(paths):
                break
    recs = [r for r in t.wait_records(0, settle=1.0)
            if r["pid"] in workers and r["request"]["path"].startswith(f"/disc/{tag}/")]
    return paths, recs


def check_discovered(t, paths, recs, workers):
    got = sorted(r["request"]["path"] for r in recs)
    assert got == sorted(paths), f"records {len(got)} for {len(paths)} requests"
    assert {r["pid"] for r in recs} == set(workers), \
        f"records from {sorted({r['pid'] for r in recs})}, workers {sorted(workers)}"
    for r in recs:
        assert r["exception"]["type"] == "AssertionError"
        # workers have no app spec on their command line: the server's
        assert r["service"] == "mw_no_session:app", r["service"]


def not_attached(t, pid):
    """No attached line for pid (once the tracer has stopped)."""
    assert not [l for l in t.stderr_lines() if l.startswith(f"attached pid={pid} ")], \
        (pid, t.stderr_lines())


def test_uvicorn_workers_found_without_p(interp, tracers, servers, tmp_path):
    """uvicorn --workers 2 running before the tracer: both spawned workers
    are found (no -p): each has imported the app and holds the listening
    socket the master handed it. The master (which never imports the app)
    and the resource tracker are not traced; every failing request is
    recorded exactly once, by the worker that served it."""
    s = servers.start(interp, "mw_no_session", argv=[
        "{python}", "-m", "uvicorn", "mw_no_session:app", "--host", "127.0.0.1",
        "--port", "{port}", "--app-dir", "{apps}", "--no-access-log", "--workers", "2",
    ] + interp.uvicorn_flags())
    workers = workers_of(s.pid, 2)
    t = start_discovery(tracers, tmp_path)
    wait_attached(t, sorted(workers))
    tracker = [p for p, c in descendants(s.pid).items() if "resource_tracker" in c]
    paths, recs = drive(t, s.port, workers, uuid.uuid4().hex[:8])
    t.stop()
    check_discovered(t, paths, recs, workers)
    for p in tracker + [s.pid]:
        not_attached(t, p)


def test_uvicorn_workers_started_after_tracer(tracers, servers, tmp_path):
    """The tracer runs first; uvicorn --workers 2 starts later: its workers
    (spawned: python -c 'from multiprocessing.spawn ...') are traced before
    they serve, from the exec events."""
    from conftest import INTERPRETERS
    interp = INTERPRETERS["debian-3.11"].require()
    t = start_discovery(tracers, tmp_path)
    s = servers.start(interp, "mw_no_session", argv=[
        "{python}", "-m", "uvicorn", "mw_no_session:app", "--host", "127.0.0.1",
        "--port", "{port}", "--app-dir", "{apps}", "--no-access-log", "--workers", "2"])
    workers = workers_of(s.pid, 2)
    wait_attached(t, sorted(workers))
    paths, recs = drive(t, s.port, workers, uuid.uuid4().hex[:8])
    t.stop()
    check_discovered(t, paths, recs, workers)
    not_attached(t, s.pid)


def test_gunicorn_workers_and_respawn(tracers, servers, tmp_path):
    """gunicorn -k uvicorn.workers.UvicornWorker -w 2 (forked workers, no
    exec): found without -p; a worker killed with SIGKILL is forgotten and
    its replacement, forked later by the master (which listens but never
    imports the app: not traced, its forks reported), is traced."""
    from conftest import INTERPRETERS
    interp = INTERPRETERS["debian-3.11"].require()
    if not os.access("/usr/bin/gunicorn", os.X_OK):
        pytest.fail("gunicorn is not installed; scripts/deps.sh installs it")
    s = servers.start(interp, "mw_no_session", argv=[
        "/usr/bin/gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "2",
        "-b", "127.0.0.1:{port}", "--chdir", "{apps}", "mw_no_session:app"])
    workers = workers_of(s.pid, 2)
    t = start_discovery(tracers, tmp_path)
    wait_attached(t, sorted(workers))
    paths, recs = drive(t, s.port, workers, uuid.uuid4().hex[:8])
    check_discovered(t, paths, recs, workers)

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    t.wait_line(rf"sessiontrace: pid={victim} exited; still tracing \d+ process\(es\)", 10.0)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = workers_of(s.pid, 2)
        if victim not in now:
            break
        time.sleep(0.1)
    assert victim not in now
    (new,) = now - workers
    wait_attached(t, [new])
    tag = uuid.uuid4().hex[:8]
    paths2, recs2 = drive(t, s.port, now, tag)
    records = t.stop()
    recs2 = [r for r in records if r["pid"] in now and f"/{tag}/" in r["request"]["path"]]
    check_discovered(t, paths2, recs2, now)
    assert not [r for r in records if r["pid"] == victim and f"/{tag}/" in r["request"]["path"]]
    not_attached(t, s.pid)


# ---------------------------------------------------------------------------
# Containers: a server in its own pid and mount namespaces (unshare), running
# an interpreter file that exists only inside its mount namespace.
# ---------------------------------------------------------------------------

NS_SCRIPT = {
    # pyenv: libpython copied to a tmpfs only the namespace sees
    "pyenv": ('mount -t tmpfs stctr /mnt && cp "$LIB" /mnt/ && '
              'LD_LIBRARY_PATH=/mnt exec "$PY" -m uvicorn mw_no_session:app --host 127.0.0.1 '
              '--port "$PORT" --app-dir "$APPS" --no-access-log --http h11 --loop asyncio'),
    # Debian's static python3.11: the executable itself copied there
    "debian": ('mount -t tmpfs stctr /mnt && cp "$PY" /mnt/python3.11 && '
               'PYTHONHOME=/usr exec /mnt/python3.11 -m uvicorn mw_no_session:app '
               '--host 127.0.0.1 --port "$PORT" --app-dir "$APPS" --no-access-log'),
    # a distro interpreter (scripts/rootfs.sh) copied to a tmpfs in its root
    # filesystem that only the namespace sees, then run with chroot
    "rootfs": ('mount -t tmpfs stctr "$ROOT/mnt" && cp "$ROOT$PY" "$ROOT/mnt/" && '
               'PYTHONHOME=/usr exec chroot "$ROOT" "/mnt/$(basename "$PY")" -m uvicorn '
               'mw_no_session:app --host 127.0.0.1 --port "$PORT" --app-dir "$APPS" '
               '--no-access-log'),
}


@pytest.mark.parametrize("name", ["debian-3.11", "pyenv-3.12", "sid-3.14"])
@pytest.mark.parametrize("mode", ["p", "discovery"])
def test_namespaces(name, mode, tracers, servers, tmp_path):
    """pid + mount namespaces (unshare), the interpreter file only inside;
    sid-3.14: unshare plus chroot into a Debian sid root filesystem."""
    from conftest import INTERPRETERS
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is not installed; scripts/deps.sh installs it")
    interp = INTERPRETERS[name].require()
    kind = "rootfs" if interp.root else "pyenv" if interp.pyenv else "debian"
    lib = Path(interp.python).parents[1] / "lib" / f"libpython3.{interp.minor}.so.1.0"
    interp = dataclasses.replace(interp, extra_env={"LIB": str(lib), "PY": interp.python,
                                                    "ROOT": interp.root or "",
                                                    "APPS": str(Path(__file__).parents[1] / "apps")},
                                 _module_ok={})
    s = servers.start(interp, "mw_no_session", argv=[
        "unshare", "--pid", "--mount", "--fork", "--kill-child", "--mount-proc",
        "sh", "-c", f'PORT={{port}}; export PORT; {NS_SCRIPT[kind]}'])
    (py,) = workers_of(s.pid, 1)  # the interpreter, pid 1 in its namespace
    with open(f"/proc/{py}/status") as f:
        nspid = [l.split()[1:] for l in f if l.startswith("NSpid:")][0]
    assert nspid == [str(py), "1"], nspid
    interp_file = "/mnt/" + {"pyenv": lib.name, "debian": "python3.11",
                             "rootfs": Path(interp.python).name}[kind]
    assert [f for f in mapped_files(py) if f.endswith(interp_file)], mapped_files(py)
    assert not os.path.exists((interp.root or "") + interp_file), \
        "the interpreter must exist only inside"

    if mode == "p":
        json_path = tmp_path / "ns.jsonl"
        t = tracers.spawn(["-p", str(py), "-j", str(json_path), "-q"], json_path)
    else:
        t = start_discovery(tracers, tmp_path)
    t.wait_line(rf"attached pid={py} python={re.escape(interp.tracer_version)} "
                rf"probe=(raise|assert|watch) ns_pid=1", 10.0)
    tag = uuid.uuid4().hex[:8]
    paths = [f"/ns/{tag}/{i}" for i in range(3)]
    for p in paths:
        assert http_request(s.port, p).status == 500
    t.wait_records(len(paths) if mode == "p" else 0, settle=1.0)
    records = [r for r in t.stop() if r["pid"] == py]
    assert sorted(r["request"]["path"] for r in records) == sorted(paths), records
    for r in records:
        assert r["ns_pid"] == 1, r
        assert r["tid"] == py, r
        assert r["accessor"]["function"] == interp.fn("ReadsSession.dispatch"), r


def test_hypercorn_and_reload_found(tracers, servers, tmp_path):
    """hypercorn, and the serving child of uvicorn --reload (spawned by the
    reloader, which holds the socket but never imports the app: not traced),
    are found without -p."""
    from conftest import INTERPRETERS
    base = INTERPRETERS["debian-3.11"].require()
    apps = str(Path(__file__).parents[1] / "apps")
    interp = dataclasses.replace(base, extra_env={"PYTHONPATH": apps}, _module_ok={})
    hyper = servers.start(interp, "mw_no_session", argv=[
        "{python}", "-m", "hypercorn", "--bind", "127.0.0.1:{port}", "mw_no_session:app"])
    reload = servers.start(base, "mw_no_session", argv=[
        "{python}", "-m", "uvicorn", "mw_no_session:app", "--host", "127.0.0.1",
        "--port", "{port}", "--app-dir", "{apps}", "--no-access-log", "--reload",
        "--reload-dir", "{apps}"])
    (child,) = workers_of(reload.pid, 1)
    t = start_discovery(tracers, tmp_path)
    wait_attached(t, [hyper.pid, child])
    tag = uuid.uuid4().hex[:8]
    want = {hyper.pid: [f"/h/{tag}/{i}" for i in range(3)],
            child: [f"/r/{tag}/{i}" for i in range(3)]}
    for p in want[hyper.pid]:
        assert http_request(hyper.port, p).status == 500
    for p in want[child]:
        assert http_request(reload.port, p).status == 500
    t.wait_records(0, settle=1.0)
    records = t.stop()
    for pid, paths in want.items():
        got = sorted(r["request"]["path"] for r in records
                     if r["pid"] == pid and f"/{tag}/" in r["request"]["path"])
        assert got == sorted(paths), (pid, records)
    assert all(r["service"] == "mw_no_session:app" for r in records
               if r["pid"] in want), [r["service"] for r in records]
    not_attached(t, reload.pid)


EXECS = re.compile(r"^sessiontrace_exec_events_total (\d+)$", re.M)


def exec_events(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        return int(EXECS.search(conn.getresponse().read().decode()).group(1))
    finally:
        conn.close()


def test_unrelated_execs_stay_in_the_kernel(tracers, servers, tmp_path):
    """Node mode (issue 17): 300 execs of /bin/true reach user space 0
    times (the BPF exec filter's output, counted in BPF); 5 of python3 and
    one shebang script whose interpreter is python reach it exactly once each."""
    port = free_port()
    json_path = tmp_path / "node.jsonl"
    t = tracers.spawn(["-j", str(json_path), "-q", "-m", f"127.0.0.1:{port}"], json_path)
    t.wait_line(WATCHING, 10.0)
    before = exec_events(port)
    r = subprocess.run(["/bin/sh", "-c", "i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i+1)); done"],
                       timeout=60)
    assert r.returncode == 0
    assert exec_events(port) == before
    for _ in range(5):
        subprocess.run(["/usr/bin/python3", "-c", "pass"], check=True, timeout=30)
    script = tmp_path / "serve-like"
    script.write_text("#!/usr/bin/python3\nimport sys\n")
    script.chmod(0o755)
    subprocess.run([str(script)], check=True, timeout=30)
    assert exec_events(port) == before + 6
    t.stop()
