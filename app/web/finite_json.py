"""Refuses a JSON body that holds a non-finite number (`NaN`, `Infinity`, `-Infinity`).

Python's `json.dumps` writes them by default and `json.loads` reads them back, but JSON has no
such numbers: a free-form field (a plugin's `args`, a sweep's grid, fork overrides) would store
one, and no response holding it can be written as JSON. One check, in front of every route,
answers 422 naming the field instead, as a pydantic error would.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Location = list[str | int]


def non_finite_location(value: Any, location: Location) -> tuple[Location, float] | None:
    """Where in `value` (parsed JSON) the first non-finite number is, and that number."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (location, value)
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = non_finite_location(item, [*location, key])
        if found is not None:
            return found
    return None


def _is_json(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


class FiniteJsonBodies:
    """Plain ASGI middleware: reads a JSON body whole (the route would), checks it, replays it.

    A body that does not parse goes on untouched: the route answers 400 for it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        chunks: list[bytes] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # the client went away: the route sees it too
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        found = None
        try:
            found = non_finite_location(json.loads(b"".join(chunks)), ["body"])
        except (ValueError, RecursionError):
            pass  # not JSON (or nested past reason): the route's own parse answers for it
        if found is not None:
            location, number = found
            written = json.dumps(number)  # as the client wrote it: NaN, Infinity, -Infinity
            detail = [
                {
                    "type": "finite_number",
                    "loc": location,
                    "msg": f"Input should be a finite number, not {written}",
                    "input": written,
                }
            ]
            await JSONResponse({"detail": detail}, status_code=422)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def install_finite_json(app: FastAPI) -> None:
    app.add_middleware(FiniteJsonBodies)
