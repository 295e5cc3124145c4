"""3000 endpoints, each its own function (its own code object, whose line
table is padded to CPython's largest practical size when CHURN_FAT=1), each
reading request.session with no SessionMiddleware anywhere: a long-running
server's code-object churn for the tracer's symbolizer cache.

* ``/e/<i>``: 500, endpoint number i (0..2999) reads request.session
* ``/ok``: 200
"""
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

N = 3000
# CHURN_FAT=1: each endpoint carries 2000 extra lines of code before the read,
# so its location table is large (the cache's byte bound is what is tested)
FAT = os.environ.get("CHURN_FAT") == "1"
PAD = "".join(f"    x{k} = {k}\n" for k in range(2000)) if FAT else ""

routes = []
for i in range(N):
    src = (f"async def endpoint_{i}(request):\n{PAD}"
           f"    return PlainTextResponse(str(request.session.get('k')))  # st-access: e{i}\n")
    ns = {"PlainTextResponse": PlainTextResponse}
    exec(compile(src, f"<churn {i}>", "exec"), ns)
    routes.append(Route(f"/e/{i}", ns[f"endpoint_{i}"]))


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


routes.append(Route("/ok", ok))
app = Starlette(routes=routes)
