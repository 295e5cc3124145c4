"""inspect: a healthy FastAPI app using sessions correctly: SessionMiddleware
added last (the outermost), a middleware reading the session inside it, an
endpoint and a dependency reading the session of their Request parameter,
a database session elsewhere.

Findings: none.
"""
from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware


class Db:
    session = "db"


class LoadsCart(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        request.state.cart = request.session.get("cart")
        return await call_next(request)


def current_user(req: Request):
    return req.session.get("user")


app = FastAPI()
app.add_middleware(LoadsCart)
app.add_middleware(SessionMiddleware, secret_key="not-a-secret")


@app.get("/me", response_class=PlainTextResponse)
async def me(request: Request, user=Depends(current_user)):
    request.session["seen"] = "1"
    return f"me {user} {Db.session}"
