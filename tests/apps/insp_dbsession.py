"""inspect: `session` everywhere, never request.session: a database session
attribute, self.session, a local named session, request.state.session,
request.sessions. No SessionMiddleware anywhere, and nothing fails.

Findings: none.
"""
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class Db:
    def __init__(self):
        self.session = {"open": True}


db = Db()


class WithDb(BaseHTTPMiddleware):
    def __init__(self, app):
        super().__init__(app)
        self.session = db.session

    async def dispatch(self, request, call_next):
        request.state.session = self.session
        return await call_next(request)


async def items(request):
    session = db.session
    return PlainTextResponse(f"items {session['open']} {request.state.session['open']}")


async def other(request):
    sessions = getattr(request, "sessions", None)
    return PlainTextResponse(f"other {db.session['open']} {sessions}")


app = Starlette(routes=[Route("/items", items), Route("/other", other)])
app.add_middleware(WithDb)
