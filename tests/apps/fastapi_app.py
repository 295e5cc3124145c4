"""FastAPI variant of endpoints.py (FastAPI 0.92 / pydantic 1: Debian's
python3.11 only). Endpoints take ``request: Request`` and read request.session
without SessionMiddleware installed. Lines with an ``st-access`` marker are
looked up by the tests.
"""
from fastapi import FastAPI, Request
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
