"""The Python client of the torchdash API: `Client(url, token)`.

Typed results (the API's own pydantic shapes from app/web/shapes.py), iterators over a run's
Server-Sent Events, and `ApiError` carrying the server's `detail`. It talks HTTP only (httpx,
httpx-sse) and never imports torch; the CLI (app/cli/) is built on it.
"""

from app.client.client import TERMINAL_STATUSES, ApiError, Client, RunEvent

__all__ = ["TERMINAL_STATUSES", "ApiError", "Client", "RunEvent"]
