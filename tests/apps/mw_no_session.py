"""App (a): a BaseHTTPMiddleware reads request.session, but no SessionMiddleware
is installed, so every request on every path fails with
``AssertionError: SessionMiddleware must be installed to access request.session``
(HTTP 500).

The line carrying the ``st-access`` marker is the accessor line the tests
expect in the tracer's records; they find it by searching this file, so keep
the marker on the line that reads ``request.session``.
"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class ReadsSession(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        user = request.session.get("user")  # st-access: ReadsSession.dispatch
        response = await call_next(request)
        response.headers["x-user"] = str(user)
        return response


async def anything(request: Request) -> PlainTextResponse:
    return PlainTextResponse("unreachable: " + request.url.path)


app = Starlette(
    routes=[Route("/{rest:path}", anything, methods=["GET", "POST", "PUT", "DELETE"])],
    middleware=[Middleware(ReadsSession)],
)
