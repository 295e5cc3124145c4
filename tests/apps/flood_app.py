"""A tenant that fails as fast as it can (issue 25, fairness): 10,000 routes,
each its own endpoint function (its own accessor), each reading
request.session FLOOD_READS times per request (default 200) with no
SessionMiddleware anywhere, catching every AssertionError. 40 mounts of 250
routes each: every route template is one the tracer reads (it reads at most
256 routes per router).

* ``/m<k>/r<j>``: 500 after FLOOD_READS failing reads by endpoint 250k+j
* ``/ok``: 200
"""
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

N = 10000
READS = int(os.environ.get("FLOOD_READS", "200"))

endpoints = []
for i in range(N):
    src = (f"async def flood_{i}(request):\n"
           f"    for _ in range({READS}):\n"
           f"        try:\n"
           f"            request.session  # st-access: f{i}\n"
           f"        except AssertionError:\n"
           f"            pass\n"
           f"    return PlainTextResponse('failed', status_code=500)\n")
    ns = {"PlainTextResponse": PlainTextResponse}
    exec(compile(src, f"<flood {i}>", "exec"), ns)
    endpoints.append(ns[f"flood_{i}"])

routes = [Mount(f"/m{k}", routes=[Route(f"/r{j}", endpoints[250 * k + j]) for j in range(250)])
          for k in range(N // 250)]


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


routes.append(Route("/ok", ok))
app = Starlette(routes=routes)
