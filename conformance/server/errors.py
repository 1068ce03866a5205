"""Errors the reference server answers with, in each API's own shape.

Mem0 (a Django REST service) answers ``{"error": "..."}`` with 400/404 and ``{"detail": "..."}``
with 401; Klavis (a FastAPI service) answers ``{"detail": "..."}`` and, for invalid input,
422 ``{"detail": [{loc, msg, type}]}``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Answer with ``status`` and ``body``; raised anywhere inside a handler."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def mem0_error(status: int, message: str) -> ApiError:
    return ApiError(status, {"error": message})


def klavis_error(status: int, message: str) -> ApiError:
    return ApiError(status, {"detail": message})


def unauthorized(api: str) -> ApiError:
    if api == "mem0":
        return ApiError(401, {"detail": "Invalid API key. Please provide 'Authorization: Token <your-api-key>'."})
    return ApiError(401, {"detail": "Invalid or missing API key. Please provide 'Authorization: Bearer <your-api-key>'."})


def invalid_input(api: str, problems: list[tuple[list[Any], str, str]]) -> ApiError:
    """Input that breaks the effective document: ``problems`` are ``(loc, msg, type)``."""
    if api == "klavis":
        return ApiError(422, {"detail": [{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in problems]})
    loc, msg, kind = problems[0]
    if kind == "uuid_parsing" and loc:
        return ApiError(400, {"error": f"{loc[-1]} should be a valid UUID"})
    where = ".".join(str(p) for p in loc)
    return ApiError(400, {"error": f"{where}: {msg}" if where else msg})
