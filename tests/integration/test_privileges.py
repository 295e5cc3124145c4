"""Least privilege (issue 7) and the deploy files that rely on it (issue 5).

The capability set the systemd unit and the DaemonSet grant is checked by
running the tracer with exactly that bounding set (setpriv), with -p and
without; one fewer and the uprobe is refused. With -p everything but
CAP_SYS_PTRACE is dropped once attached, and the run goes on. Query values,
headers and cookies never reach any output.
"""
import configparser
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

from conftest import INTERPRETERS, REPO, TRACER_BIN, free_port, http_request

UNIT = REPO / "deploy" / "systemd" / "sessiontrace.service"
DAEMONSET = REPO / "deploy" / "kubernetes" / "daemonset.yaml"
CAP_SYS_PTRACE = 19
CAP_SYS_ADMIN = 21


def unit_caps():
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read_string(UNIT.read_text())
    caps = cp["Service"]["CapabilityBoundingSet"].split()
    assert caps == cp["Service"]["AmbientCapabilities"].split()
    return caps


def status_caps(pid):
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    return {k: int(re.search(rf"^{k}:\s+([0-9a-f]+)$", text, re.M).group(1), 16)
            for k in ("CapEff", "CapPrm", "CapBnd")}


def status_field(pid, key):
    with open(f"/proc/{pid}/status") as f:
        return re.search(rf"^{key}:\s+(.*)$", f.read(), re.M).group(1)


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def node_tracer(tracers, server, extra=()):
    """sessiontrace without -p (node mode), once it has attached to server."""
    out = tracers.tmp_path / f"node-{len(tracers.all)}.jsonl"
    t = tracers.spawn(["-q", "-j", str(out)] + list(extra), out)
    t.wait_attached(server.pid, server.interp.tracer_version)
    return t


def setpriv(caps):
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is missing; scripts/deps.sh installs it")
    spec = "-all," + ",".join("+" + c[len("CAP_"):].lower() for c in caps)
    return ["setpriv", f"--bounding-set={spec}"]


def assert_sandboxed(dec):
    """dec is the decoding process: CAP_SYS_PTRACE only, as uid nobody, not
    dumpable, under the seccomp filter, on every thread (the metrics
    server's too)."""
    assert status_field(dec, "Name") == "st-decoder"
    tids = os.listdir(f"/proc/{dec}/task")
    assert len(tids) >= 2, tids  # the metrics server's thread too
    for tid in tids:
        c = status_caps(f"{dec}/task/{tid}")
        assert c["CapEff"] == c["CapPrm"] == 1 << CAP_SYS_PTRACE, (tid, c)
        assert status_field(f"{dec}/task/{tid}", "Seccomp") == "2", tid  # filter mode
        assert status_field(f"{dec}/task/{tid}", "NoNewPrivs") == "1", tid
        # uid and gid nobody (the tracer runs as root with CAP_SETUID here)
        assert status_field(f"{dec}/task/{tid}", "Uid").split() == ["65534"] * 4, tid
        assert status_field(f"{dec}/task/{tid}", "Gid").split() == ["65534"] * 4, tid
    # not dumpable: its /proc files belong to root, not to its uid
    assert os.stat(f"/proc/{dec}/mem").st_uid == 0


def test_caps_dropped_after_attach(debian, tracers, servers):
    """-p (issue 25): the targets are resolved in a sandboxed child
    (st-resolver, gone once they are), attached, then decoded in the same
    sandbox as node mode's; the attaching process keeps CAP_SYS_PTRACE only."""
    s = servers.start(debian, "mw_no_session")
    port = free_port()
    t = tracers.start([s], extra=["-m", str(port)])
    caps = status_caps(t.pid)
    assert caps["CapEff"] == caps["CapPrm"] == 1 << CAP_SYS_PTRACE, caps
    assert caps["CapBnd"] == 1 << CAP_SYS_PTRACE, caps
    for tid in os.listdir(f"/proc/{t.pid}/task"):
        c = status_caps(f"{t.pid}/task/{tid}")
        assert c["CapEff"] == c["CapPrm"] == 1 << CAP_SYS_PTRACE, (tid, c)
    with open(f"/proc/{t.pid}/status") as f:
        assert re.search(r"^NoNewPrivs:\s+1$", f.read(), re.M)
    kids = children(t.pid)
    assert len(kids) == 1, kids  # the decoder; the resolver has exited
    assert_sandboxed(kids[0])
    for i in range(3):
        assert http_request(s.port, f"/dropped/{i}").status == 500
    recs = t.wait_records(3)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    assert "sessiontrace_probe_hits_total 3\n" in text, text  # BPF map read without CAP_BPF
    records = t.stop()
    assert sorted(r["request"]["path"] for r in records) == [f"/dropped/{i}" for i in range(3)]


