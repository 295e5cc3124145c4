"""inspect: a FastAPI dependency reads request.session and there is no
SessionMiddleware (missing_middleware); the dependency sits one level down,
under another dependency. The other route uses no session.

Findings: one missing_middleware, in current_user.
"""
from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse


def current_user(request: Request):
    return request.session.get("user")  # inspect: missing_middleware current_user


def profile(user=Depends(current_user)):
    return {"user": user}


app = FastAPI()


@app.get("/me", response_class=PlainTextResponse)
async def me(p=Depends(profile)):
    return f"me {p}"


@app.get("/health", response_class=PlainTextResponse)
async def health():
    return "ok"
