"""Benchmark app: every request but /count fails the session assertion
(no SessionMiddleware).

GET /fail   increments the failure counter, then reads request.session
GET /deep   the same from DEPTH Python frames further down (the record's
            stack is cut at 64 frames: the most expensive capture)
GET /count  the number of failures so far (counted before each raise, so
            a request the client gave up on still counts: exact)
"""
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

DEPTH = 70
failures = 0

app = FastAPI()


def down(request: Request, n: int):
    if n:
        return down(request, n - 1)
    return request.session


@app.get("/fail", response_class=PlainTextResponse)
async def fail(request: Request):
    global failures
    failures += 1
    return repr(request.session)


@app.get("/deep", response_class=PlainTextResponse)
async def deep(request: Request):
    global failures
    failures += 1
    return repr(down(request, DEPTH))


@app.get("/count", response_class=PlainTextResponse)
async def count():
    return str(failures)
