"""A FastAPI hello-world behind SessionMiddleware whose healthy requests
raise and catch exceptions in Python, as real services do (issue 23): every
request looks up unset environment variables (``os.environ.get``:
``_Environ.__getitem__`` raises KeyError, ``Mapping.get`` catches it), which
is what FastAPI 0.162 itself does three times a request on 3.14. A probe on
do_raise runs for each; the watch trigger for none.

* ``/ok``          200, reads the (empty) session
* ``/fail/{x}``    500: a pure ASGI middleware added after SessionMiddleware
                   (so outside it) reads request.session on these paths
"""
import os

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.middleware.sessions import SessionMiddleware


class ReadsSessionOnFail:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/fail/"):
            request = Request(scope)
            request.session  # st-access: ReadsSessionOnFail.__call__
        await self.app(scope, receive, send)


app = FastAPI()
app.add_middleware(SessionMiddleware, secret_key="sessiontrace-test-not-secret")
app.add_middleware(ReadsSessionOnFail)


@app.get("/ok", response_class=PlainTextResponse)
async def ok(request: Request):
    debug = os.environ.get("SESSIONTRACE_TEST_UNSET_DEBUG", "")
    region = os.environ.get("SESSIONTRACE_TEST_UNSET_REGION", "-")
    return f"ok {len(request.session)}{debug}{region}"


@app.get("/fail/{x}", response_class=PlainTextResponse)
async def fail(x: str):
    return "unreachable " + x
