"""What the CLI prints: plain tables for people, the API's JSON for scripts (`--json`).

Imports nothing heavy at load (the shapes only for type checking): `torchdash runs` prints its
table from the API's JSON without pydantic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.cli.units import duration, energy, hours, size

if TYPE_CHECKING:
    from pydantic import BaseModel

    from app.client import RunEvent
    from app.web.cost_shapes import RunCostPublic
    from app.web.shapes import CheckpointPublic, EpochPublic, RunPublic
    from app.web.study_shapes import StudyPublic


def print_json(value: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    if hasattr(value, "model_dump_json"):
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


def _progress(epoch: int, max_epochs: int) -> str:
    """The last epoch of its limit; a run trained elsewhere has none (its `max_epochs` is 0)."""
    return f"{epoch}/{max_epochs}" if max_epochs else str(epoch)


def runs_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """One line a run (the API's JSON of a RunPublic); `best` is the best value of the metric it
    monitors (`monitor`)."""
    return table(
        ["id", "status", "epoch", "monitor", "best", "GPU-h", "energy", "name", "group"],
        [
            (
                run["id"],
                run["status"],
                _progress(run["epoch"], run["max_epochs"]),
                run.get("monitor"),
                run.get("best_metric"),
                _optional(hours, run.get("gpu_hours")),
                _optional(energy, run.get("energy_wh")),
                run["name"],
                run.get("group_name"),
            )
            for run in runs
        ],
    )


def _optional(unit: Any, value: float | None) -> str | None:
    """`value` in its unit; None (printed `-`) where it was not measured."""
    return None if value is None else unit(value)


def run_duration(run: RunPublic, now: datetime | None = None) -> float | None:
    """Seconds the run has trained: start to finish, or to `now` while it runs."""
    if run.started_at is None:
        return None
    end = run.finished_at or now or datetime.now(UTC)
    return max(0.0, (end - run.started_at).total_seconds())


def run_summary(run: RunPublic, cost: RunCostPublic | None = None) -> str:
    best = _cell(run.best_metric)
    if run.best_metric is not None and run.best_epoch is not None:
        best += f" at epoch {run.best_epoch}"
    lines = [
        f"run {run.id}: {run.name}",
        f"  status      {run.status}" + (" (stop requested)" if run.stop_requested else ""),
        f"  epoch       {_progress(run.epoch, run.max_epochs)}"
        + (
            f" (batch {run.progress.batch}/{run.progress.batches})"
            if run.status == "running"
            else ""
        ),
        f"  task        {run.task}",
        f"  monitor     {_cell(run.monitor)} ({_cell(run.monitor_mode)})",
        f"  best        {best}",
    ]
    if run.best_val_accuracy is not None and run.monitor != "val_accuracy":
        lines.append(f"  best val    {_cell(run.best_val_accuracy)}")
    lines += [
        f"  device      {_cell(run.device)}",
        f"  created     {run.created_at:%Y-%m-%d %H:%M:%S} UTC",
    ]
    trained = run_duration(run)
    if trained is not None:
        lines.append(f"  duration    {duration(trained)}")
    if cost is not None:
        lines += _cost_lines(cost)
    if run.parent_run_id is not None:
        lines.append(f"  forked from run {run.parent_run_id} at epoch {run.fork_epoch}")
    if run.group_name:
        lines.append(f"  sweep group {run.group_name}")
    if run.error:
        lines.append(f"  error       {run.error}")
    return "\n".join(lines)


def _cost_lines(cost: RunCostPublic) -> list[str]:
    """GPU-hours and energy; `-` where not measured (a CPU run, a GPU with no power reading)."""
    lines = [
        f"  GPU-hours   {_cell(_optional(hours, cost.gpu_hours))}",
        f"  energy      {_cell(_optional(energy, cost.energy_wh))}"
        + (" (GPUs, NVML power)" if cost.energy_wh is not None else ""),
    ]
    if cost.cpu_energy_wh is not None:
        lines.append(f"  CPU energy  {energy(cost.cpu_energy_wh)} (CPU packages, RAPL)")
    return lines


def gpu_costs_table(cost: RunCostPublic) -> str:
    """One line a GPU the run trained on: its hours, energy and power readings."""
    return table(
        ["gpu", "name", "GPU-h", "energy", "power samples"],
        [
            (g.gpu, g.name, hours(g.hours), _optional(energy, g.energy_wh), g.samples)
            for g in cost.gpus
        ],
    )


def epochs_table(epochs: Sequence[EpochPublic]) -> str:
    """One line an epoch: every named metric the epochs have, then the learning rate and time."""
    names = list(dict.fromkeys(name for e in epochs for name in e.metrics))
    return table(
        ["epoch", *names, "lr", "time"],
        [
            (e.epoch, *(e.metrics.get(n) for n in names), _lr(e.lr), duration(e.seconds))
            for e in epochs
        ],
    )


def _lr(lr: float | None) -> str | None:
    """Three significant digits: a learning rate of 1e-05 is not 0.0000."""
    return None if lr is None else f"{lr:.3g}"


def checkpoints_table(checkpoints: Sequence[CheckpointPublic], monitor: str | None = None) -> str:
    """One line a checkpoint, with its value of the run's monitored metric."""
    monitor = monitor or "val_accuracy"

    def value(c: CheckpointPublic) -> float | None:
        if c.metrics is not None:
            return c.metrics.get(monitor)
        return c.val_loss if monitor == "val_loss" else c.val_accuracy

    return table(
        ["epoch", "complete", monitor, "best", "size"],
        [
            (
                c.epoch,
                "yes" if c.complete else "partial",
                value(c),
                "best" if c.best else "",
                size(c.size_bytes),
            )
            for c in checkpoints
        ],
    )


def studies_table(studies: Sequence[StudyPublic]) -> str:
    rows = [
        [
            s.id,
            s.name,
            s.status,
            f"{s.progress.complete + s.progress.pruned + s.progress.fail}/{s.n_trials}",
            f"{s.objective} ({s.direction})",
            "" if s.best_trial is None else f"{s.best_trial.value:.4g} (#{s.best_trial.number})",
        ]
        for s in studies
    ]
    return table(["id", "name", "status", "trials", "objective", "best"], rows)


def study_summary(study: StudyPublic) -> str:
    """A study, its progress and best trial; with its trials when it is a StudyDetail."""
    p = study.progress
    lines = [
        f"study {study.id} {study.name}: {study.status}"
        + (f" ({study.stop_reason})" if study.stop_reason else ""),
        f"  {study.objective} ({study.direction}), {study.sampler} sampler, {study.pruner} "
        f"pruner, {study.effective_parallelism} at once, {study.seeds} seed(s) per trial",
        f"  trials: {p.complete} complete, {p.pruned} pruned, {p.fail} failed, "
        f"{p.running} running, of {study.n_trials}",
    ]
    if study.best_trial is not None:
        best = study.best_trial
        lines.append(f"  best: trial {best.number} = {best.value:.6g} {best.params}")
    trials = getattr(study, "trials", None)
    if trials:
        rows = [
            [t.number, t.state, "" if t.value is None else f"{t.value:.4g}",
             t.pruned_epoch or "", ", ".join(map(str, t.run_ids)), t.params]
            for t in trials
        ]  # fmt: skip
        lines.append(table(["trial", "state", "value", "pruned at", "runs", "params"], rows))
    return "\n".join(lines)
