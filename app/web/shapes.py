"""What the API returns: public shapes of runs, metrics and checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

from app.web.data_report_shapes import DataReportPublic
from app.web.shape_base import Shape

if TYPE_CHECKING:  # only named in hints: the client and the CLI import these shapes without
    # SQLAlchemy, which is most of a `torchdash runs` start (bench/cli_start.py)
    from app.runs.queue import QueueSpot
    from app.storage.tables import Checkpoint, Run

# app/runs/queue.py's positions, repeated here: importing that module would load SQLAlchemy.
QueuePosition = Literal["top", "bottom"]

# Stored times are naive UTC; say so on the wire.
UtcTime = Annotated[datetime, PlainSerializer(lambda t: t.isoformat() + "Z", return_type=str)]


def _unique(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))  # the first of each, in order


# A tag: short, and of characters that need no quoting anywhere (the tag filter relies on it:
# no quote nor backslash ever appears in one, app/runs/lifecycle.py::list_runs).
Tag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9 _.:-]+$"
    ),
]
Tags = Annotated[list[Tag], Field(max_length=20), AfterValidator(_unique)]
Notes = Annotated[str, Field(max_length=10_000, description="Plain text.")]


class RunUpdate(Shape):
    """`PATCH /api/runs/{id}`: a field left out is left as it is."""

    model_config = ConfigDict(extra="forbid")

    notes: Notes | None = None
    tags: Tags | None = None


class QueueMove(Shape):
    model_config = ConfigDict(extra="forbid")

    position: QueuePosition = Field(description="top: start next; bottom: after every queued run.")


class Progress(Shape):
    batch: int
    batches: int


class RunPublic(Shape):
    # Identity: the sweep it belongs to, and the run and epoch a fork started from.
    id: int
    name: str
    group_name: str | None
    parent_run_id: int | None
    fork_epoch: int | None
    # What trains it (docs/api.md): "loop" (torchdash's loop on `config`), "script" (the
    # user's script: `script` is its path, args and env) or "external" (logged over REST).
    kind: str = "loop"
    script: dict[str, Any] | None = None
    # The study it is a trial of (docs/api.md, "Studies"), and its Optuna trial number.
    study_id: int | None = None
    trial_number: int | None = None
    # Config, and what the worker learned of the model it built.
    config: dict[str, Any]
    max_epochs: int
    class_names: list[str] | None
    model_summary: str | None
    parameter_count: int | None
    # What it learns, and how its best epoch is judged (docs/api.md).
    task: str = "classification"  # classification, multilabel or regression
    metric_names: list[str] = Field(default_factory=list)  # what each epoch records, by name
    monitor: str | None = None  # the metric its best epoch is judged by, e.g. "val_loss"
    monitor_mode: str | None = None  # "min": lower is better; "max": higher
    # Status and lifecycle.
    status: str
    error: str | None
    stop_requested: bool
    stop_reason: str | None  # why it ended early of its own accord (early stopping)
    created_at: UtcTime
    started_at: UtcTime | None
    finished_at: UtcTime | None
    # Progress.
    epoch: int  # the last finished epoch
    progress: Progress  # batches of the current epoch
    estimated_epoch_seconds: float | None  # the preflight's, until real epochs replace it
    # Results.
    best_val_accuracy: float | None  # classification runs only; `best_metric` for every run
    best_epoch: int | None  # the epoch of `best_metric`, whose checkpoint is kept
    best_metric: float | None = None  # the monitored metric's best value
    # The queue (docs/api.md).
    queue_position: int | None  # 1-based among queued runs; None unless queued
    estimated_start_at: UtcTime | None
    waiting_reason: str | None  # why a queued run has not started, e.g. "waiting for GPU 1"
    # Placement: where it trains, and the worker that trains it.
    device: str | None
    assigned_gpus: list[str]  # NVML indexes of the run's GPUs; empty for a CPU run
    worker_handle: str | None  # the executor's name for the worker: a pid on this machine
    attempt: int  # how many times the run was started
    node: str | None  # cluster node of its current or last attempt ("address (node id start)")
    # Its cost so far (docs/api.md, "Cost"): each GPU's hours of training summed, and the GPUs'
    # energy from NVML's power readings; null where not measured (a CPU run, a GPU without power).
    gpu_hours: float | None = None
    energy_wh: float | None = None
    # A person's annotations (docs/api.md).
    notes: str
    tags: list[str]

    @classmethod
    def of(cls, run: Run, spot: QueueSpot | None = None) -> RunPublic:
        """The run's public shape; `spot` is its place in the queue (app/runs/queue.py)."""
        computed = {"progress", "queue_position", "estimated_start_at", "metric_names", "script"}
        script = dict(run.script) if run.script is not None else None
        # A script run's metric names are what its script reported so far (the worker keeps
        # them beside the script's path, app/worker/script_capture.py).
        reported = script.pop("metric_names", None) if script is not None else None
        return cls(
            **{name: getattr(run, name) for name in cls.model_fields if name not in computed},
            script=script,
            # A script run's names are those it reported; a run trained elsewhere has a free
            # config: its names are those its epochs carry.
            metric_names=(
                list(reported or [])
                if run.kind == "script"
                else []
                if run.kind == "external"
                else config_metric_names(run.config)
            ),
            progress=Progress(batch=run.progress_batch, batches=run.progress_batches),
            queue_position=spot.position if spot else None,
            estimated_start_at=spot.estimated_start_at if spot else None,
        )


