"""inspect: readers of other shapes, with no SessionMiddleware anywhere: an
HTTPEndpoint class's method (request is its second parameter), a dispatch=
function given to BaseHTTPMiddleware (request first), and an endpoint that
reads the session through a local alias (r = request).

Findings: three missing_middleware, in Cart.get, stamp and aliased.
"""
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class Cart(HTTPEndpoint):
    async def get(self, request):
        return PlainTextResponse(str(request.session.get("cart")))  # inspect: missing_middleware Cart.get


async def stamp(request, call_next):
    if request.url.path == "/plain":
        request.state.who = request.session.get("who")  # inspect: missing_middleware stamp
    return await call_next(request)


async def aliased(request):
    r = request
    return PlainTextResponse(str(r.session.get("x")))  # inspect: missing_middleware aliased


async def fine(request):
    return PlainTextResponse("fine")


app = Starlette(routes=[Route("/cart", Cart), Route("/plain", fine), Route("/alias", aliased),
                        Route("/fine", fine)])
app.add_middleware(BaseHTTPMiddleware, dispatch=stamp)
