"""App (c): SessionMiddleware is installed correctly; nothing here may produce a
tracer record.

Endpoints (all GET):

* ``/ok``                     200 "ok"
* ``/session/set/{k}/{v}``    200, writes request.session[k] = v
* ``/session/get``            200, JSON of the whole session
* ``/session/clear``          200, clears the session
* ``/caught/keyerror``        200, a KeyError raised and caught
* ``/caught/valueerror``      200, a ValueError raised and caught
* ``/caught/assert``          200, ``assert x == 1, "other message"`` fails and is caught
* ``/caught/session-like``    200, an AssertionError whose message merely mentions
                              request.session, raised and caught in the endpoint
* ``/escapes/assert``         500, an AssertionError with a different message escapes
* ``/escapes/auth``           500, Starlette's own ``request.auth`` assertion
                              ("AuthenticationMiddleware must be installed ...") escapes
* ``/escapes/keyerror``       500, a KeyError escapes
"""
import json

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def session_set(request: Request) -> PlainTextResponse:
    k = request.path_params["k"]
    v = request.path_params["v"]
    request.session[k] = v
    return PlainTextResponse(f"set {k}={v}")


async def session_get(request: Request) -> JSONResponse:
    return JSONResponse(dict(sorted(request.session.items())))


def session_clear(request: Request) -> PlainTextResponse:
    # sync endpoint on purpose: session access from a worker thread
    request.session.clear()
    return PlainTextResponse("cleared")


async def caught_keyerror(request: Request) -> PlainTextResponse:
    try:
        {}["missing"]
    except KeyError as e:
        return PlainTextResponse(f"caught KeyError {e}")
    return PlainTextResponse("not raised", status_code=599)


async def caught_valueerror(request: Request) -> PlainTextResponse:
    try:
        int("not a number")
    except ValueError:
        return PlainTextResponse("caught ValueError")
    return PlainTextResponse("not raised", status_code=599)


async def caught_assert(request: Request) -> PlainTextResponse:
    x = len(request.url.path)  # never 1
    try:
        assert x == 1, "other message"
    except AssertionError as e:
        return PlainTextResponse(f"caught AssertionError {e}")
    return PlainTextResponse("not raised (python -O?)", status_code=599)


async def caught_session_like(request: Request) -> PlainTextResponse:
    try:
        raise AssertionError("request.session was fine, this is another assertion")
    except AssertionError as e:
        return PlainTextResponse(f"caught AssertionError {e}")


async def escapes_assert(request: Request) -> PlainTextResponse:
    raise AssertionError("a different message that escapes")


async def escapes_auth(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"auth {request.auth!r}")


async def escapes_keyerror(request: Request) -> PlainTextResponse:
    return PlainTextResponse(json.dumps({}["missing"]))


app = Starlette(
    routes=[
        Route("/ok", ok),
        Route("/session/set/{k}/{v}", session_set),
        Route("/session/get", session_get),
        Route("/session/clear", session_clear),
        Route("/caught/keyerror", caught_keyerror),
        Route("/caught/valueerror", caught_valueerror),
        Route("/caught/assert", caught_assert),
        Route("/caught/session-like", caught_session_like),
        Route("/escapes/assert", escapes_assert),
        Route("/escapes/auth", escapes_auth),
        Route("/escapes/keyerror", escapes_keyerror),
    ],
    middleware=[Middleware(SessionMiddleware, secret_key="sessiontrace-tests-not-secret")],
)
