"""Cause ``outside_request``: a job thread builds a Request from a bare scope
(as startup hooks and scheduled jobs do) and reads its session. The
AssertionError is caught by the job; the request that started the job
answers 200.

* ``/kick``: 200 "kicked", after the job thread finished
* ``/ok``: 200
"""
import threading

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


def job() -> None:
    try:
        Request({"type": "http"}).session  # st-access: job
    except AssertionError:
        pass


async def kick(request: Request) -> PlainTextResponse:
    th = threading.Thread(target=job)
    th.start()
    th.join()
    return PlainTextResponse("kicked")


async def ok(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/kick", kick), Route("/ok", ok)])
