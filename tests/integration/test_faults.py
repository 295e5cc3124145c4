"""Faults (issue 7): the tracer killed mid-storm, a target killed mid-storm,
the interpreter file replaced on disk, a reused pid, a full ring buffer, and
a kernel without BTF or uprobes. Servers first, then the tracer."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import INTERPRETERS, TRACER_BIN, free_port, http_request



def links_of(pid):
    """ids of the BPF links process pid holds (link_id in /proc/PID/fdinfo)."""
    ids = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fdinfo")
    except FileNotFoundError:
        return ids
    for fd in fds:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                m = re.search(r"^link_id:\s+(\d+)$", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    return ids


def all_links():
    out = subprocess.run(["bpftool", "-j", "link", "show"], capture_output=True, text=True,
                         check=True).stdout
    return {l["id"] for l in json.loads(out or "[]")}


def perf_fds(pid):
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[perf_event]":
                    n += 1
            except OSError:
                pass
    except FileNotFoundError:
        return 0
    return n


class Storm:
    """Failing requests in a loop on a few threads until stopped."""

    def __init__(self, port, prefix, nthreads=2):
        self.port, self.prefix, self.sent, self.stop_ = port, prefix, 0, False
        self.lock = threading.Lock()
        self.statuses = {}
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True)
                        for k in range(nthreads)]
        for t in self.threads:
            t.start()

    def run(self, k):
        i = 0
        while not self.stop_:
            try:
                st = http_request(self.port, f"{self.prefix}/{k}/{i}").status
            except OSError:
                st = "error"
            with self.lock:
                self.sent += 1
                self.statuses[st] = self.statuses.get(st, 0) + 1
            i += 1

    def stop(self):
        self.stop_ = True
        for t in self.threads:
            t.join(timeout=30)
        return self.sent


def test_tracer_sigkill_leaves_nothing(debian, tracers, servers):
    s = servers.start(debian, "mw_no_session")
    t = tracers.start([s])
    held = links_of(t.pid)
    assert held, "the tracer holds no BPF link"
    assert held <= all_links()
    assert perf_fds(t.pid) >= 1
    storm = Storm(s.port, "/kill")
    time.sleep(1.5)
    t.proc.kill()
    t.proc.wait(timeout=10)
    time.sleep(0.5)
    storm.stop()
    assert not (held & all_links()), "the killed tracer's BPF links still exist"
    events = "/sys/kernel/tracing/uprobe_events"
    if os.path.exists(events):
        with open(events) as f:
            leftovers = [l for l in f if "sessiontrace" in l or str(t.pid) in l]
        assert not leftovers, leftovers
    assert storm.statuses.get(500, 0) > 0 and set(storm.statuses) == {500}, storm.statuses
    assert http_request(s.port, "/after-kill").status == 500 and s.alive()
    # a new tracer attaches and records again
    t2 = tracers.start([s])
    assert http_request(s.port, "/again").status == 500
    assert [r["request"]["path"] for r in t2.wait_records(1)] == ["/again"]
    t2.stop()


def test_target_killed_mid_storm(debian, tracers, servers):
    a = servers.start(debian, "mw_no_session")
    b = servers.start(debian, "mw_no_session")
    # every record in full: the survivors share the storm's key (service, route, ...)
    t = tracers.start([a, b], extra=["--record-rate", "0"])
    storm = Storm(a.port, "/dying")
    time.sleep(1.0)
    a.kill(signal.SIGKILL)
    t.wait_line(rf"sessiontrace: pid={a.pid} exited.*", 10)
    storm.stop()
    for i in range(3):
        assert http_request(b.port, f"/survivor/{i}").status == 500
    t.wait_records(1)
    recs = t.stop()
    assert sorted(r["request"]["path"] for r in recs if r["pid"] == b.pid) == \
        [f"/survivor/{i}" for i in range(3)]
    assert all(r["pid"] in (a.pid, b.pid) for r in recs)


def test_interpreter_replaced_on_disk(tracers, servers, tmp_path):
    interp = INTERPRETERS["pyenv-3.12"].require()
    lib = os.path.join(os.path.dirname(os.path.dirname(interp.python)), "lib",
                       "libpython3.12.so.1.0")
    libdir = tmp_path / "lib"
    libdir.mkdir()
    copy = libdir / "libpython3.12.so.1.0"
    shutil.copy2(lib, copy)
    interp.extra_env = dict(interp.extra_env, LD_LIBRARY_PATH=str(libdir))
    try:
        s = servers.start(interp, "mw_no_session")
        t = tracers.start([s])
        # replace the file the server maps: a new inode at the same path, then remove it
        tmp = libdir / "new"
        shutil.copy2("/bin/true", tmp)
        os.replace(tmp, copy)
        for i in range(2):
            assert http_request(s.port, f"/replaced/{i}").status == 500
        assert [r["request"]["path"] for r in t.wait_records(2)] == ["/replaced/0", "/replaced/1"]
        # a tracer started now opens the running inode through /proc/PID/map_files
        os.unlink(copy)
        t2 = tracers.start([s])
        assert http_request(s.port, "/deleted").status == 500
        assert [r["request"]["path"] for r in t2.wait_records(1)] == ["/deleted"]
        t2.stop()
        t.stop()
    finally:
        interp.extra_env.pop("LD_LIBRARY_PATH", None)


def test_pid_reuse(debian, tracers, servers, tmp_path):
    """A process exits and another one gets its pid (ns_last_pid): the new
    one is traced as itself, and no record is attributed across them."""
    s1 = servers.start(debian, "mw_no_session")
    t = tracers.spawn(["-q", "-j", str(tmp_path / "reuse.jsonl")], tmp_path / "reuse.jsonl")
    t.wait_attached(s1.pid, debian.tracer_version)
    for i in range(3):
        assert http_request(s1.port, f"/first/{i}").status == 500
    t.wait_records(3)
    pid = s1.pid
    s1.kill(signal.SIGKILL)
    s1.proc.wait(timeout=10)
    t.wait_line(rf"sessiontrace: pid={pid} exited.*", 10)
    s2 = None
    for _ in range(20):
        try:
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(pid - 1))
        except OSError as e:
            pytest.skip(f"cannot choose the next pid (/proc/sys/kernel/ns_last_pid: {e})")
        cand = servers.start(debian, "metrics_app")
        if cand.pid == pid:
            s2 = cand
            break
        cand.stop()
    if s2 is None:
        pytest.skip(f"could not get pid {pid} again in 20 tries (other processes forked)")
    # the second attached line for that pid: the first was the earlier process's
    deadline = time.monotonic() + 10
    while sum(l.startswith(f"attached pid={pid} ") for l in t.stderr_lines()) < 2:
        assert time.monotonic() < deadline, t.stderr_lines()
        time.sleep(0.02)
    for i in range(2):
        assert http_request(s2.port, f"/items/{i}").status == 500
    t.wait_records(5)
    recs = t.stop()
    first = [r for r in recs if r["request"]["path"].startswith("/first/")]
    second = [r for r in recs if r["request"]["path"].startswith("/items/")]
    assert len(first) == 3 and len(second) == 2, [r["request"]["path"] for r in recs]
    assert {r["service"] for r in first} == {"mw_no_session:app"}
    assert {r["service"] for r in second} == {"metrics_app:app"}
    assert {r["pid"] for r in recs} == {pid}


def test_ring_buffer_overflow_counted(debian, tracers, servers):
    """The tracer (both processes) is stopped (SIGSTOP) while a storm fills the ring buffer:
    every failure is a hit; past half the buffer the process is held to its
    budget (ST_BUDGET_RATE), so the rest of the buffer stays free for other
    processes, and records + lost + over_budget == hits == failures sent."""
    s = servers.start(debian, "mw_no_session")
    mport = free_port()
    t = tracers.start([s], extra=["-m", str(mport), "--record-rate", "0"])
    # the tracer and its decoding child (one process group: it leads its session)
    os.killpg(t.pid, signal.SIGSTOP)
    storm = Storm(s.port, "/flood", nthreads=3)
    deadline = time.time() + 90
    # 4 MiB ring buffer, ~3.3 KB a record: ~1270 fit
    while time.time() < deadline and storm.sent < 2200:
        time.sleep(0.2)
    sent = storm.stop()
    assert set(storm.statuses) == {500}, storm.statuses
    os.killpg(t.pid, signal.SIGCONT)
    # the metrics count every hit: the lost ones in the __lost__ series
    deadline = time.time() + 60
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", mport, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        series = {m.group(1): int(m.group(2)) for m in re.finditer(
            r'^sessiontrace_assertions_total\{service="([^"]*)",.*\} (\d+)$', text, re.M)}
        if sum(series.values()) >= sent or time.time() > deadline:
            break
        time.sleep(0.2)
    assert sum(series.values()) == sent, (series, sent)
    assert re.search(rf"^sessiontrace_probe_hits_total {sent}$", text, re.M), text
    t.send(signal.SIGINT)
    assert t.wait() == 0
    sm = t.check_accounting()
    records, lost, hits = sm["records"], sm["lost"], sm["hits"]
    over = sm["why"].get("over_budget", 0)
    assert hits == sent, (hits, sent)
    assert records + lost + over == hits and sm["dropped"] == over, sm
    # ~1270 records fit; from half of them on, only the process's 200-token burst
    assert over > 0 and records < 1270, sm
    assert series.get("__over_budget__") == over, (series, over)
    assert series.get("__lost__", 0) == lost, (series, lost)
    assert re.search(rf"^sessiontrace_events_lost_total {lost}$", text, re.M), text
    assert re.search(rf'^sessiontrace_hits_dropped_total\{{reason="over_budget"\}} {over}$',
                     text, re.M), text
    assert len(t.read_records()) == records


@pytest.mark.parametrize("what,mount,message", [
    ("btf", ["mount", "--bind", "/dev/null", "/sys/kernel/btf/vmlinux"], "no BTF"),
    ("uprobes", ["mount", "-t", "tmpfs", "none", "/sys/bus/event_source/devices/uprobe"],
     "no uprobe support"),
])
def test_kernel_without(debian, servers, what, mount, message):
    """No BTF, no uprobes (hidden in a private mount namespace): one clear
    line, exit 1, nothing attached."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is missing")
    s = servers.start(debian, "mw_no_session")
    script = " ".join(mount) + f" && exec {TRACER_BIN} -q -p {s.pid}"
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                       timeout=30)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 1 and len(lines) == 1 and message in lines[0], (r.returncode, lines)
    assert "attached" not in r.stderr
    assert http_request(s.port, "/x").status == 500
