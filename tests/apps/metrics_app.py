"""App for the metrics tests: no SessionMiddleware anywhere.

* ``/items/{item_id:int}``  GET, POST, DELETE: the endpoint reads request.session (500)
* ``/mw/{rest:path}``       any method: a BaseHTTPMiddleware reads request.session
                            before the route runs (500), so clients choose the path
                            and the method of every failure
* ``/ok``                   200, healthy
"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class ReadsSessionOnMw(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if request.url.path.startswith("/mw/"):
            request.session.get("user")
        return await call_next(request)


async def item(request: Request) -> PlainTextResponse:
    return PlainTextResponse(repr(dict(request.session)))


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/items/{item_id:int}", item, methods=["GET", "POST", "DELETE"]),
        Route("/mw/{rest:path}", ok),
        Route("/ok", ok),
    ],
    middleware=[Middleware(ReadsSessionOnMw)],
)
