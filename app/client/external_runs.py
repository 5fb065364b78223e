"""The Client's methods for runs trained elsewhere, one a route of app/web/routes/external.py:
create one, report its rows, upload a checkpoint, attach a restarted process, end it.

Synchronous and unbatched, unlike `torchdash_track.remote.RemoteRun`, which a training loop
should use (it batches on a thread and never raises on a network error): these suit a tool that
imports runs logged elsewhere, or a test."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from app.web.external_shapes import ReportPublic
from app.web.shapes import CheckpointPublic, RunPublic


def _value(value: float | None) -> float | str | None:
    """A metric value as the API takes it: JSON has no NaN, so a value that is not finite goes
    as the text the server reads back as that number (and stores as a gap)."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


class ExternalRunMethods:
    """Mixed into `Client`, whose `_json` sends a request and decodes its answer."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # Client's, over HTTP
        raise NotImplementedError

    def create_external_run(
        self,
        name: str = "external run",
        config: dict[str, Any] | None = None,
        *,
        task: str | None = None,
        monitor: str | None = None,
        monitor_mode: str | None = None,
        tags: list[str] | None = None,
        notes: str = "",
    ) -> RunPublic:
        """A run that a process elsewhere trains: running at once, never queued."""
        chosen = {"task": task, "monitor": monitor, "monitor_mode": monitor_mode}
        body = {"name": name, "config": config or {}, "tags": tags or [], "notes": notes}
        body |= {key: value for key, value in chosen.items() if value is not None}
        return RunPublic.model_validate(self._json("POST", "/api/runs/external", json=body))

    def report(
        self,
        run_id: int,
        epochs: dict[int, dict[str, float | None]] | None = None,
        steps: list[tuple[int, float | None]] | None = None,
        *,
        notes: list[str] | None = None,
        config: dict[str, Any] | None = None,
    ) -> ReportPublic:
        """Report rows: `epochs` {epoch: {metric: value}}, `steps` [(step, loss)]. Sending the
        same report again changes nothing (an epoch's row is replaced, a stored step skipped)."""
        body: dict[str, Any] = {
            "epochs": [
                {"epoch": epoch, "metrics": {name: _value(v) for name, v in named.items()}}
                for epoch, named in (epochs or {}).items()
            ],
            "steps": [{"step": step, "loss": _value(loss)} for step, loss in steps or []],
            "notes": notes or [],
        }
        if config is not None:
            body["config"] = config
        return ReportPublic.model_validate(
            self._json("POST", f"/api/runs/{run_id}/report", json=body)
        )

    def upload_checkpoint(
        self,
        run_id: int,
        epoch: int,
        model: str | Path | bytes,
        optimizer: str | Path | bytes | None = None,
        state: str | Path | bytes | None = None,
    ) -> CheckpointPublic:
        """Upload epoch `epoch`'s checkpoint: each part `torch.save` bytes, or a file of them
        (the server refuses, with a 422, a pickle that `weights_only=True` would refuse)."""
        files: dict[str, tuple[str, bytes, str]] = {}
        for part, data in (("model", model), ("optimizer", optimizer), ("state", state)):
            if data is not None:
                content = data if isinstance(data, bytes) else Path(data).read_bytes()
                files[part] = (f"{part}.pt", content, "application/octet-stream")
        answer = self._json(
            "POST", f"/api/runs/{run_id}/checkpoints", data={"epoch": str(epoch)}, files=files
        )
        return CheckpointPublic.model_validate(answer)

    def attach_external_run(self, run_id: int) -> RunPublic:
        """Take up a run trained elsewhere again (its process restarted): running again from
        its newest checkpoint, the rows after it dropped; ApiError 409 once it has ended."""
        return RunPublic.model_validate(self._json("POST", f"/api/runs/{run_id}/attach"))

    def finish_external_run(
        self, run_id: int, status: str = "succeeded", error: str | None = None
    ) -> RunPublic:
        """End a run trained elsewhere: succeeded, failed or cancelled."""
        body = {"status": status, "error": error}
        return RunPublic.model_validate(self._json("POST", f"/api/runs/{run_id}/finish", json=body))
