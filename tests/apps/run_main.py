"""A program that serves its app itself, as a Dockerfile's CMD ["python",
"main.py"] does: uvicorn.run() in __main__, after the app is built. Every
request fails the session assertion (no SessionMiddleware). argv: PORT."""
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class ReadsSession(BaseHTTPMiddleware):
    async def dispatch(self, request, call_next):
        user = request.session.get("user")  # st-access: ReadsSession.dispatch
        return await call_next(request)


async def anything(request):
    return PlainTextResponse("unreachable")


app = Starlette(routes=[Route("/{rest:path}", anything)], middleware=[Middleware(ReadsSession)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
