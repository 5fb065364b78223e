"""torchdash's tracking module: log a training script's metrics and checkpoints to torchdash.

Given a server (or TORCHDASH_URL) and no TORCHDASH_RUN_ID, `init` returns a `RemoteRun` that
creates a run on that server and reports to it over REST (torchdash_track/remote.py).

Only the standard library is imported here; torch only inside the checkpoint functions.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["init"]


def init(
    name: str | None = None,
    config: dict[str, Any] | None = None,
    task: str | None = None,
    monitor: str | None = None,
    monitor_mode: str | None = None,
    server: str | None = None,
    token: str | None = None,
) -> Any:
    """The run this script reports to: a new one on `server` (or TORCHDASH_URL)."""
    server = server or os.environ.get("TORCHDASH_URL")
    if server and not os.environ.get("TORCHDASH_RUN_ID"):
        from torchdash_track.remote import RemoteRun

        return RemoteRun(
            server,
            token or os.environ.get("TORCHDASH_TOKEN"),
            name=name,
            config=config,
            task=task,
            monitor=monitor,
            monitor_mode=monitor_mode,
        )
    raise RuntimeError("torchdash_track.init needs a server (server= or TORCHDASH_URL)")
