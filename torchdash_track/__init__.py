"""torchdash's tracking module: log a training script's metrics and checkpoints to torchdash.

```
import torchdash_track as track

run = track.init()
start = track.load_checkpoint(run.resume_checkpoint()) if run.resume_checkpoint() else None
for epoch in range(1, 11):
    ...
    run.log(epoch, train_loss=0.42, val_loss=0.51, val_accuracy=0.88)
    run.save_checkpoint(epoch, model=model, optimizer=optimizer)
    if run.should_stop():
        break
run.finish()
```

Inside a run torchdash started (TORCHDASH_RUN_ID is set), `init` returns a `LocalRun`: it prints
the JSON lines the worker reads and writes checkpoints where the worker registers them. Given a
server (or TORCHDASH_URL) and no TORCHDASH_RUN_ID, it returns a `RemoteRun` that creates a run
on that server and reports to it over REST (torchdash_track/remote.py); `init(resume=RUN_ID)`
takes such a run up again after a restart, and its `resume_checkpoint()` is the run's newest
checkpoint, downloaded.

Only the standard library is imported here; torch only inside the checkpoint functions.
"""

from __future__ import annotations

import os
from typing import Any

from torchdash_track.local import LocalRun, load_checkpoint

__all__ = ["LocalRun", "init", "load_checkpoint"]


def init(
    name: str | None = None,
    config: dict[str, Any] | None = None,
    task: str | None = None,
    monitor: str | None = None,
    monitor_mode: str | None = None,
    server: str | None = None,
    token: str | None = None,
    resume: int | None = None,
) -> Any:
    """The run this script reports to: the one torchdash started it for, or on `server` a new
    one, or with `resume` (a run id) that run taken up again (`RemoteRun.attach`). Outside both
    (no TORCHDASH_RUN_ID, no server), a LocalRun that only prints."""
    server = server or os.environ.get("TORCHDASH_URL")
    if server and not os.environ.get("TORCHDASH_RUN_ID"):
        from torchdash_track.remote import RemoteRun

        if resume is not None:
            return RemoteRun.attach(server, resume, token or os.environ.get("TORCHDASH_TOKEN"))
        return RemoteRun(
            server,
            token or os.environ.get("TORCHDASH_TOKEN"),
            name=name,
            config=config,
            task=task,
            monitor=monitor,
            monitor_mode=monitor_mode,
        )
    return LocalRun(name=name, config=config)
