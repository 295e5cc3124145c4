"""Cause ``missing_middleware``: an endpoint reads request.session and no
SessionMiddleware is installed anywhere (only GZipMiddleware).

* ``/items/{item_id}``: 500, reads request.session
* ``/ok``: 200
"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def item(request: Request) -> PlainTextResponse:
    cart = request.session.get("cart")  # st-access: item
    return PlainTextResponse(f"{request.path_params['item_id']} {cart}")


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[Route("/items/{item_id}", item), Route("/ok", ok)],
    middleware=[Middleware(GZipMiddleware)],
)
