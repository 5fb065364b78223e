"""The command line's words for numbers: durations, sizes, a queued run's place, the epoch and
checkpoint tables of `torchdash show`."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from app.cli.live_view import LiveView, queue_place
from app.cli.output import checkpoints_table, epochs_table, run_summary
from app.cli.units import duration, size
from app.web.shapes import CheckpointPublic, EpochPublic, RunPublic

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def a_run(**changes: object) -> RunPublic:
    """A run as the API returns it (the JSON of RunPublic), with `changes`."""
    fields: dict[str, object] = {
        "id": 7, "name": "digits", "group_name": None, "parent_run_id": None, "fork_epoch": None,
        "config": {}, "max_epochs": 10, "class_names": None, "model_summary": None,
        "parameter_count": None, "status": "queued", "error": None, "stop_requested": False,
        "stop_reason": None, "created_at": NOW.isoformat(), "started_at": None,
        "finished_at": None, "epoch": 0, "progress": {"batch": 0, "batches": 0},
        "estimated_epoch_seconds": None, "best_val_accuracy": None, "best_epoch": None,
        "queue_position": None, "estimated_start_at": None, "waiting_reason": None,
        "device": None, "assigned_gpus": [], "worker_handle": None, "attempt": 0, "node": None,
        "notes": "", "tags": [],
    }  # fmt: skip
    return RunPublic.model_validate({**fields, **changes})


def test_durations_and_sizes_read_as_people_write_them() -> None:
    assert [duration(s) for s in (0.43, 12.345, 83.2, 3600 + 5 * 60 + 1)] == [
        "0.4 s", "12.3 s", "1 m 23 s", "1 h 05 m",
    ]  # fmt: skip
    assert [size(b) for b in (812, 1_234_567, 3_400_000_000)] == ["812 B", "1.2 MB", "3.4 GB"]


def test_a_queued_run_shows_its_place_estimated_start_and_reason() -> None:
    run = a_run(
        queue_position=2,
        estimated_start_at=(NOW + timedelta(seconds=250)).isoformat(),
        waiting_reason="waiting for a free slot",
    )
    assert queue_place(run, now=NOW) == (
        " · 2nd in the queue · starts in about 4 m 10 s · waiting for a free slot"
    )
    view = LiveView(io.StringIO(), tty=False)
    view.run = run
    assert "digits · queued · epoch 0/10 · 2nd in the queue" in view.lines()[0]


def test_show_tables_print_times_and_sizes_in_units() -> None:
    run = a_run(
        status="succeeded",
        started_at=NOW.isoformat(),
        finished_at=(NOW + timedelta(seconds=95)).isoformat(),
        epoch=1,
    )
    assert "  duration    1 m 35 s" in run_summary(run).splitlines()
    epoch = EpochPublic.model_validate(
        {
            "epoch": 1,
            "train_loss": 0.3,
            "train_accuracy": None,
            "val_loss": 0.25,
            "val_accuracy": None,
            "lr": 1e-5,
            "seconds": 83.2,
            "metrics": {"val_loss": 0.25},
        }  # fmt: skip
    )
    row = epochs_table([epoch]).splitlines()[1].split()
    assert row == ["1", "0.2500", "1e-05", "1", "m", "23", "s"]
    # A script's epoch that reported no loss nor learning rate: dashes, not a crash.
    bare = epoch.model_copy(
        update={"train_loss": None, "val_loss": None, "lr": None, "metrics": {"val_loss": None}}
    )
    assert epochs_table([bare]).splitlines()[1].split() == ["1", "-", "-", "1", "m", "23", "s"]
    checkpoint = CheckpointPublic.model_validate(
        {
            "epoch": 1,
            "complete": True,
            "batches_done": 4,
            "val_loss": 0.25,
            "val_accuracy": None,
            "size_bytes": 1_234_567,
            "created_at": NOW.isoformat(),
            "model_url": "/m",
            "optimizer_url": "/o",
        }  # fmt: skip
    )
    assert "1.2 MB" in checkpoints_table([checkpoint], "val_loss")
