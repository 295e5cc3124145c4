"""App for the hostile-input tests: every path under /h/ fails (a middleware
reads request.session, no SessionMiddleware). Before failing, it appends the
path exactly as the server decoded it (scope["path"]) to
/tmp/sessiontrace-hostile-<pid>.log, one JSON string per line (ASCII-escaped,
surrogates kept), so the test can compare the tracer's records with it.
"""
import json
import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

LOG = f"/tmp/sessiontrace-hostile-{os.getpid()}.log"


class LogsThenReads(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        path = request.scope["path"]
        if path.startswith("/h/"):
            with open(LOG, "a", encoding="ascii") as f:
                f.write(json.dumps(path) + "\n")
            request.session.get("user")
        return await call_next(request)


async def ok(request):
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/{rest:path}", ok)], middleware=[Middleware(LogsThenReads)])
