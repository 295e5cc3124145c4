"""inspect: readers behind a Host route and a WebSocket route, with no
SessionMiddleware: the endpoint of the app served for Host api.example.com
and a websocket endpoint (websocket.session) both read the session.

Findings: two missing_middleware, in v1 and ws.
"""
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Route, WebSocketRoute


async def v1(request):
    return PlainTextResponse(str(request.session.get("token")))  # inspect: missing_middleware v1


async def ws(websocket):
    await websocket.accept()
    await websocket.send_text(str(websocket.session.get("x")))  # inspect: missing_middleware ws
    await websocket.close()


async def home(request):
    return PlainTextResponse("home")


api = Starlette(routes=[Route("/v1", v1)])
app = Starlette(routes=[Route("/", home), WebSocketRoute("/ws", ws),
                        Host("api.example.com", app=api)])
