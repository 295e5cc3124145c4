"""Predictions while tracing (issue 26, item 3): when the daemon attaches to
a server (with -p, and discovered in node mode) it runs inspect's analysis
once, and again on SIGHUP. An app with a planted bad order is predicted to
fail before any request: sessiontrace_predicted_failures is 1 and a
"kind":"prediction" record names the reader; after N failing requests the
counter is N and every failure's accessor is that reader. A healthy app has
no prediction."""
import re
import signal
import time

import pytest

from conftest import free_port, http_request
from test_discovery import node_tracer, scrape

PRED = re.compile(r'^sessiontrace_predicted_failures\{service="([^"]*)",cause="([^"]*)",'
                  r'reader="([^"]*)"\} (\d+)$', re.M)


def predicted(port):
    return {m.group(1, 2, 3): int(m.group(4)) for m in PRED.finditer(scrape(port))}


def wait_predictions(t, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(t.read_records("prediction")) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return t.read_records("prediction")


@pytest.mark.parametrize("mode", ["pid", "node"])
def test_planted_bad_order(debian, tracers, servers, tmp_path, mode):
    healthy = servers.start(debian, "healthy")
    s = servers.start(debian, "diag_order")
    port = free_port()
    if mode == "pid":
        t = tracers.start([s, healthy], extra=["-m", f"127.0.0.1:{port}"])
    else:
        t = node_tracer(tracers, tmp_path, port)
        for srv in (s, healthy):
            t.wait_attached(srv.pid, srv.interp.tracer_version)
    preds = wait_predictions(t, 1)
    assert len(preds) == 1, preds
    p = preds[0]
    assert p["pid"] == s.pid and p["service"] == "diag_order:app", p
    assert p["cause"] == "middleware_order" and p["reader"]["function"] == "AuthFromSession.dispatch", p
    assert p["route"] is None and p["app"]["class"] == "starlette.applications.Starlette", p
    key = ("diag_order:app", "middleware_order", "AuthFromSession.dispatch")
    assert predicted(port) == {key: 1}
    n = 4
    for i in range(n):
        assert http_request(s.port, f"/account/{i}").status == 500
    t.wait_records(n)
    text = scrape(port)
    total = sum(int(v) for v in re.findall(
        r'^sessiontrace_assertions_total\{service="diag_order:app",.*\} (\d+)$', text, re.M))
    assert total == n, text
    # SIGHUP: inspected again, the same prediction, written once more
    t.send(signal.SIGHUP)
    assert len(wait_predictions(t, 2)) == 2
    assert predicted(port) == {key: 1}
    records = t.stop()
    assert len(records) == n
    assert {r["accessor"]["function"] for r in records} == {p["reader"]["function"]}
    assert {r["accessor"]["line"] for r in records} == {p["reader"]["line"]}
    assert all(r["cause"] == p["cause"] for r in records)
    assert not [q for q in t.read_records("prediction") if q["pid"] == healthy.pid]


def test_no_predict(debian, tracers, servers):
    s = servers.start(debian, "diag_order")
    port = free_port()
    t = tracers.start([s], extra=["-m", f"127.0.0.1:{port}", "--no-predict"])
    assert http_request(s.port, "/account/1").status == 500
    t.wait_records(1)
    assert predicted(port) == {}
    t.stop()
    assert t.read_records("prediction") == []
