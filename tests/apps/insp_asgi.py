"""inspect: pure ASGI middleware (no BaseHTTPMiddleware, no dispatch) that
build their own connection from the scope and read its session.
SessionMiddleware is added first, so every middleware added after it runs
before it.

Findings: two middleware_order, in LoadUser.__call__ (request =
Request(scope, receive), then request.session) and Locale.__call__
(HTTPConnection(scope).session). Harmless builds a Request too but reads
request.state.session, which is not the property.
"""
from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class LoadUser:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/user":
            request = Request(scope, receive)
            user = request.session.get("user")  # inspect: middleware_order LoadUser.__call__
            scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)


class Locale:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/locale":
            lang = HTTPConnection(scope).session.get("lang")  # inspect: middleware_order Locale.__call__
            scope.setdefault("state", {})["lang"] = lang
        await self.app(scope, receive, send)


class Harmless:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            request = Request(scope)
            request.state.session = None
        await self.app(scope, receive, send)


async def page(request):
    return PlainTextResponse("page")


app = Starlette(routes=[Route("/user", page), Route("/locale", page), Route("/page", page)])
app.add_middleware(SessionMiddleware, secret_key="insp-asgi")
app.add_middleware(LoadUser)
app.add_middleware(Locale)
app.add_middleware(Harmless)
