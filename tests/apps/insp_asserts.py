"""inspect: an app full of other asserts (and no SessionMiddleware, and no
session read): none of them is a finding, and none fails at run time.

Findings: none.
"""
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class Checks(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        assert request.method in ("GET", "HEAD", "POST"), "method"
        return await call_next(request)


async def one(request):
    assert request.url.path.startswith("/"), "path"
    return PlainTextResponse("one")


async def two(request):
    assert isinstance(request.query_params.get("x", ""), str)
    try:
        assert request.headers.get("x-missing") is not None, "header"
    except AssertionError:
        pass
    return PlainTextResponse("two")


app = Starlette(routes=[Route("/one", one), Route("/two", two)])
app.add_middleware(Checks)
