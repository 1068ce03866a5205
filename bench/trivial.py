"""A trivial endpoint on the reference server's stack (Starlette on uvicorn), for the server benchmark's baseline.

Run by the benchmark in a child process: ``python -m bench.trivial`` prints its URL, then serves
``GET /v1/ping/`` with a fixed JSON answer and nothing else: no authentication, no validation, no store.

``python -m bench.trivial --canned FILE`` serves instead, on every path, the answers a reference server
gave to each kind of request of the mixed loop (``FILE``: a JSON object, kind -> answer, recorded by
``bench/server.py``), chosen by method and path with nothing computed: the mixed loop against it is the
most the stack allows with answers of those sizes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.server.runner import bind, serve

ANSWER = {"status": "ok", "org_id": "o", "project_id": "p", "user_email": None}


async def ping(request) -> JSONResponse:  # noqa: ARG001 - Starlette's signature
    return JSONResponse(ANSWER)


def kind_of(method: str, path: str) -> str:
    """The kind of request of the mixed loop (and of its set-up) that ``method path`` is."""
    if path.startswith("/sandbox/"):
        return "dump" if path.endswith("/dump") else "sandbox"
    if path.endswith("/history/"):
        return "history"
    if path == "/v2/memories/":
        return "list"
    if path == "/v1/memories/":
        return "add"
    return {"GET": "get", "PUT": "update"}.get(method, "other")


def canned(answers: dict[str, str]) -> Starlette:
    encoded = {kind: answer.encode("utf-8") for kind, answer in answers.items()}

    async def answer(request) -> Response:
        return Response(encoded.get(kind_of(request.method, request.url.path), b"{}"), media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PUT"])])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.trivial", description=__doc__.split("\n\n")[0])
    parser.add_argument("--canned", type=Path, help="answers by kind of request (JSON), served on every path")
    args = parser.parse_args()
    sock = bind("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    app = canned(json.loads(args.canned.read_text(encoding="utf-8"))) if args.canned else Starlette(routes=[Route("/v1/ping/", ping)])
    print(f"trivial endpoint on http://{host}:{port}: {'canned answers' if args.canned else 'GET /v1/ping/'}", flush=True)
    serve(app, sock, log_level="warning")
