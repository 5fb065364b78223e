"""The command line's words for numbers: durations, sizes, energy, a queued run's place, the
epoch, checkpoint and cost tables of `torchdash show`."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from app.cli.live_view import LiveView, queue_place
from app.cli.output import (
    checkpoints_table,
    epochs_table,
    gpu_costs_table,
    run_summary,
    runs_table,
)
from app.cli.units import duration, energy, hours, size
from app.web.cost_shapes import RunCostPublic
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


def test_the_cost_of_a_run_reads_in_gpu_hours_and_watt_hours() -> None:
    assert [energy(wh) for wh in (0.85, 12.34, 456.0, 4560.0, 2.5e6)] == [
        "850 mWh", "12.3 Wh", "456 Wh", "4.6 kWh", "2.5 MWh",
    ]  # fmt: skip
    assert [hours(h) for h in (1 / 60, 2.5, 1234.4)] == ["0.0167", "2.5", "1234"]
    on_gpus = {"gpu_hours": 0.5, "energy_wh": 150.0}
    listed = runs_table([a_run(**on_gpus).model_dump(mode="json"), a_run(id=8).model_dump()])
    header, first, second = listed.splitlines()
    assert header.split()[5:7] == ["GPU-h", "energy"]
    assert first.split()[5:8] == ["0.5", "150", "Wh"]
    assert second.split()[5:7] == ["-", "-"]  # a CPU run: nothing measured, nothing shown
    cost = RunCostPublic.model_validate(
        {
            "run_id": 7,
            "gpu_hours": 0.5,
            "energy_wh": None,
            "cpu_energy_wh": 3.2,
            "sample_seconds": 5.0,
            "gpus": [
                {"gpu": "0", "name": "H100", "hours": 0.25, "energy_wh": 90.0, "samples": 180},
                {"gpu": "1", "name": None, "hours": 0.25, "energy_wh": None, "samples": 0},
            ],
        }  # fmt: skip
    )
    summary = run_summary(a_run(**on_gpus), cost).splitlines()
    assert "  GPU-hours   0.5" in summary and "  energy      -" in summary
    assert "  CPU energy  3.2 Wh (CPU packages, RAPL)" in summary
    rows = [line.split() for line in gpu_costs_table(cost).splitlines()[1:]]
    assert rows == [["0", "H100", "0.25", "90.0", "Wh", "180"], ["1", "-", "0.25", "-", "0"]]
