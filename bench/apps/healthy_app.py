"""Benchmark app: a healthy FastAPI endpoint behind SessionMiddleware.

GET /healthy reads request.session (empty without a cookie) and answers 200
"ok". Nothing here fails the session assertion, but FastAPI/Starlette/anyio
raise and catch a few exceptions per request internally (StopIteration,
StopAsyncIteration, anyio's EndOfStream...): the raise probe runs for each,
the assert probe for none.
"""
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.middleware.sessions import SessionMiddleware

app = FastAPI()
app.add_middleware(SessionMiddleware, secret_key="sessiontrace-bench-not-secret")


@app.get("/healthy", response_class=PlainTextResponse)
async def healthy(request: Request):
    return "ok" if not request.session else "has session"
