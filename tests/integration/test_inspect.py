"""sessiontrace inspect (issue 16): the failing request.session reads of a
running app, found from its objects and bytecode before any request.

Each app (tests/apps/insp_*.py) is served by a real uvicorn that has served
no request (readiness is a bare TCP connect). Its planted reads end in
``# inspect: CAUSE FUNCTION``: inspect must find exactly those, with that
cause, function, file and line, and nothing on the healthy apps. Then the
tracer is attached and every route inspect listed is requested: the
failures it catches are exactly the predicted ones (same cause, same code),
and the apps with no finding produce no record.
"""
import json
import re
import subprocess

import pytest

from conftest import APPS, TRACER_BIN, app_file, http_request

INSPECT_APPS = ["insp_order", "insp_mounted", "insp_endpoints", "insp_decorated", "insp_asgi",
                "insp_sub_ok", "insp_dbsession", "insp_asserts", "insp_fastapi_dep",
                "insp_fastapi_ok"]
MARK = re.compile(r"#\s*inspect:\s*(\w+)\s+([\w.]+)\s*$")


def planted(interp, module):
    """(cause, function, file, line) of every line marked in the app."""
    out = []
    for i, line in enumerate((APPS / f"{module}.py").read_text().splitlines(), 1):
        m = MARK.search(line)
        if m:
            out.append((m.group(1), interp.fn(m.group(2)), app_file(module), i))
    return sorted(out)


def inspect(pid, *args):
    return subprocess.run([str(TRACER_BIN), "inspect", "-p", str(pid)] + list(args),
                          capture_output=True, text=True, timeout=60)


def serve(interp, servers, module):
    if module.startswith("insp_fastapi"):
        interp.require_module(module)
    return servers.start(interp, module, http_ready=False)


@pytest.mark.parametrize("module", INSPECT_APPS)
def test_inspect_predicts_exactly(interp, servers, tracers, module):
    s = serve(interp, servers, module)
    r = inspect(s.pid, "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert (d["pid"], d["python"], d["service"]) == (s.pid, interp.tracer_version, f"{module}:app")
    assert not d["truncated"] and not d["changed_while_reading"] and d["unanalyzed"] == 0, d
    got = sorted((f["cause"], f["reader"]["function"], f["reader"]["file"], f["reader"]["line"])
                 for f in d["findings"])
    assert got == planted(interp, module), json.dumps(d["findings"], indent=1)
    assert d["apps"][0]["mount"] == "" and d["apps"][0]["parent"] is None, d["apps"]
    for f in d["findings"]:
        assert f["hint"].endswith(".") and "SessionMiddleware" in f["hint"], f
        assert f["app"] == {"class": d["apps"][0]["class"], "mount": ""} or \
            any(f["app"] == {"class": a["class"], "mount": a["mount"]} for a in d["apps"]), f
    # the server was only read: same pid, still serving. Now run it under the tracer.
    assert s.alive()
    t = tracers.start([s])
    routes = [rt for a in d["apps"] for rt in a["routes"]]
    assert routes, d["apps"]
    failed = []
    for path in routes:
        status = http_request(s.port, path).status
        assert status in (200, 500), (path, status)
        if status == 500:
            failed.append(path)
    t.wait_records(len(failed))
    records = t.stop()
    assert sorted(rec["request"]["path"] for rec in records) == sorted(failed), records
    caught = sorted({(rec["cause"], rec["accessor"]["function"], rec["accessor"]["file"],
                      rec["accessor"]["line"]) for rec in records})
    assert caught == got, (caught, got)
    for f in d["findings"]:
        if f["route"] is not None:  # an endpoint's finding fails exactly on its route
            assert f["route"] in failed, (f, failed)


def test_inspect_text_and_exit_status(debian, servers):
    s = servers.start(debian, "insp_order", http_ready=False)
    r = inspect(s.pid)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    line = planted(debian, "insp_order")[0][3]
    assert "middleware: ServerErrorMiddleware > AuthFromSession > SessionMiddleware > " \
        "ExceptionMiddleware" in text, text
    assert f"! middleware_order: AuthFromSession.dispatch ({app_file('insp_order')}:{line})" \
        in text, text
    assert "fix: AuthFromSession reads request.session before SessionMiddleware runs" in text
    assert text.rstrip().endswith("1 finding; 6 readers analyzed"), text
    assert inspect(s.pid, "--fail-on-findings").returncode == 3
    healthy = servers.start(debian, "insp_sub_ok", http_ready=False)
    r = inspect(healthy.pid, "--fail-on-findings")
    assert r.returncode == 0 and "0 findings; 6 readers analyzed" in r.stdout, r.stdout
    assert s.alive() and healthy.alive()
    assert http_request(s.port, "/health").status == 200


@pytest.mark.parametrize("args, why", [
    (["-p", "0"], "invalid pid '0'"),
    (["-p", "12x"], "invalid pid '12x'"),
    (["-p", "4194303"], "4194303"),  # no such process
    ([], "-p PID is required"),
    (["-p", "1", "--format", "yaml"], "invalid --format 'yaml'"),
])
def test_inspect_bad_input(args, why):
    r = subprocess.run([str(TRACER_BIN), "inspect"] + args, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2, r
    assert r.stdout == ""
    assert why in r.stderr.splitlines()[0], r.stderr


def test_inspect_not_python(tmp_path):
    p = subprocess.Popen(["sleep", "30"])
    try:
        r = subprocess.run([str(TRACER_BIN), "inspect", "-p", str(p.pid)],
                           capture_output=True, text=True, timeout=30)
    finally:
        p.kill()
        p.wait()
    assert r.returncode == 2 and r.stdout == "", r
    assert len(r.stderr.splitlines()) == 1, r.stderr


def test_inspect_host_and_websocket(interp, servers, tracers):
    """Readers behind a Host route and a WebSocket route are found; the Host
    one then fails under the tracer exactly as predicted (the websocket is
    not requested: the check sends HTTP)."""
    s = serve(interp, servers, "insp_ws_host")
    r = inspect(s.pid, "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    got = sorted((f["cause"], f["reader"]["function"], f["reader"]["file"], f["reader"]["line"])
                 for f in d["findings"])
    assert got == planted(interp, "insp_ws_host"), d["findings"]
    assert {f["route"] for f in d["findings"]} == {"/ws", "/v1"}, d["findings"]
    t = tracers.start([s])
    assert http_request(s.port, "/v1", headers={"Host": "api.example.com"}).status == 500
    assert http_request(s.port, "/").status == 200
    t.wait_records(1)
    records = t.stop()
    v1 = [f for f in d["findings"] if f["route"] == "/v1"][0]
    assert [(rec["cause"], rec["accessor"]["function"], rec["accessor"]["line"])
            for rec in records] == [(v1["cause"], v1["reader"]["function"], v1["reader"]["line"])]


def test_inspect_help():
    r = subprocess.run([str(TRACER_BIN), "inspect", "--help"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and r.stderr == "", r
    assert r.stdout.startswith("Usage: sessiontrace inspect -p PID"), r.stdout
    assert "Examples:" in r.stdout and "--fail-on-findings" in r.stdout
