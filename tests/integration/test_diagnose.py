"""Diagnosis of every hit (issue 4): the app's real middleware stack, the cause
and the fix, on live uvicorn servers started before the tracer.

One app per cause (tests/apps/diag_*.py), the request.auth / request.user
siblings, and ``python -O`` (KeyError('session') from the same property).
Every test sends N failing requests and asserts exactly N records, each with
the exact cause, middleware list (outermost first), route template, the
layer that read the property, and the hint's key content; healthy requests
(/ok) add no record.
"""
import json
import re
import uuid

import pytest

from conftest import APPS, app_file, http_request

SE = "starlette.middleware.errors.ServerErrorMiddleware"
EX = "starlette.middleware.exceptions.ExceptionMiddleware"
SM = "starlette.middleware.sessions.SessionMiddleware"
AM = "starlette.middleware.authentication.AuthenticationMiddleware"
GZ = "starlette.middleware.gzip.GZipMiddleware"
AES = "fastapi.middleware.asyncexitstack.AsyncExitStackMiddleware"
STARLETTE = "starlette.applications.Starlette"
FASTAPI = "fastapi.applications.FastAPI"

MESSAGES = {
    "session": "SessionMiddleware must be installed to access request.session",
    "auth": "AuthenticationMiddleware must be installed to access request.auth",
    "user": "AuthenticationMiddleware must be installed to access request.user",
}
DIAG_KEYS = {"app", "route", "apps", "middleware", "read_in", "installed_on", "cause", "hint"}
CAUSES = {"missing_middleware", "middleware_order", "mounted_app", "background_task",
          "outside_request", "unknown"}


_CHAIN = r"""
import json, sys
from starlette.routing import Router
mod = __import__(sys.argv[1])
app = getattr(mod, sys.argv[2])
node, chain = app.build_middleware_stack(), []
while node is not None and not isinstance(node, Router):
    chain.append(type(node).__module__ + "." + type(node).__qualname__)
    node = getattr(node, "app", None)
print(json.dumps(chain))
"""


def built_chain(interp, module: str, attr: str = "app") -> list:
    """The middleware chain the interpreter itself builds for module.attr,
    outermost first, down to the router: the oracle for apps whose framework
    adds its own layers (FastAPI 0.162's ExceptionTelemetryMiddleware)."""
    r = interp.run(_CHAIN.replace("sys.argv[1]", repr(module)).replace("sys.argv[2]", repr(attr)))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def marker_line(module: str, tag: str) -> int:
    """1-based line of tests/apps/<module>.py ending in ``# st-access: <tag>``."""
    lines = (APPS / f"{module}.py").read_text(encoding="utf-8").splitlines()
    hits = [i for i, line in enumerate(lines, 1) if line.rstrip().endswith(f"# st-access: {tag}")]
    assert len(hits) == 1, (module, tag, hits)
    return hits[0]


def check(rec, *, interp, module, prop="session", exc="AssertionError", path, cause,
          middleware, route, read_in, accessor, apps, installed_on=None, hint_has=()):
    where = json.dumps(rec, ensure_ascii=False)[:4000]
    assert DIAG_KEYS <= set(rec), (DIAG_KEYS - set(rec), where)
    assert rec["property"] == prop, where
    if exc == "KeyError":
        assert rec["exception"] == {"type": "KeyError", "message": f"'{prop}'"}, where
    else:
        assert rec["exception"] == {"type": "AssertionError", "message": MESSAGES[prop]}, where
    if path is None:
        assert rec["request"] is None, where
    else:
        assert rec["request"]["path"] == path, where
    assert rec["cause"] == cause, where
    assert rec["middleware"] == middleware, where
    assert rec["route"] == route, where
    assert rec["read_in"] == read_in, where
    assert [(a["class"], a["mount"]) for a in rec["apps"]] == apps, where
    if apps:
        serving = [a for a in apps if a[1] == rec["app"]["mount"]]
        assert serving and rec["app"]["class"] == serving[0][0], where
    else:
        assert rec["app"] is None, where
    assert rec["installed_on"] == installed_on, where
    acc = rec["accessor"]
    assert acc["function"] == interp.fn(accessor), where
    assert acc["file"] == app_file(module), where
    assert acc["line"] == marker_line(module, accessor), where
    hint = rec["hint"]
    assert isinstance(hint, str) and hint.endswith("."), where
    for part in hint_has:
        assert part in hint, (part, where)


def run_case(interp, tracers, servers, module, plan, healthy=("/ok",), python_flags=None,
             quiet=True):
    """Start ``module``, attach, send ``plan`` [(path, status)] and the healthy
    paths between them; returns (records in request order, tracer)."""
    s = servers.start(interp, module, python_flags=python_flags)
    t = tracers.start([s], quiet=quiet)
    for path, status in plan:
        for h in healthy:
            assert http_request(s.port, h).status == 200, h
        r = http_request(s.port, path)
        assert r.status == status, (path, r, s.log())
    for h in healthy:
        assert http_request(s.port, h).status == 200, h
    t.wait_records(len(plan))
    records = t.stop()
    assert len(records) == len(plan), [r.get("request") for r in records]
    assert all(r["pid"] == s.pid for r in records)
    return records, t


