"""Benchmark app for the distro interpreters (scripts/rootfs.sh): the same
healthy endpoint as healthy_app.py in plain Starlette, which imports on every
one of them (sid's FastAPI needs a pydantic-core built for 3.14 only).

GET /healthy reads request.session (empty without a cookie) and answers 200
"ok". Nothing here fails the session assertion.
"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def healthy(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok" if not request.session else "has session")


app = Starlette(routes=[Route("/healthy", healthy)],
                middleware=[Middleware(SessionMiddleware, secret_key="sessiontrace-bench-not-secret")])
