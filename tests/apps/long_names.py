"""Names longer than the tracer's bounds (issue 26, item 4): each must come
out marked as cut ("…") in the records, the console and the metrics.

* the app is served as ``long_names:<ATTR>``, ATTR 290 characters: the
  service name (``module:attr``) is longer than its 128-byte bound;
* the middleware that reads request.session is a class whose qualname is
  300 characters (as a class built inside functions by an instrumentation
  library is): longer than the 128-byte class-name bound;
* the route template is ``/`` and 299 more characters: longer than the
  256-byte route bound. ``GET ROUTE`` fails (HTTP 500).
"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

ATTR = "app_" + "a" * 286
ROUTE = "/" + "r" * 299
QUALNAME = "instrument_app.<locals>." + "b" * 250 + ".<locals>.ReadsSessionMiddleware"


class ReadsSession(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        request.session  # st-access: long
        return await call_next(request)


ReadsSession.__qualname__ = QUALNAME


async def endpoint(request):
    return PlainTextResponse("unreachable")


globals()[ATTR] = Starlette(routes=[Route(ROUTE, endpoint)], middleware=[Middleware(ReadsSession)])
