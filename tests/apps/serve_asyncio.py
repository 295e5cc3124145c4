"""An asyncio program that serves through uvicorn.Server(config).serve()
among its own tasks (no uvicorn command line, no uvicorn.run). Every request
fails the session assertion. argv: PORT."""
import asyncio
import sys

import uvicorn

from run_main import app


async def heartbeat():
    while True:
        await asyncio.sleep(3600)


async def main(port):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    beat = asyncio.ensure_future(heartbeat())
    await server.serve()
    beat.cancel()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
