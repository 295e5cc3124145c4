"""Benchmark app: healthy responses of SIZE bytes (query ?kib=N, default 64):
what copying large buffers costs a watched process (a data breakpoint turns
off the CPU's fast string copies, rep movsb, for the thread, in user and
kernel mode alike)."""
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import Response
from starlette.routing import Route

BODIES = {}


async def ok(request):
    kib = int(request.query_params.get("kib", "64"))
    body = BODIES.get(kib)
    if body is None:
        body = BODIES[kib] = b"x" * (kib * 1024)
    return Response(bytes(body), media_type="application/octet-stream")


app = Starlette(routes=[Route("/ok", ok)],
                middleware=[Middleware(SessionMiddleware, secret_key="sessiontrace-bench-not-secret")])