class EpochSummary(Shape):
    val_loss: list[float | None]  # by epoch, for the runs list's sparkline (null: a gap)
    epoch_seconds: float | None  # mean seconds per epoch, for an ETA


class RunsPublic(Shape):
    runs: list[RunPublic]
    count: int
    summaries: dict[int, EpochSummary] = Field(default_factory=dict)


def config_metric_names(config: dict[str, Any]) -> list[str]:
    """Every metric name an epoch of a run of this (stored, valid) config records."""
    from trainer.config.tasks import builtin_metric_names, plugin_metric_name

    names = builtin_metric_names(config.get("task") or "classification")
    return names + [plugin_metric_name(metric["name"]) for metric in config.get("metrics") or []]


class EpochPublic(Shape):
    model_config = ConfigDict(from_attributes=True)

    epoch: int
    # Null where a script or a run trained elsewhere reported none, or the value was not finite.
    train_loss: float | None
    train_accuracy: float | None  # classification runs only (`metrics` has every metric)
    val_loss: float | None
    val_accuracy: float | None  # classification runs only
    lr: float | None
    seconds: float
    lrs: list[float] | None = None
    # Every metric of the epoch by name (null: a value that was not finite, a diverged loss).
    metrics: dict[str, float | None] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _named_metrics(cls, data: Any) -> Any:
        """An epoch row (the ORM object): its metrics by name, which a row written before named
        metrics has in its columns only (app/storage/metrics.py)."""
        if isinstance(data, dict):
            return data
        from app.storage.metrics import named_metrics

        fields = {name: getattr(data, name) for name in cls.model_fields if hasattr(data, name)}
        return {**fields, "metrics": named_metrics(data)}


class OptimizerEpochPublic(Shape):
    model_config = ConfigDict(from_attributes=True)

    epoch: int
    lrs: list[float] | None
    optimizer_summary: dict[str, Any] | None


class OptimizerHistoryPublic(Shape):
    epochs: list[OptimizerEpochPublic]


class StepPublic(Shape):
    model_config = ConfigDict(from_attributes=True)

    step: int
    epoch: int
    loss: float | None  # null: a loss that was not finite (a gap in the chart)


class MetricsPublic(Shape):
    epochs: list[EpochPublic]
    steps: list[StepPublic]


class CheckpointPublic(Shape):
    epoch: int
    complete: bool
    batches_done: int
    val_loss: float | None
    val_accuracy: float | None
    metrics: dict[str, float | None] | None = None  # the epoch's named metrics; null: partial
    size_bytes: int
    created_at: UtcTime
    model_url: str
    optimizer_url: str
    best: bool = False  # the run's best epoch, by its monitored metric
    last: bool = False  # the newest complete checkpoint
    # The one taken when none is named (Fork, `torchdash download`): the best, else the last.
    default: bool = False

    @classmethod
    def of(
        cls, row: Checkpoint, best: bool = False, default: bool = False, last: bool = False
    ) -> CheckpointPublic:
        base = f"/api/runs/{row.run_id}/checkpoints/{row.epoch}"
        return cls(
            epoch=row.epoch,
            complete=row.complete,
            batches_done=row.batches_done,
            val_loss=row.val_loss,
            val_accuracy=row.val_accuracy,
            metrics=row.metrics,
            size_bytes=row.size_bytes,
            created_at=row.created_at,
            model_url=f"{base}/model",
            optimizer_url=f"{base}/optimizer",
            best=best,
            last=last,
            default=default,
        )


class ResumeRequest(Shape):
    model_config = ConfigDict(extra="forbid")

    max_epochs: int | None = Field(None, ge=1, le=100000, description="A new epoch limit.")
    fallback: bool = Field(
        False,
        description="When the newest checkpoint does not load, resume from the newest one that "
        "does (the skipped ones are named in the worker log).",
    )
    processes: int | None = Field(
        None, ge=1, le=64, description="Continue on another number of DDP processes (GPUs)."
    )


class SweepRequest(Shape):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] = Field(description="The base run config.")
    grid: dict[str, list[Any]] = Field(
        description='Dotted config paths to lists of values, e.g. {"optimizer.lr": [0.01, 0.001]}.'
    )
    group_name: str | None = Field(None, max_length=200, description="Default: 'sweep <time>'.")
    tags: Tags = Field(default_factory=list, description="Given to every run of the sweep.")
    notes: Notes = Field("", description="Given to every run of the sweep.")
    seeds: int = Field(
        1,
        ge=1,
        le=64,
        description="Runs per combination, seeded from the config's seed on: a seed group each.",
    )


