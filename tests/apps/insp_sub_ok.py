"""inspect: a sub-app without SessionMiddleware mounted under a parent that
has it in the right place: the parent's middleware wraps the sub-app, so its
endpoint's session read is fine, as are the parent's own.

Findings: none.
"""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route


class LoadsUser(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        request.state.user = request.session.get("user")
        return await call_next(request)


async def cart(request):
    return PlainTextResponse(f"cart {request.session.get('cart')}")


async def home(request):
    request.session["seen"] = "1"
    return PlainTextResponse("home")


shop = Starlette(routes=[Route("/cart", cart)])
app = Starlette(routes=[Route("/home", home), Mount("/shop", app=shop)],
                middleware=[Middleware(SessionMiddleware, secret_key="not-a-secret"),
                            Middleware(LoadsUser)])
