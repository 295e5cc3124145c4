"""FastAPI variant of endpoints.py (FastAPI 0.92 / pydantic 1: Debian's
python3.11 only). Endpoints take ``request: Request`` and read request.session
without SessionMiddleware installed. Lines with an ``st-access`` marker are
looked up by the tests.
"""
from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/ok", response_class=PlainTextResponse)
async def ok():
    return "ok"


@app.api_route("/fa/async/{x}", methods=["GET", "POST"], response_class=PlainTextResponse)
async def fa_async(x: str, request: Request):
    data = request.session  # st-access: fa_async
    return f"async {x} {data!r}"


@app.api_route("/fa/sync/{x}", methods=["GET", "POST"], response_class=PlainTextResponse)
def fa_sync(x: str, request: Request):
    data = request.session  # st-access: fa_sync
    return f"sync {x} {data!r}"


def fa_sync_dep(request: Request):
    # a plain def dependency: FastAPI runs it in a worker thread
    return request.session  # st-access: fa_sync_dep


@app.get("/fa/dep/{x}", response_class=PlainTextResponse)
async def fa_dep(x: str, data=Depends(fa_sync_dep)):
    return f"dep {x} {data!r}"
