"""FastAPI (0.92, Debian's python3.11 and pyenv 3.10 only) with the wrong
order: SessionMiddleware added first, then a middleware reading the session,
which add_middleware() makes the outermost (middleware_order). FastAPI's
own AsyncExitStackMiddleware sits inside ExceptionMiddleware.

* ``/fa/items/{item_id}``: 500, ReadsCart.dispatch reads request.session
* ``/ok``: 200
"""
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.sessions import SessionMiddleware


class ReadsCart(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        if request.url.path != "/ok":
            request.state.cart = request.session.get("cart")  # st-access: ReadsCart.dispatch
        return await call_next(request)


app = FastAPI()
app.add_middleware(SessionMiddleware, secret_key="not-a-secret")
app.add_middleware(ReadsCart)


@app.get("/ok", response_class=PlainTextResponse)
async def ok():
    return "ok"


@app.get("/fa/items/{item_id}", response_class=PlainTextResponse)
async def item(item_id: int):
    return f"item {item_id}"
