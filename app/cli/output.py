"""What the CLI prints: plain tables for people, the API's JSON for scripts (`--json`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from app.client import RunEvent
from app.web.shapes import CheckpointPublic, EpochPublic, RunPublic


def print_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        print(value.model_dump_json(indent=2))
    elif isinstance(value, dict):
        print(json.dumps(value, indent=2))
    else:
        print(json.dumps([item.model_dump(mode="json") for item in value], indent=2))


def event_json(event: RunEvent) -> dict[str, Any]:
    """A run event as the stream carries it: its name, its id and its data."""
    if event.run is not None:
        data: Any = event.run.model_dump(mode="json")
    elif event.epoch is not None:
        data = event.epoch.model_dump(mode="json")
    else:
        data = [step.model_dump(mode="json") for step in event.steps]
    return {"event": event.kind, "id": event.id, "data": data}


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(header)]
    numeric = [all(isinstance(row[i], int | float) for row in rows) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        padded = [
            value.rjust(width) if is_number else value.ljust(width)
            for value, width, is_number in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), *(line(row) for row in cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def runs_table(runs: Sequence[RunPublic]) -> str:
    return table(
        ["id", "status", "epoch", "best val acc", "name", "group"],
        [
            (
                run.id,
                run.status,
                f"{run.epoch}/{run.max_epochs}",
                run.best_val_accuracy,
                run.name,
                run.group_name,
            )
            for run in runs
        ],
    )


def run_summary(run: RunPublic) -> str:
    lines = [
        f"run {run.id}: {run.name}",
        f"  status      {run.status}" + (" (stop requested)" if run.stop_requested else ""),
        f"  epoch       {run.epoch}/{run.max_epochs}"
        + (
            f" (batch {run.progress.batch}/{run.progress.batches})"
            if run.status == "running"
            else ""
        ),
        f"  best val    {_cell(run.best_val_accuracy)}",
        f"  device      {_cell(run.device)}",
        f"  created     {run.created_at:%Y-%m-%d %H:%M:%S} UTC",
    ]
    if run.parent_run_id is not None:
        lines.append(f"  forked from run {run.parent_run_id} at epoch {run.fork_epoch}")
    if run.group_name:
        lines.append(f"  sweep group {run.group_name}")
    if run.error:
        lines.append(f"  error       {run.error}")
    return "\n".join(lines)


def epochs_table(epochs: Sequence[EpochPublic]) -> str:
    return table(
        ["epoch", "train loss", "train acc", "val loss", "val acc", "lr", "seconds"],
        [
            (e.epoch, e.train_loss, e.train_accuracy, e.val_loss, e.val_accuracy, e.lr, e.seconds)
            for e in epochs
        ],
    )


def checkpoints_table(checkpoints: Sequence[CheckpointPublic]) -> str:
    return table(
        ["epoch", "complete", "val acc", "size"],
        [
            (c.epoch, "yes" if c.complete else "partial", c.val_accuracy, c.size_bytes)
            for c in checkpoints
        ],
    )
