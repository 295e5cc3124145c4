"""inspect: the common wrong order. SessionMiddleware is added first and the
auth middleware last, so add_middleware() makes the auth middleware the
outermost: its dispatch reads request.session before SessionMiddleware runs.
The endpoint that reads the session is fine (SessionMiddleware wraps it).

Findings (the lines marked inspect): one middleware_order, in AuthFromSession.dispatch.
"""
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class AuthFromSession(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if request.url.path == "/health":
            return await call_next(request)
        request.state.uid = request.session.get("uid")  # inspect: middleware_order AuthFromSession.dispatch
        return await call_next(request)


async def account(request):
    return PlainTextResponse(f"account {request.session.get('uid')}")


async def health(request):
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/account", account), Route("/health", health)])
app.add_middleware(SessionMiddleware, secret_key="not-a-secret")
app.add_middleware(AuthFromSession)