class RepeatRequest(Shape):
    model_config = ConfigDict(extra="forbid")

    seeds: int = Field(
        ge=1, le=64, description="How many copies, seeded with the seeds after the run's own."
    )


class SweepPublic(Shape):
    group_name: str
    runs: list[RunPublic]


class LogChunk(Shape):
    text: str
    offset: int  # ask for ?offset= this next


class ForkRequest(Shape):
    model_config = ConfigDict(extra="forbid")

    # Bounded by what both databases store (SQL_INT_MAX in app/web/deps.py, not imported: the
    # client and the CLI import these shapes and must stay light).
    epoch: int = Field(
        ge=1, le=2**31 - 1, description="The source run's finished epoch to start from."
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description='Config fields to change, e.g. {"max_epochs": 20}.'
    )


class SystemSamplePublic(Shape):
    """One system metric row: the run's processes (`gpu` null) or one of its GPUs."""

    id: int = Field(description="Row id: the `since` cursor of the next read.")
    time: str = Field(description="When it was sampled, ISO 8601 UTC.")
    gpu: str | None = Field(description="NVML index of the GPU; null: the worker's processes.")
    cpu_percent: float | None = Field(description="Worker and DDP ranks together; 100 = a core.")
    rss_mb: float | None = Field(description="Resident memory of the same processes, summed.")
    gpu_utilization_percent: float | None
    gpu_memory_used_mb: float | None
    gpu_memory_total_mb: float | None
    gpu_power_watts: float | None = Field(description="Null where NVML reports no power.")


class SystemPublic(Shape):
    samples: list[SystemSamplePublic]


class PreflightPublic(Shape):
    """`POST /api/preflight`: what a few real training steps of a config showed
    (docs/api.md)."""

    parameter_count: int
    model_summary: str
    input_shape: list[int]  # one training batch, batch dimension first
    output_shape: list[int]  # the model's output for it
    train_samples: int
    val_samples: int
    batches_per_epoch: int
    val_batches: int
    measured_batches: int  # the timed steps `seconds_per_batch` is the mean of
    seconds_per_batch: float  # forward + loss + backward + optimizer step, device-synchronised
    epoch_seconds_estimate: float  # training batches and the validation pass
    run_seconds_estimate: float  # epoch_seconds_estimate * max_epochs
    peak_memory_mb: float
    peak_memory_kind: Literal["cuda_max_allocated", "rss_growth"]
    device: str
    worker: Literal["warm", "cold"]
    seconds: float  # the whole preflight, as the server saw it
    # What the worker found in a table's or a text file's columns; null for the other kinds.
    data_report: DataReportPublic | None = None


class GpuPublic(Shape):
    index: int  # NVML's index (PCI bus order): `cuda:N` in a run config names this N
    uuid: str | None
    name: str | None  # None for a GPU of TORCHDASH_GPUS that NVML does not report
    memory_total_mb: float | None
    memory_used_mb: float | None
    utilization_percent: float | None
    reported_by_nvml: bool
    run_id: int | None  # the running run placed on it


class CpuPublic(Shape):
    cores: int | None
    usable_cores: int
    memory_total_mb: int | None
    max_concurrent_runs: int  # CPU runs trained at once (TORCHDASH_MAX_CONCURRENT_RUNS)


class NodePublic(Shape):
    """One node of the Ray cluster, with what it has free for runs."""

    node_id: str
    name: str  # Ray's node name (its address)
    label: str  # as a run's `node` names it
    alive: bool
    is_head: bool
    gpus_total: int
    gpus_free: int
    cpus_total: int
    cpus_free: int
    run_ids: list[int]  # the running runs on it


class ClusterPublic(Shape):
    address: str  # the dashboard (Jobs API) address, TORCHDASH_RAY_ADDRESS
    unreachable: str | None  # why the cluster could not be read now; null when it could
    nodes: list[NodePublic]
    largest_node_gpus: int  # a run may ask at most this many GPUs (processes)


class DevicesPublic(Shape):
    gpus: list[GpuPublic]  # this machine's; empty on the Ray executor (see `cluster`)
    cpu: CpuPublic
    cluster: ClusterPublic | None = None  # the Ray executor's nodes; null for local runs


class ErrorPublic(Shape):
    """Every error answer: a message, or FastAPI's list of field errors (`loc` names the field)."""

    detail: str | list[dict[str, Any]]


class PluginPublic(Shape):
    """One plugin of the plugins folder (`GET /api/plugins`)."""

    name: str  # what a run config's `name` gives
    file: str  # the file's name in the plugins folder
    line: int  # where the class (or function) starts
    doc: str  # its docstring
    function: bool  # a metric function of (output, target): it takes no args
    args_schema: dict[str, Any]  # JSON Schema of the `args` object its constructor takes


class PluginErrorPublic(Shape):
    file: str
    error: str  # "line 3: invalid syntax"


class PluginsPublic(Shape):
    datasets: list[PluginPublic]
    models: list[PluginPublic]
    losses: list[PluginPublic]
    metrics: list[PluginPublic]
    errors: list[PluginErrorPublic]  # files that could not be read, or define a name twice