# ---------------------------------------------------------------------------
# missing_middleware
# ---------------------------------------------------------------------------

def test_missing_middleware(interp, tracers, servers):
    tag = uuid.uuid4().hex[:8]
    plan = [(f"/items/{tag}{i}", 500) for i in range(3)]
    records, _ = run_case(interp, tracers, servers, "diag_missing", plan)
    for (path, _), rec in zip(plan, records):
        check(rec, interp=interp, module="diag_missing", path=path, cause="missing_middleware",
              middleware=[SE, GZ, EX], route="/items/{item_id}", read_in="router",
              accessor="item", apps=[(STARLETTE, "")],
              hint_has=("No SessionMiddleware wraps this path",
                        "app.add_middleware(SessionMiddleware, secret_key=...)",
                        "the Starlette app"))


# ---------------------------------------------------------------------------
# middleware_order: "add SessionMiddleware, then your auth middleware"
# ---------------------------------------------------------------------------

ORDER_HINT = ("AuthFromSession reads request.session before SessionMiddleware runs",
              "add_middleware() inserts at index 0",
              "the middleware added last runs first",
              "call app.add_middleware(SessionMiddleware, secret_key=...) after "
              "app.add_middleware(AuthFromSession), not before")


def test_middleware_order(interp, tracers, servers):
    plan = [(f"/account/{n}", 500) for n in (7, 8, 9)]
    records, t = run_case(interp, tracers, servers, "diag_order", plan, quiet=False)
    for (path, _), rec in zip(plan, records):
        check(rec, interp=interp, module="diag_order", path=path, cause="middleware_order",
              middleware=[SE, "diag_order.AuthFromSession", SM, EX],
              route="/account/{uid:int}", read_in="diag_order.AuthFromSession",
              accessor="AuthFromSession.dispatch", apps=[(STARLETTE, "")],
              hint_has=ORDER_HINT)
    # the human report draws the stack: the reader above SessionMiddleware
    out = t.stdout().decode()
    assert out.count("cause:    middleware_order") == 3, out
    block = out.split("middleware (outermost first):")[1].split("Traceback")[0]
    lines = [l.strip() for l in block.strip().splitlines()]
    assert lines[0] == f"app {STARLETTE} (serving this request)", lines
    assert lines[1] == SE, lines
    assert lines[2].startswith("diag_order.AuthFromSession   <-- request.session read here ("), lines
    assert lines[3] == f"{SM}   <== SessionMiddleware", lines
    assert lines[4] == EX, lines
    assert lines[5] == "router -> endpoint", lines


def test_optimized_keyerror(interp, tracers, servers):
    """python -O: no assert; the same property raises KeyError('session')."""
    plan = [(f"/account/{n}", 500) for n in (11, 12)]
    records, _ = run_case(interp, tracers, servers, "diag_order", plan, python_flags=["-O"])
    for (path, _), rec in zip(plan, records):
        check(rec, interp=interp, module="diag_order", exc="KeyError", path=path,
              cause="middleware_order", middleware=[SE, "diag_order.AuthFromSession", SM, EX],
              route="/account/{uid:int}", read_in="diag_order.AuthFromSession",
              accessor="AuthFromSession.dispatch", apps=[(STARLETTE, "")],
              hint_has=ORDER_HINT)


def test_fastapi_order(interp, tracers, servers):
    interp.require_module("diag_fastapi")
    chain = built_chain(interp, "diag_fastapi")
    # what the test app sets up, whatever else this FastAPI adds around it
    assert [m for m in chain if m.startswith(("diag_fastapi.", "starlette."))] == \
        [SE, "diag_fastapi.ReadsCart", SM, EX], chain
    plan = [(f"/fa/items/{n}", 500) for n in (1, 2)]
    records, _ = run_case(interp, tracers, servers, "diag_fastapi", plan)
    for (path, _), rec in zip(plan, records):
        check(rec, interp=interp, module="diag_fastapi", path=path, cause="middleware_order",
              middleware=chain,
              route="/fa/items/{item_id}", read_in="diag_fastapi.ReadsCart",
              accessor="ReadsCart.dispatch", apps=[(FASTAPI, "")],
              hint_has=("after app.add_middleware(ReadsCart), not before",
                        "app.add_middleware(SessionMiddleware, secret_key=...)"))


# ---------------------------------------------------------------------------
# mounted_app: SessionMiddleware only on the sub-app at /admin
# ---------------------------------------------------------------------------

