"""Prometheus metrics (issue 5): ``-m ADDR:PORT`` served by libmicrohttpd.

A real uvicorn app (tests/apps/metrics_app.py) is started first, then the
tracer with ``-m``; failing and healthy requests are sent and /metrics is
checked exactly, with ``promtool check metrics``, through a real Prometheus
server scraping the tracer (its HTTP API), and against the series cap.
"""
import http.client
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import Prometheus, free_port, http_request

SERIES = re.compile(r'^sessiontrace_assertions_total\{service="([^"]*)",route="([^"]*)",'
                    r'method="([^"]*)",cause="([^"]*)"\} (\d+)$', re.M)
ITEM = "/items/{item_id:int}"
MW = "/mw/{rest:path}"
SERVICE = "metrics_app:app"


def scrape(port, path="/metrics"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        conn.close()


def series(text):
    return {m[:4]: int(m[4]) for m in SERIES.findall(text)}


def wait_sum(port, want, timeout=20.0):
    deadline = time.time() + timeout
    while True:
        _, _, text = scrape(port)
        got = sum(series(text).values())
        if got >= want or time.time() > deadline:
            return text
        time.sleep(0.1)


def start(tracers, server, extra):
    port = free_port()
    t = tracers.start([server], extra=["-m", f"127.0.0.1:{port}"] + extra)
    return t, port


def test_metrics_exact(debian, tracers, servers):
    s = servers.start(debian, "metrics_app")
    t, port = start(tracers, s, [])
    status, ctype, text = scrape(port)
    assert status == 200 and ctype == "text/plain; version=0.0.4; charset=utf-8", (status, ctype)
    assert series(text) == {}
    assert "sessiontrace_attached_processes 1\n" in text
    assert re.search(r'^sessiontrace_build_info\{version="[0-9.]+"\} 1$', text, re.M)
    assert scrape(port, "/")[0:2] == (200, "text/plain; charset=utf-8")
    assert scrape(port, "/nope")[0] == 404

    sent = [("GET", "/items/1"), ("GET", "/items/2"), ("POST", "/items/3"),
            ("DELETE", "/items/4"), ("GET", "/mw/a"), ("GET", "/mw/b/c"), ("PUT", "/mw/x")]
    for method, path in sent:
        assert http_request(s.port, path, method=method).status == 500, (method, path)
    for _ in range(5):
        assert http_request(s.port, "/ok").status == 200
    text = wait_sum(port, len(sent))
    want = {
        (SERVICE, ITEM, "GET", "missing_middleware"): 2,
        (SERVICE, ITEM, "POST", "missing_middleware"): 1,
        (SERVICE, ITEM, "DELETE", "missing_middleware"): 1,
        (SERVICE, MW, "GET", "missing_middleware"): 2,
        (SERVICE, MW, "PUT", "missing_middleware"): 1,
    }
    assert series(text) == want, text
    assert f"sessiontrace_probe_hits_total {len(sent)}\n" in text
    assert "sessiontrace_events_lost_total 0\n" in text
    for _, path in sent:
        assert f'"{path}"' not in text  # never the raw path

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing; scripts/deps.sh installs Debian's prometheus")
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    records = t.stop()
    assert sorted(r["request"]["path"] for r in records) == sorted(p for _, p in sent)


def test_prometheus_scrapes(debian, tracers, servers, tmp_path):
    s = servers.start(debian, "metrics_app")
    t, port = start(tracers, s, [])
    n = 9
    for i in range(n):
        assert http_request(s.port, f"/items/{i}").status == 500
    wait_sum(port, n)

    with Prometheus(tmp_path, {"sessiontrace": f"127.0.0.1:{port}"}) as prom:
        deadline = time.time() + 60
        got = None
        while time.time() < deadline:
            try:
                res = prom.api("query", query="sum(sessiontrace_assertions_total)")["result"]
                got = int(float(res[0]["value"][1])) if res else None
                if got == n:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert got == n, f"Prometheus query returned {got}, want {n}; log: " + prom.log()
        res = prom.api("query", query='sessiontrace_assertions_total{route="' + ITEM +
                       '",method="GET"}')["result"]
        assert len(res) == 1 and res[0]["metric"]["service"] == SERVICE, res
        assert res[0]["metric"]["cause"] == "missing_middleware", res
    t.stop()


def test_alert_rules():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing; scripts/deps.sh installs Debian's prometheus")
    from conftest import REPO
    d = REPO / "deploy" / "prometheus"
    r = subprocess.run([promtool, "check", "rules", "sessiontrace-rules.yml"], cwd=d,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "SUCCESS: 6 rules found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([promtool, "test", "rules", "sessiontrace-rules.test.yml"], cwd=d,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
DAV = ["PROPFIND", "MKCOL", "LOCK", "UNLOCK", "SEARCH"]


def test_series_cap(debian, tracers, servers):
    """Thousands of client-chosen paths and methods: the series stay within
    --max-series (+ the overflow series) and their sum is every failure."""
    s = servers.start(debian, "metrics_app")
    cap = 3
    # every record in full too: the records are checked against the series
    t, port = start(tracers, s, ["--max-series", str(cap), "--record-rate", "0"])
    total = 3000
    errors = []

    def client(k):
        conn = None
        for i in range(k, total, 2):
            # uvicorn's parser knows WebDAV's methods too: they become OTHER
            method = METHODS[i % len(METHODS)] if i % 7 else DAV[i % len(DAV)]
            for attempt in range(2):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
                    conn.request(method, f"/mw/{i}/{'x' * (i % 50)}")
                    r = conn.getresponse()
                    r.read()
                    if r.status != 500:
                        errors.append((method, i, r.status))
                    if r.getheader("connection", "").lower() == "close":
                        conn.close()
                        conn = None
                    break
                except (OSError, http.client.HTTPException):
                    conn = None
                    if attempt:
                        errors.append((method, i, "error"))
        if conn:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[:10]
    text = wait_sum(port, total, timeout=60)
    got = series(text)
    assert sum(got.values()) == total, got
    overflow = ("__overflow__",) * 4
    assert len(got) == cap + 1 and overflow in got, got
    assert not any(m in text for m in DAV) and "/mw/1" not in text
    records = t.stop()
    assert len(records) == total


def test_bad_metrics_address(debian, tracers, servers):
    """A bad or busy address: one line, exit 2, nothing attached."""
    s = servers.start(debian, "metrics_app")
    busy = __import__("socket").socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        for spec, why in ((f"127.0.0.1:{busy.getsockname()[1]}", "Address already in use"),
                          ("99999", "invalid --metrics"), ("foo", "invalid --metrics")):
            t = tracers.spawn(["-p", str(s.pid), "-m", spec, "-q"])
            assert t.wait() == 2
            lines = [l for l in t.stderr_lines() if l.strip()]
            assert len(lines) == 1 and why in lines[0], lines
    finally:
        busy.close()
    assert http_request(s.port, "/ok").status == 200
