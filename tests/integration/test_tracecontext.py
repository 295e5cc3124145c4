"""Trace context (issue 26, item 2): the one request header the tracer reads
is traceparent (W3C Trace Context). A failing request with a valid one gets
its trace id and parent span id in the record; a malformed one, or none,
gets neither. /metrics answers an OpenMetrics scrape with the latest trace
id of each series as its exemplar: real Prometheus, with exemplar storage,
returns it from /api/v1/query_exemplars.
"""
import http.client
import json
import time

from conftest import Prometheus, free_port

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"
VALID = [
    (f"00-{TID}-{SID}-01", TID, SID),
    (f"00-{TID[::-1]}-{SID[::-1]}-00", TID[::-1], SID[::-1]),
    (f"01-{TID}-{SID}-01-abcd", TID, SID),     # a later version, one more field
]
INVALID = [
    f"ff-{TID}-{SID}-01",                      # the forbidden version
    f"00-{'0' * 32}-{SID}-01",                 # an all-zero trace id
    f"00-{TID}-{'0' * 16}-01",                 # an all-zero parent id
    f"00-{TID.upper()}-{SID}-01",              # upper case
    f"00-{TID}-{SID}-01-extra",                # version 00 is exactly 55 bytes
    f"00-{TID}-{SID}",                         # cut short
    "garbage",
    f"00-{TID}-{SID}-01" + "x" * 100,          # longer than the tracer copies (64)
    f"01-{TID}-{SID}-01-" + "x" * 20,          # a later version, but past 64 bytes
]


def get(port, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def test_traceparent_in_records(interp, tracers, servers):
    s = servers.start(interp, "mw_no_session")
    t = tracers.start([s])
    sent = []
    for i, (tp, _, _) in enumerate(VALID):
        # among other headers, anywhere in the list
        headers = {"x-before": "1", "traceparent": tp, "tracestate": "vendor=secret-v",
                   "x-after": "2"}
        assert get(s.port, f"/valid/{i}", headers) == 500
        sent.append(f"/valid/{i}")
    for i, tp in enumerate(INVALID):
        assert get(s.port, f"/invalid/{i}", {"traceparent": tp}) == 500
        sent.append(f"/invalid/{i}")
    assert get(s.port, "/none", {"x-trace": f"00-{TID}-{SID}-01"}) == 500
    sent.append("/none")
    t.wait_records(len(sent))
    records = {r["request"]["path"]: r for r in t.stop()}
    assert "secret-v" not in json.dumps(list(records.values()))  # no other header is read
    assert sorted(records) == sorted(sent)
    for i, (_, tid, sid) in enumerate(VALID):
        r = records[f"/valid/{i}"]
        assert (r.get("trace_id"), r.get("parent_span_id")) == (tid, sid), r
    for path in sent:
        if not path.startswith("/valid/"):
            assert "trace_id" not in records[path] and "parent_span_id" not in records[path], \
                records[path]


def test_exemplars_on_prometheus(debian, tracers, servers, tmp_path):
    s = servers.start(debian, "metrics_app")
    port = free_port()
    t = tracers.start([s], extra=["-m", f"127.0.0.1:{port}"])
    assert get(s.port, "/items/1", {"traceparent": f"00-{TID}-{SID}-01"}) == 500
    t.wait_records(1)
    # the plain format has no exemplar; OpenMetrics has the trace and ends in # EOF
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    plain = conn.getresponse().read().decode()
    conn.request("GET", "/metrics", headers={"Accept": "application/openmetrics-text"})
    r = conn.getresponse()
    om = r.read().decode()
    conn.close()
    assert "trace_id" not in plain and "# EOF" not in plain
    assert r.getheader("Content-Type").startswith("application/openmetrics-text"), r.getheaders()
    assert om.endswith("# EOF\n") and f'# {{trace_id="{TID}"}} 1 ' in om, om
    assert "# TYPE sessiontrace_assertions counter" in om

    with Prometheus(tmp_path, {"sessiontrace": f"127.0.0.1:{port}"},
                    ["--enable-feature=exemplar-storage"]) as prom:
        deadline = time.time() + 60
        got = []
        while time.time() < deadline:
            try:
                data = prom.api("query_exemplars", query="sessiontrace_assertions_total",
                                start=time.time() - 600, end=time.time() + 600)
                got = [e["labels"]["trace_id"] for series in data for e in series["exemplars"]]
                if got:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert got == [TID], (got, prom.log())
    t.stop()
