"""The Python client of the torchdash API: `Client(url, token)`.

Typed results (the API's own pydantic shapes from app/web/shapes.py), iterators over a run's
Server-Sent Events, and `ApiError` carrying the server's `detail`. It talks HTTP only (httpx,
httpx-sse) and never imports torch; the CLI (app/cli/) is built on it.

The names load on first use: `from app.client.errors import ApiError` (or the statuses) costs no
httpx nor pydantic, which a command line that must answer at once cannot afford.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.client.errors import ApiError
from app.client.statuses import TERMINAL_STATUSES

if TYPE_CHECKING:
    from app.client.client import Client, RunEvent

__all__ = ["TERMINAL_STATUSES", "ApiError", "Client", "RunEvent"]


def __getattr__(name: str) -> Any:
    if name in ("Client", "RunEvent"):
        from app.client import client

        return getattr(client, name)
    raise AttributeError(f"module 'app.client' has no attribute {name!r}")
