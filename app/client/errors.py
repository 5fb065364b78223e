"""`ApiError`: an answer of 4xx or 5xx from the server. Standard library only, so a command that
reads with the standard library (app/cli/reads.py) raises the same error as the client."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer of 4xx or 5xx: `status`, and the server's `detail` (a message, or a list of
    field errors whose `loc` names the field)."""

    def __init__(self, status: int, detail: Any) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {describe(detail)}")


def describe(detail: Any) -> str:
    """The server's `detail` as one line: field errors as `body.optimizer.lr: <message>`."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(part) for part in item.get("loc", []))
                parts.append(f"{loc}: {item.get('msg', item)}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)
