"""inspect: endpoints behind decorators that keep the original function in
__wrapped__ (functools.wraps): one decorator, two stacked, a decorated
HTTPEndpoint method, and a decorated endpoint that reads no session. No
SessionMiddleware anywhere.

Findings: three missing_middleware, in profile, settings and Basket.get
(the decorated functions, not their wrappers).
"""
import functools

from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.responses import PlainTextResponse
from starlette.routing import Route


def logged(fn):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        return await fn(*args, **kwargs)
    return wrapper


def timed(fn):
    @functools.wraps(fn)
    async def timer(request):
        return await fn(request)
    return timer


@logged
async def profile(request):
    return PlainTextResponse(str(request.session.get("user")))  # inspect: missing_middleware profile


@timed
@logged
async def settings(request):
    return PlainTextResponse(str(request.session.get("theme")))  # inspect: missing_middleware settings


class Basket(HTTPEndpoint):
    @logged
    async def get(self, request):
        return PlainTextResponse(str(request.session.get("items")))  # inspect: missing_middleware Basket.get


@logged
async def fine(request):
    return PlainTextResponse("fine")


app = Starlette(routes=[Route("/profile", profile), Route("/settings", settings),
                        Route("/basket", Basket), Route("/fine", fine)])
