"""Sibling in the wrong order: AuthenticationMiddleware is added first, then a
middleware that reads request.user, which add_middleware() makes the
outermost: it runs before AuthenticationMiddleware (middleware_order).

* ``/dashboard``: 500, AuditUser.dispatch reads request.user
* ``/ok``: 200
"""
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class HeaderBackend(AuthenticationBackend):
    async def authenticate(self, conn):
        return AuthCredentials(["authenticated"]), SimpleUser("guest")


class AuditUser(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if request.url.path != "/ok":
            request.state.who = request.user  # st-access: AuditUser.dispatch
        return await call_next(request)


async def dashboard(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"dashboard {request.user.display_name}")


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/dashboard", dashboard), Route("/ok", ok)])
app.add_middleware(AuthenticationMiddleware, backend=HeaderBackend())
app.add_middleware(AuditUser)
