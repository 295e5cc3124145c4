"""A Starlette service with BaseHTTPMiddleware around SessionMiddleware
(issue 23): healthy requests raise and catch in Python (anyio's memory
streams raise WouldBlock, Starlette's Headers raise KeyError, an unset
environment variable is looked up), so a probe on do_raise runs several
times a request; the watch trigger never.

* ``/ok``          200, reads and writes the session
* ``/fail/{x}``    500: the outermost middleware reads request.session on
                   these paths, before SessionMiddleware ran (middleware_order)
"""
import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class AuthOnFail(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if request.url.path.startswith("/fail/"):
            request.session.get("user")  # st-access: AuthOnFail.dispatch
        return await call_next(request)


class Timing(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        response = await call_next(request)
        response.headers["x-region"] = os.environ.get("SESSIONTRACE_TEST_UNSET_REGION", "-")
        if "x-missing" not in response.headers:
            response.headers["x-seen"] = request.headers.get("x-unset-header", "no")
        return response


async def ok(request):
    request.session["n"] = request.session.get("n", 0) + 1
    return PlainTextResponse("ok")


async def fail(request):
    return PlainTextResponse("unreachable")


app = Starlette(
    routes=[Route("/ok", ok), Route("/fail/{x}", fail)],
    middleware=[
        Middleware(AuthOnFail),
        Middleware(SessionMiddleware, secret_key="sessiontrace-test-not-secret"),
        Middleware(Timing),
    ],
)
