"""App (b): endpoints that read request.session without SessionMiddleware.

* ``/async/{x}``: ``async def`` endpoint, runs on the event loop thread.
* ``/sync/{x}``: plain ``def`` endpoint, Starlette runs it in a worker thread.
* ``/ok``: 200, touches no session.

Both failing endpoints accept GET and POST. Lines with an ``st-access`` marker
are the accessor lines the tests look up by searching this file.
"""
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def async_endpoint(request: Request) -> PlainTextResponse:
    x = request.path_params["x"]
    data = request.session  # st-access: async_endpoint
    return PlainTextResponse(f"async {x} {data!r}")


def sync_endpoint(request: Request) -> PlainTextResponse:
    x = request.path_params["x"]
    data = request.session  # st-access: sync_endpoint
    return PlainTextResponse(f"sync {x} {data!r}")


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/async/{x}", async_endpoint, methods=["GET", "POST"]),
        Route("/sync/{x}", sync_endpoint, methods=["GET", "POST"]),
        Route("/ok", ok),
    ]
)
