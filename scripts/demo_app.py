"""The bundled demo app (make demo): a bug as it happens in real code.

The author followed the common advice "add SessionMiddleware, then your auth
middleware". Starlette's add_middleware() inserts at index 0, so the
middleware added last runs first: AuthMiddleware reads request.session before
SessionMiddleware has run, and every /account request fails with
    AssertionError: SessionMiddleware must be installed to access request.session
/health does not touch the session and keeps working.
"""
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


class AuthMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if request.url.path.startswith("/account"):
            request.state.user = request.session.get("user")
        return await call_next(request)


async def health(request):
    return PlainTextResponse("ok")


async def account(request):
    return JSONResponse({"user": request.state.user, "id": request.path_params["id"]})


app = Starlette(routes=[Route("/health", health), Route("/account/{id}", account)])
app.add_middleware(SessionMiddleware, secret_key="demo-not-secret")
app.add_middleware(AuthMiddleware)
