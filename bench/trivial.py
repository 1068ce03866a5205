"""A trivial endpoint on the reference server's stack (Starlette on uvicorn), for the server benchmark's baseline.

Run by the benchmark in a child process: ``python -m bench.trivial`` prints its URL, then serves
``GET /v1/ping/`` with a fixed JSON answer and nothing else: no authentication, no validation, no store.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from conformance.server.runner import bind, serve

ANSWER = {"status": "ok", "org_id": "o", "project_id": "p", "user_email": None}


async def ping(request) -> JSONResponse:  # noqa: ARG001 - Starlette's signature
    return JSONResponse(ANSWER)


if __name__ == "__main__":
    sock = bind("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    print(f"trivial endpoint on http://{host}:{port}: GET /v1/ping/", flush=True)
    serve(Starlette(routes=[Route("/v1/ping/", ping)]), sock, log_level="warning")
