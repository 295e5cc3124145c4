"""The forensic records file under operations (issue 5): size rotation under
load, SIGHUP reopen after a logrotate-style move, a full disk, and
``sessiontrace report`` over the result. Real servers first, then the tracer."""
import http.client
import json
import os
import re
import signal
import stat
import subprocess
import threading
import time

import pytest

from conftest import APPS, INTERPRETERS, TRACER_BIN, free_port, http_request


@pytest.fixture
def debian():
    return INTERPRETERS["debian-3.11"].require()


def fail_many(port, paths, nthreads=3):
    errors = []

    def run(k):
        for p in paths[k::nthreads]:
            try:
                if http_request(port, p).status != 500:
                    errors.append(p)
            except OSError as e:
                errors.append((p, str(e)))

    ths = [threading.Thread(target=run, args=(k,)) for k in range(nthreads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    assert not errors, errors[:5]


def record_files(base):
    return [p for p in base.parent.iterdir()
            if p.name == base.name or re.fullmatch(re.escape(base.name) + r"\.\d+", p.name)]


def read_all(files):
    """The failures' records in files (every line whole JSON), not inspect's predictions."""
    recs = []
    for f in files:
        with open(f, "rb") as fh:
            for line in fh:
                rec = json.loads(line.decode("utf-8", errors="strict"))
                if rec.get("kind") != "prediction":
                    recs.append(rec)
    return recs


def test_rotation_under_load(debian, tracers, servers, tmp_path):
    s = servers.start(debian, "mw_no_session")
    base = tmp_path / "rot" / "records.jsonl"
    base.parent.mkdir()
    t = tracers.spawn(["-p", str(s.pid), "-q", "-j", str(base), "--json-max-size", "64k",
                       "--json-keep", "200", "--record-rate", "0"], base)
    t.wait_attached(s.pid, debian.tracer_version)
    paths = [f"/rot/{i}" for i in range(600)]
    fail_many(s.port, paths)
    deadline = time.time() + 30
    while time.time() < deadline and len(read_all(record_files(base))) < len(paths):
        time.sleep(0.2)
    t.send(signal.SIGINT)
    assert t.wait() == 0
    files = record_files(base)
    assert len(files) > 10, files
    for f in files:
        st = os.stat(f)
        assert stat.S_IMODE(st.st_mode) == 0o600, f
        assert st.st_size <= 64 * 1024, (f, st.st_size)
    recs = read_all(files)
    assert sorted(r["request"]["path"] for r in recs) == sorted(paths)

    # sessiontrace report over all of them, in any order
    out = subprocess.run([str(TRACER_BIN), "report", "--format", "json"] + [str(f) for f in files],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["records"] == 600 and rep["invalid_lines"] == 0
    assert rep["by_cause"][0]["cause"] == "missing_middleware" and rep["by_cause"][0]["count"] == 600
    assert rep["by_service"] == [{"service": "mw_no_session:app", "count": 600,
                                  "first_seen": rep["first_seen"], "last_seen": rep["last_seen"]}]
    acc = recs[0]["accessor"]
    assert [(a["accessor"], a["count"]) for a in rep["by_accessor"]] == \
        [(f"{acc['function']} ({acc['file']}:{acc['line']})", 600)]
    assert sum(r["count"] for r in rep["by_route"]) == 600
    text = subprocess.run([str(TRACER_BIN), "report"] + [str(f) for f in files],
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == 0 and text.stdout.startswith("600 records, first "), text.stdout[:300]
    assert "missing_middleware" in text.stdout and "fix: " in text.stdout


def test_sighup_reopens(debian, tracers, servers, tmp_path):
    s = servers.start(debian, "mw_no_session")
    t = tracers.start([s])
    base = t.json_path
    fail_many(s.port, [f"/before/{i}" for i in range(5)], 1)
    t.wait_records(5)
    moved = base.with_name(base.name + ".old")
    os.rename(base, moved)
    t.send(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline and not base.exists():  # reopened: created anew
        time.sleep(0.02)
    assert base.exists(), "SIGHUP did not reopen the records file"
    fail_many(s.port, [f"/after/{i}" for i in range(4)], 1)
    deadline = time.time() + 10
    while time.time() < deadline and (not base.exists() or len(base.read_bytes().splitlines()) < 4):
        time.sleep(0.1)
    assert t.proc.poll() is None, "SIGHUP stopped the tracer"
    recs = t.stop()
    assert sorted(r["request"]["path"] for r in recs) == sorted(f"/after/{i}" for i in range(4))
    old = read_all([moved])
    assert sorted(r["request"]["path"] for r in old) == sorted(f"/before/{i}" for i in range(5))


def test_disk_full(debian, tracers, servers, tmp_path):
    mnt = tmp_path / "full"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.strip()}")
    try:
        s = servers.start(debian, "mw_no_session")
        path = mnt / "records.jsonl"
        t = tracers.spawn(["-p", str(s.pid), "-q", "-j", str(path)], path)
        t.wait_attached(s.pid, debian.tracer_version)
        n = 60
        fail_many(s.port, [f"/full/{i}" for i in range(n)], 2)
        t.wait_line(r"sessiontrace: cannot write records to .*No space left on device.*", 15)
        assert t.proc.poll() is None
        t.send(signal.SIGINT)
        assert t.wait() == 0
        err = t.stderr_lines()
        assert len([l for l in err if "cannot write records" in l]) == 1, err
        m = re.search(r"exiting: (\d+) records, (\d+) lost, (\d+) hits", "\n".join(err))
        assert m and int(m.group(1)) == n and int(m.group(3)) == n, err
        m = re.search(r"(\d+) of the (\d+) records could not be written", "\n".join(err))
        assert m and int(m.group(2)) == n, err
        written = read_all([path])  # every line whole and valid
        assert len(written) + int(m.group(1)) == n, (len(written), m.group(0))
        assert len(written) > 0
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


METRIC_SERIES = re.compile(r'^sessiontrace_assertions_total\{.*\} (\d+)$', re.M)


def test_record_rate_storm(debian, tracers, servers, tmp_path):
    """--record-rate (issue 15): past the rate, one key's hits become "N more
    like this" summary records. Full records + summarized counts == failures,
    exactly; the metrics count every hit; the first records of a key are
    full, and so are those of a new key; report counts the summaries."""
    a = servers.start(debian, "mw_no_session")
    b = servers.start(debian, "diag_missing")
    port = free_port()
    jpath = tmp_path / "storm.jsonl"
    t = tracers.spawn(["-p", str(a.pid), "-p", str(b.pid), "-q", "-j", str(jpath),
                       "--record-rate", "5", "-m", f"127.0.0.1:{port}"], jpath)
    t.wait_attached(a.pid, debian.tracer_version)
    t.wait_attached(b.pid, debian.tracer_version)
    first = [f"/storm/{i}" for i in range(5)]
    started = time.monotonic()
    for p in first:  # one at a time: the bucket's 5 tokens, in this order
        assert http_request(a.port, p).status == 500
    rest = [f"/storm/{i}" for i in range(5, 300)]
    fail_many(a.port, rest)
    elapsed = time.monotonic() - started
    # a new key (another service, route and accessor) starts with a full bucket
    for i in range(3):
        assert http_request(b.port, f"/items/{i}").status == 500
    deadline = time.time() + 20
    total = 0
    while time.time() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/metrics")
        total = sum(int(n) for n in METRIC_SERIES.findall(conn.getresponse().read().decode()))
        conn.close()
        if total >= 303:
            break
        time.sleep(0.1)
    assert total == 303  # every hit, past the rate too
    t.send(signal.SIGINT)
    assert t.wait() == 0
    sm = t.check_accounting()
    recs = t.read_records()
    full_a = [r for r in recs if "summary" not in r and r["service"] == "mw_no_session:app"]
    sums_a = [r for r in recs if "summary" in r and r["service"] == "mw_no_session:app"]
    full_b = [r for r in recs if "summary" not in r and r["service"] == "diag_missing:app"]
    assert [r["request"]["path"] for r in full_a[:5]] == first
    # the bucket refills at 5 a second while the storm lasts
    assert 5 <= len(full_a) <= 5 + 5 * elapsed + 1, (len(full_a), elapsed)
    assert sums_a, recs[-3:]
    assert len(full_a) + sum(r["summary"]["count"] for r in sums_a) == 300
    acc = full_a[0]["accessor"]
    for r in sums_a:
        assert (r["property"], r["route"], r["cause"], r["accessor"]) == \
            ("session", full_a[0]["route"], "missing_middleware", acc), r
        assert r["summary"]["since"] <= r["summary"]["until"] == r["ts"], r
    assert [r["request"]["path"] for r in full_b] == [f"/items/{i}" for i in range(3)]
    assert sm["records"] == 303 and sm["summarized"] == 300 - len(full_a), sm

    out = subprocess.run([str(TRACER_BIN), "report", "--format", "json", str(jpath)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["records"] == 303 and rep["invalid_lines"] == 0, rep
    assert {s["service"]: s["count"] for s in rep["by_service"]} == \
        {"mw_no_session:app": 300, "diag_missing:app": 3}
    assert [(x["accessor"], x["count"]) for x in rep["by_accessor"]][0] == \
        (f"{acc['function']} ({acc['file']}:{acc['line']})", 300)


MARK = "\u2026"


def test_long_names_marked_as_cut(tracers, servers):
    """Issue 26, item 4: a service name (290-character app attribute), a
    middleware class (306-character qualname) and a route template (300
    characters), each longer than its bound (128, 128 and 256 bytes), come
    out cut at their bound and marked "…" in the records, on the console
    and in the metrics' labels; nothing is cut silently."""
    import sys
    sys.path.insert(0, str(APPS))
    import long_names as ln  # noqa: E402 (the app's own constants)
    interp = INTERPRETERS["debian-3.11"].require()
    s = servers.start(interp, "long_names", argv=[
        "{python}", "-m", "uvicorn", f"long_names:{ln.ATTR}", "--host", "127.0.0.1",
        "--port", "{port}", "--app-dir", "{apps}", "--no-access-log"])
    port = free_port()
    t = tracers.start([s], quiet=False, extra=["-m", f"127.0.0.1:{port}"])
    for _ in range(2):
        assert http_request(s.port, ln.ROUTE).status == 500
    t.wait_records(2)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    records = t.stop()
    assert len(records) == 2
    r = records[0]

    def cut(value, bound, whole):
        b = value.encode()
        return value.endswith(MARK) and len(b) <= bound - 1 and \
            whole.startswith(value[:-1]) and len(b) >= bound - 1 - 3 - 3

    service = f"long_names:{ln.ATTR}"
    assert cut(r["service"], 128, service), r["service"]
    assert r["request"]["path"] == ln.ROUTE and "path_truncated" not in r["request"]
    assert cut(r["route"], 256, ln.ROUTE), r["route"]
    long_mw = [m for m in r["middleware"] if "ReadsSessionMiddleware" in m or m.endswith(MARK)]
    assert len(long_mw) == 1 and cut(long_mw[0], 128, "long_names." + ln.QUALNAME), r["middleware"]
    assert r["read_in"] == long_mw[0], r
    # the console: the same cut names
    out = t.stdout().decode()
    assert r["service"] in out and r["route"] in out and long_mw[0] in out, out[:3000]
    # the metrics: label values cut the same way
    m = re.search(r'^sessiontrace_assertions_total\{service="([^"]*)",route="([^"]*)",', text,
                  re.M)
    assert m and m.group(1) == r["service"] and m.group(2) == r["route"], text