def test_mounted_app(interp, tracers, servers):
    """The parent's route and a sibling sub-app's route fail; SessionMiddleware
    sits on /admin, whose Middleware objects have Starlette 0.35's shape. The
    first four requests come while /admin never served (middleware_stack None:
    read from user_middleware), the last two after /admin/ok built it."""
    s = servers.start(interp, "diag_mounted")
    t = tracers.start([s])
    plan = [("/login", 500), ("/api/me", 500), ("/login", 500), ("/api/me", 500),
            ("/admin/ok", 200), ("/login", 500), ("/api/me", 500)]
    for path, status in plan:
        assert http_request(s.port, "/ok").status == 200
        r = http_request(s.port, path)
        assert r.status == status, (path, r, s.log())
    failing = [p for p, st in plan if st == 500]
    t.wait_records(len(failing))
    records = t.stop()
    assert len(records) == len(failing), records
    on_admin = {"class": STARLETTE, "mount": "/admin"}
    for path, rec in zip(failing, records):
        common = dict(interp=interp, module="diag_mounted", cause="mounted_app",
                      read_in="router", installed_on=on_admin)
        if path == "/login":
            check(rec, path="/login", middleware=[SE, EX], route="/login", accessor="login",
                  apps=[(STARLETTE, "")],
                  hint_has=("SessionMiddleware is installed only on a mounted sub-app "
                            "(the Starlette app at '/admin')",
                            "add app.add_middleware(SessionMiddleware, secret_key=...) to the "
                            "outermost app (the Starlette app)",
                            "remove it from the app at '/admin'"), **common)
        else:
            # Starlette 0.26's Mount hands the sub-app the path below its
            # prefix; from 0.35 the path stays whole (root_path says the prefix)
            assert rec["request"]["root_path"] == "/api", rec
            check(rec, path="/me" if interp.starlette < (0, 35) else "/api/me",
                  middleware=[SE, EX, SE, EX], route="/api/me",
                  accessor="me", apps=[(STARLETTE, ""), (STARLETTE, "/api")],
                  hint_has=("SessionMiddleware is installed only on another mounted app "
                            "(the Starlette app at '/admin')",
                            "to the outermost app (the Starlette app)"), **common)
            assert rec["app"] == {"class": STARLETTE, "mount": "/api"}, rec


# ---------------------------------------------------------------------------
# background_task: the client saw 200
# ---------------------------------------------------------------------------

def test_background_task(interp, tracers, servers):
    tag = uuid.uuid4().hex[:6]
    plan = [(f"/signup/u{tag}{i}", 200) for i in range(3)]
    records, _ = run_case(interp, tracers, servers, "diag_background", plan)
    for (path, _), rec in zip(plan, records):
        check(rec, interp=interp, module="diag_background", path=path,
              cause="background_task", middleware=[SE, EX], route="/signup/{name}",
              read_in="router", accessor="remember", apps=[(STARLETTE, "")],
              hint_has=("read in a BackgroundTask", "after the response was sent",
                        "the client saw success", "pass it to the task as an argument"))
        assert any(f["function"] == interp.fn("BackgroundTask.__call__") for f in rec["stack"])


# ---------------------------------------------------------------------------
# outside_request: a Request built from a bare scope in a job thread
# ---------------------------------------------------------------------------

def test_outside_request(interp, tracers, servers):
    plan = [("/kick", 200), ("/kick", 200)]
    records, _ = run_case(interp, tracers, servers, "diag_outside", plan)
    for rec in records:
        check(rec, interp=interp, module="diag_outside", path=None, cause="outside_request",
              middleware=[], route="<no-request>", read_in=None, accessor="job", apps=[],
              hint_has=("no request being served", "pass the values that code needs"))
        assert rec["tid"] != rec["pid"], "the job runs on its own thread"


# ---------------------------------------------------------------------------
# siblings: request.user / request.auth
# ---------------------------------------------------------------------------

def test_auth_user_missing(interp, tracers, servers):
    plan = [("/whoami", 500), ("/scopes", 500), ("/whoami", 500)]
    records, _ = run_case(interp, tracers, servers, "diag_auth", plan)
    for (path, _), rec in zip(plan, records):
        prop = "user" if path == "/whoami" else "auth"
        check(rec, interp=interp, module="diag_auth", prop=prop, path=path,
              cause="missing_middleware", middleware=[SE, SM, EX], route=path,
              read_in="router", accessor=path[1:], apps=[(STARLETTE, "")],
              hint_has=("No AuthenticationMiddleware wraps this path",
                        "app.add_middleware(AuthenticationMiddleware, backend=...)"))


def test_user_order(interp, tracers, servers):
    plan = [("/dashboard", 500), ("/dashboard", 500)]
    records, _ = run_case(interp, tracers, servers, "diag_user_order", plan)
    for (path, _), rec in zip(plan, records):
        check(rec, interp=interp, module="diag_user_order", prop="user", path=path,
              cause="middleware_order", middleware=[SE, "diag_user_order.AuditUser", AM, EX],
              route="/dashboard", read_in="diag_user_order.AuditUser",
              accessor="AuditUser.dispatch", apps=[(STARLETTE, "")],
              hint_has=("AuditUser reads request.user before AuthenticationMiddleware runs",
                        "call app.add_middleware(AuthenticationMiddleware, backend=...) after "
                        "app.add_middleware(AuditUser), not before"))
