"""inspect: SessionMiddleware only on the sub-app mounted at /admin, while the
parent's own endpoint reads the session (mounted_app). The /admin endpoint's
read is fine.

Findings: one mounted_app, in login.
"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route


async def login(request):
    user = request.session.get("user")  # inspect: mounted_app login
    return PlainTextResponse(f"login {user}")


async def admin_home(request):
    request.session["seen"] = "1"
    return PlainTextResponse("admin")


async def health(request):
    return PlainTextResponse("ok")


admin = Starlette(routes=[Route("/home", admin_home)],
                  middleware=[Middleware(SessionMiddleware, secret_key="not-a-secret")])
app = Starlette(routes=[
    Route("/login", login),
    Route("/health", health),
    Mount("/admin", app=admin),
])
