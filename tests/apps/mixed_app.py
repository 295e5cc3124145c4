"""Mixed workload for the independent BCC count: no SessionMiddleware.

* ``/ok``                200
* ``/caught/valueerror`` 200, a ValueError raised and caught
* ``/caught/assert``     200, ``assert x == 1, "other"`` fails and is caught
* ``/escapes/keyerror``  500, a KeyError escapes
* ``/async/{x}``         500, async endpoint reads request.session
* ``/sync/{x}``          500, plain def endpoint (worker thread) reads request.session
"""
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def ok(request):
    return PlainTextResponse("ok")


async def caught_valueerror(request):
    try:
        raise ValueError("nope")
    except ValueError:
        return PlainTextResponse("caught")


async def caught_assert(request):
    x = int(request.query_params.get("x", "0"))
    try:
        assert x == 1, "other"
    except AssertionError:
        return PlainTextResponse("caught")
    return PlainTextResponse("fine")


async def escapes_keyerror(request):
    return PlainTextResponse({}["missing"])


async def async_session(request):
    return PlainTextResponse(str(request.session))


def sync_session(request):
    return PlainTextResponse(str(request.session))


app = Starlette(routes=[
    Route("/ok", ok),
    Route("/caught/valueerror", caught_valueerror),
    Route("/caught/assert", caught_assert),
    Route("/escapes/keyerror", escapes_keyerror),
    Route("/async/{x}", async_session),
    Route("/sync/{x}", sync_session),
])
