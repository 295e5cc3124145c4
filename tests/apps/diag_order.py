"""Cause ``middleware_order``: the common advice "add SessionMiddleware, then
your auth middleware". add_middleware() inserts at index 0, so the auth
middleware added last is the outermost and reads request.session before
SessionMiddleware has run. Also served under ``python -O``, where the same
read raises KeyError('session').

* ``/account/{uid:int}``: 500, AuthFromSession.dispatch reads request.session
* ``/ok``: 200 (AuthFromSession lets it through untouched)
"""
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class AuthFromSession(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if request.url.path == "/ok":
            return await call_next(request)
        request.state.uid = request.session.get("uid")  # st-access: AuthFromSession.dispatch
        return await call_next(request)


async def account(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"account {request.path_params['uid']}")


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/account/{uid:int}", account), Route("/ok", ok)])
app.add_middleware(SessionMiddleware, secret_key="not-a-secret")
app.add_middleware(AuthFromSession)
