"""Cause ``mounted_app``: SessionMiddleware sits only on the sub-app mounted at
``/admin``; the parent's own route and another sub-app (``/api``) read
request.session without it.

The admin sub-app lists its middleware with Starlette >= 0.35's
``Middleware(cls, *args, **kwargs)`` shape (attributes cls, args, kwargs):
the real class where the Starlette is that new (Debian 13: 0.46, sid: 1.9);
Debian 12 has Starlette 0.26, so there the shape is reproduced by hand and
made iterable the way 0.26's build_middleware_stack unpacks it. Until /admin
serves a request its middleware_stack is None and the tracer can only read
user_middleware.

* ``/login``: 500, parent route reads request.session
* ``/api/me``: 500, route of the /api sub-app reads request.session
* ``/admin/ok``: 200, the session works under /admin
* ``/ok``: 200
"""
import starlette
from starlette.applications import Starlette
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route


if tuple(int(x) for x in starlette.__version__.split(".")[:2]) >= (0, 35):
    from starlette.middleware import Middleware as Middleware035  # the real one
else:
    class Middleware035:
        """starlette.middleware.Middleware as of Starlette 0.35: cls, args, kwargs."""

        def __init__(self, cls, *args, **kwargs):
            self.cls = cls
            self.args = args
            self.kwargs = kwargs

        def __iter__(self):
            # what Starlette 0.26's build_middleware_stack unpacks: (cls, options)
            return iter((self.cls, self.kwargs))


async def login(request: Request) -> PlainTextResponse:
    user = request.session.get("user")  # st-access: login
    return PlainTextResponse(f"login {user}")


async def me(request: Request) -> PlainTextResponse:
    user = request.session.get("user")  # st-access: me
    return PlainTextResponse(f"me {user}")


async def admin_ok(request: Request) -> PlainTextResponse:
    request.session["seen"] = "1"
    return PlainTextResponse("admin ok")


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


admin = Starlette(routes=[Route("/ok", admin_ok)],
                  middleware=[Middleware035(SessionMiddleware, secret_key="not-a-secret")])
api = Starlette(routes=[Route("/me", me)])
app = Starlette(routes=[
    Route("/login", login),
    Route("/ok", ok),
    Mount("/admin", app=admin),
    Mount("/api", app=api),
])
