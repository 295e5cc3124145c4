"""The test apps behave as test_capture.py assumes, with no tracer involved.
These need neither root nor build/sessiontrace."""
import json
import time

from conftest import (HEALTHY_EXPECTED, SESSION_MESSAGE, CookieClient, access_line,
                      http_request, session_raise_frame)



def test_interpreter_reports_session_raise(interp):
    f = session_raise_frame(interp)
    assert f["function"] == interp.fn("HTTPConnection.session")
    assert f["file"].endswith("starlette/requests.py")
    assert f["message"] == SESSION_MESSAGE
    assert isinstance(f["line"], int) and f["line"] > 0


def test_mw_no_session_fails_everywhere(interp, servers):
    s = servers.start(interp, "mw_no_session")
    for path in ["/", "/a", "/b/c", "/caf%C3%A9", "/q%22x"]:
        assert http_request(s.port, path).status == 500, path
    assert http_request(s.port, "/x", method="POST", body=b"hi").status == 500
    assert s.alive()
    log = s.log(full=True)
    assert SESSION_MESSAGE in log
    access_line("mw_no_session", "ReadsSession.dispatch")


def test_endpoints_app(interp, servers):
    s = servers.start(interp, "endpoints")
    assert http_request(s.port, "/ok").status == 200
    assert http_request(s.port, "/async/1").status == 500
    assert http_request(s.port, "/sync/1").status == 500
    assert http_request(s.port, "/async/2", method="POST", body=b"x").status == 500
    assert http_request(s.port, "/sync/2", method="POST", body=b"x").status == 500
    assert http_request(s.port, "/ok").status == 200
    assert s.log(full=True).count("AssertionError: " + SESSION_MESSAGE) == 4
    access_line("endpoints", "async_endpoint")
    access_line("endpoints", "sync_endpoint")


def test_healthy_app(interp, servers):
    s = servers.start(interp, "healthy")
    c = CookieClient(s.port)
    got = [(p, c.get(p)) for p, _, _ in HEALTHY_EXPECTED]
    for (path, status, body), (_, r) in zip(HEALTHY_EXPECTED, got):
        assert (r.status, r.body) == (status, body), path
    assert SESSION_MESSAGE not in s.log(full=True)
    assert json.loads(got[4][1].body) == {"a": "1", "b": "two"}


def test_fastapi_app(interp, servers):
    interp.require_module("fastapi_app")
    s = servers.start(interp, "fastapi_app")
    assert http_request(s.port, "/ok").status == 200
    assert http_request(s.port, "/fa/async/1").status == 500
    assert http_request(s.port, "/fa/sync/1").status == 500
    # the server logs the traceback after it has answered: wait for it, bounded
    deadline = time.monotonic() + 5
    while s.log(full=True).count("AssertionError: " + SESSION_MESSAGE) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert s.log(full=True).count("AssertionError: " + SESSION_MESSAGE) == 2
    access_line("fastapi_app", "fa_async")
    access_line("fastapi_app", "fa_sync")