SANDBOXED = re.compile(r"sandbox: process (\d+) runs as uid 65534 with CAP_SYS_PTRACE only")
FILTERED = re.compile(r"sandbox: process (\d+): seccomp filter loaded")


def test_resolver_and_inspect_are_sandboxed(debian, tracers, servers):
    """The interpreter file and memory a target chose are parsed in a
    sandbox with -p (the resolving child, then the decoding one) and by
    inspect (its analysis runs in a child): uid nobody, CAP_SYS_PTRACE,
    the seccomp filter, each in a process other than the one that attaches
    (-v says so per process); the results are the same."""
    s = servers.start(debian, "mw_no_session")
    t = tracers.start([s], quiet=False, extra=["-v", "-d", "3"])
    assert http_request(s.port, "/sandboxed").status == 500
    t.wait_records(1)
    assert t.wait() == 0
    lines = t.stderr_lines()
    users = {int(m.group(1)) for m in map(SANDBOXED.search, lines) if m}
    filtered = {int(m.group(1)) for m in map(FILTERED.search, lines) if m}
    assert len(users) == 2 and users == filtered and t.pid not in users, lines
    r = subprocess.run([str(TRACER_BIN), "inspect", "-p", str(s.pid), "-v", "--format", "json"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    users = {int(m.group(1)) for m in map(SANDBOXED.search, r.stderr.splitlines()) if m}
    filtered = {int(m.group(1)) for m in map(FILTERED.search, r.stderr.splitlines()) if m}
    assert len(users) == 1 and users == filtered, r.stderr
    out = json.loads(r.stdout)
    assert out["pid"] == s.pid and out["service"] == "mw_no_session:app", out


def test_node_mode_decoder_is_unprivileged(debian, tracers, servers):
    """Node mode (issue 17, 25): the process that reads and decodes target
    memory holds CAP_SYS_PTRACE only, as uid nobody, not dumpable, under a
    seccomp filter, on every thread; the one that attaches keeps
    CAP_SYS_ADMIN and opens the records file for it (SIGHUP). Checked while
    it serves traffic."""
    s = servers.start(debian, "mw_no_session")
    port = free_port()
    t = node_tracer(tracers, s, ["-m", str(port)])
    for i in range(3):
        assert http_request(s.port, f"/node/{i}").status == 500
    t.wait_records(3)
    kids = children(t.pid)
    assert len(kids) == 1, kids
    dec = kids[0]
    parent = status_caps(t.pid)
    assert parent["CapEff"] & (1 << CAP_SYS_ADMIN), parent
    assert status_field(t.pid, "Seccomp") == "0"
    assert_sandboxed(dec)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    # served from the sandboxed process: the counters map read through the filter
    assert "sessiontrace_probe_hits_total 3\n" in text, text
    assert "sessiontrace_attached_processes 1\n" in text, text
    # SIGHUP to the tracer: the sandboxed process reopens the records file
    moved = t.json_path.with_suffix(".moved")
    os.rename(t.json_path, moved)
    t.send(signal.SIGHUP)
    deadline = time.time() + 10
    while not t.json_path.exists() and time.time() < deadline:
        time.sleep(0.02)
    assert http_request(s.port, "/node/3").status == 500
    t.wait_records(1)
    records = [r for r in t.stop() if r["pid"] == s.pid]
    old = [r for r in map(json.loads, moved.read_text().splitlines())
           if r.get("kind") != "prediction"]
    assert sorted(r["request"]["path"] for r in old if r["pid"] == s.pid) == \
        [f"/node/{i}" for i in range(3)]
    assert [r["request"]["path"] for r in records] == ["/node/3"]
    assert all(r["cause"] == "missing_middleware" for r in old + records), records
    assert not os.path.exists(f"/proc/{dec}/status") or \
        status_field(dec, "State").startswith(("Z", "X"))


def test_node_mode_decoder_death_detaches(debian, tracers, servers):
    """The decoding process dies (here: killed): the tracer says so, exits 1
    and leaves nothing attached; the server goes on serving."""
    s = servers.start(debian, "mw_no_session")
    t = node_tracer(tracers, s)
    dec = children(t.pid)[0]
    os.kill(dec, signal.SIGSEGV)
    rc = t.wait()
    err = "\n".join(t.stderr_lines())
    assert rc == 1, err
    assert "the decoding process died: Segmentation fault" in err, err
    assert "the decoding process exited; detaching everything" in err, err
    assert http_request(s.port, "/after").status == 500 and s.alive()


@pytest.mark.parametrize("mode", ["pid", "discover"])
@pytest.mark.parametrize("name", ["debian-3.11", "sid-3.14"])
def test_unit_capabilities_suffice(name, tracers, servers, tmp_path, mode):
    """The unit's two capabilities attach every trigger: the assert uprobe
    (3.11) and the watch trigger's breakpoint events (3.14)."""
    caps = unit_caps()
    assert caps == ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"], caps
    s = servers.start(INTERPRETERS[name].require(), "mw_no_session")
    out = tmp_path / "r.jsonl"
    args = ["-p", str(s.pid)] if mode == "pid" else []
    p = subprocess.Popen(setpriv(caps) + [str(TRACER_BIN), "-q", "-j", str(out), "-d", "4"] + args,
                         stderr=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(p.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.time() + 10
        while time.time() < deadline and p.poll() is None and \
                not any(l.startswith(f"attached pid={s.pid} ") for l in list(lines)):
            time.sleep(0.02)
        for i in range(2):
            assert http_request(s.port, f"/unit/{mode}/{i}").status == 500
        p.wait(timeout=20)
        reader.join(timeout=5)
        err = "".join(lines)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert f"attached pid={s.pid} " in err, err
    # discovery traces every ASGI server here: only this one's records count
    recs = [r for r in map(json.loads, out.read_text().splitlines())
            if r["pid"] == s.pid and r.get("kind") != "prediction"]
    assert sorted(r["request"]["path"] for r in recs) == [f"/unit/{mode}/{i}" for i in range(2)]


def test_less_than_the_unit_is_refused(debian, servers):
    """Without CAP_SYS_ADMIN (even with CAP_BPF, CAP_PERFMON and
    CAP_CHECKPOINT_RESTORE) this kernel refuses the uprobe: one clear line,
    exit 2, the server untouched."""
    s = servers.start(debian, "mw_no_session")
    caps = ["CAP_BPF", "CAP_PERFMON", "CAP_CHECKPOINT_RESTORE", "CAP_SYS_PTRACE"]
    r = subprocess.run(setpriv(caps) + [str(TRACER_BIN), "-q", "-p", str(s.pid)],
                       capture_output=True, text=True, timeout=30)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "Permission denied" in lines[0] or "Operation not permitted" in lines[0], lines
    assert http_request(s.port, "/x").status == 500 and s.alive()


def test_systemd_unit_verifies(tmp_path):
    sa = shutil.which("systemd-analyze")
    if sa is None:
        pytest.fail("systemd-analyze is missing; scripts/deps.sh installs systemd")
    unit = tmp_path / "sessiontrace.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/sbin/sessiontrace", str(TRACER_BIN)))
    r = subprocess.run([sa, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr


def test_daemonset_matches_unit():
    yaml = pytest.importorskip("yaml", reason="python3-yaml (scripts/deps.sh installs it)")
    ds = yaml.safe_load(DAEMONSET.read_text())
    assert ds["kind"] == "DaemonSet"
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostPID"] is True
    (c,) = spec["containers"]
    sc = c["securityContext"]
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sorted("CAP_" + x for x in sc["capabilities"]["add"]) == sorted(unit_caps())
    assert sc["allowPrivilegeEscalation"] is False and sc.get("privileged") is False
    args = c["args"]
    assert args[args.index("-m") + 1].endswith(":9464") and "-j" in args
    ann = ds["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/port"] == "9464"


def test_image_has_every_runtime_library():
    """deploy/kubernetes/Dockerfile installs the Debian package of every
    library the binary needs (its DT_NEEDED entries, libc aside)."""
    dyn = subprocess.run(["readelf", "-d", str(TRACER_BIN)], capture_output=True, text=True,
                         check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn)
    assert "libseccomp.so.2" in needed, needed
    docker = (REPO / "deploy" / "kubernetes" / "Dockerfile").read_text()
    installed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", docker.split("install", 1)[1]
                               .split("&&", 1)[0]))
    for lib in needed:
        if lib.startswith(("libc.so", "libm.so", "ld-linux")):
            continue
        owner = subprocess.run(["dpkg", "-S", f"*/{lib}"], capture_output=True, text=True)
        pkgs = {line.split(":")[0] for line in owner.stdout.splitlines()
                if "-dev" not in line.split(":")[0]}
        assert pkgs & installed, (lib, pkgs, "not installed by the Dockerfile")


def test_no_secrets_captured(debian, tracers, servers):
    s = servers.start(debian, "mw_no_session")
    port = free_port()
    t = tracers.start([s], quiet=False, extra=["-m", str(port)])
    r = http_request(s.port, "/account?token=QUERYSECRET42&x=1", headers={
        "Cookie": "session=COOKIESECRET42", "Authorization": "Bearer HEADERSECRET42"})
    assert r.status == 500
    t.wait_records(1)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    metrics = conn.getresponse().read()
    conn.close()
    records = t.stop()
    assert [x["request"]["path"] for x in records] == ["/account"]
    blob = t.json_path.read_bytes() + t.stdout() + metrics
    for secret in (b"QUERYSECRET42", b"COOKIESECRET42", b"HEADERSECRET42"):
        assert secret not in blob, secret
