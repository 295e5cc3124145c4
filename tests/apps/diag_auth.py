"""Siblings: request.auth and request.user.

* ``/whoami``: 500, the endpoint reads request.user; no AuthenticationMiddleware
  anywhere (missing_middleware)
* ``/scopes``: 500, the endpoint reads request.auth (missing_middleware)
* ``/ok``: 200

SessionMiddleware is installed (it is not what these properties need).
"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def whoami(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(request.user))  # st-access: whoami


async def scopes(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(request.auth))  # st-access: scopes


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[Route("/whoami", whoami), Route("/scopes", scopes), Route("/ok", ok)],
    middleware=[Middleware(SessionMiddleware, secret_key="not-a-secret")],
)
