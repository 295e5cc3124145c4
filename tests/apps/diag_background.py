"""Cause ``background_task``: a BackgroundTask reads request.session after the
response was sent: the client sees 200, only the server log shows the error.

* ``/signup/{name}``: 200, then the task fails
* ``/ok``: 200
"""
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def remember(request: Request) -> None:
    request.session["welcomed"] = True  # st-access: remember


async def signup(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"welcome {request.path_params['name']}",
                             background=BackgroundTask(remember, request))


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/signup/{name}", signup), Route("/ok", ok)])
