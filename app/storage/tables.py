"""The database tables (the ORM): runs, their narrow metric, checkpoint and system sample rows,
uploads, and studies."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import JSON, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Naive UTC: SQLite keeps no time zone, so every stored time is UTC by convention."""
    return datetime.now(UTC).replace(tzinfo=None)


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class Base(DeclarativeBase):
    # Every class here maps a `Table` (SQLAlchemy types `__table__` as any FROM clause, which
    # could be a join or a select), so `Model.__table__.insert()` is a Core insert on the table.
    __table__: ClassVar[Table]


class Run(Base):
    """A run: its config, where it stands in its life, how far it got, and where it trains.

    Column order here is for reading only: the migrations own the database's column order.
    """

    __tablename__ = "runs"

    # Identity: its name, the sweep it belongs to, and what it started from (a fork's parent
    # epoch, or an uploaded checkpoint).
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Runs launched together by one sweep share a group name.
    group_name: Mapped[str | None] = mapped_column(String(200), index=True)
    parent_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    fork_epoch: Mapped[int | None]
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id", ondelete="SET NULL"))

    # What trains it: torchdash's loop on `config` ("loop"), the user's script from the scripts
    # folder ("script": `script` holds its path, arguments and environment), or a process
    # elsewhere that logs over REST ("external": `last_report_at` is its last sign of life).
    kind: Mapped[str] = mapped_column(String(16), default="loop", server_default="loop")
    script: Mapped[dict | None] = mapped_column(JSON)
    last_report_at: Mapped[datetime | None]
    # A trial of a study (app/studies/): the study, and Optuna's number of the trial; the runs
    # of one trial's seeds share it.
    study_id: Mapped[int | None] = mapped_column(
        ForeignKey("run_studies.id", ondelete="SET NULL"), index=True
    )
    trial_number: Mapped[int | None]

    # Config: the validated run config as JSON, its epoch limit, how a resume picks its
    # checkpoint, and what the worker learned of the model it built.
    config: Mapped[dict] = mapped_column(JSON)
    max_epochs: Mapped[int]
    resume_fallback: Mapped[bool] = mapped_column(default=False, server_default="0")
    class_names: Mapped[list | None] = mapped_column(JSON)
    model_summary: Mapped[str | None] = mapped_column(Text)
    parameter_count: Mapped[int | None]
    # The config's task, and the metric its best epoch is judged by with its direction ("min"
    # or "max"), copied from the config at submit so the runs list can show and sort by them.
    task: Mapped[str] = mapped_column(
        String(32), default="classification", server_default="classification"
    )
    monitor: Mapped[str | None] = mapped_column(String(200))
    monitor_mode: Mapped[str | None] = mapped_column(String(8))

    # Status and lifecycle. Stored as text, not an Enum type, so a new state needs no migration
    # of a CHECK constraint.
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    stop_requested: Mapped[bool] = mapped_column(default=False)
    # Why the run ended early of its own accord (early stopping).
    stop_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Progress: the last finished epoch, the batch within the current one, and the time an
    # epoch takes (the preflight's estimate until real epochs replace it).
    epoch: Mapped[int] = mapped_column(default=0)
    progress_batch: Mapped[int] = mapped_column(default=0)
    progress_batches: Mapped[int] = mapped_column(default=0)
    estimated_epoch_seconds: Mapped[float | None]

    # Results: the best value of the monitored metric and its epoch (whose checkpoint is kept);
    # the best validation accuracy too, for classification runs.
    best_metric: Mapped[float | None]
    best_epoch: Mapped[int | None]
    best_val_accuracy: Mapped[float | None]

    # The queue: a queued run's place (lowest first, ties by id), and why it waits, written by
    # the dispatcher.
    queue_rank: Mapped[float] = mapped_column(default=0.0, server_default="0", index=True)
    waiting_reason: Mapped[str | None] = mapped_column(Text)

    # Placement: the device it trains on; the GPUs (NVML index strings) it was placed on, empty
    # for a CPU run and kept after it ends; the executor's name for its worker (a pid, or a job
    # id); how many times it was started (its cluster job is named by run id and attempt, so a
    # retried submit cannot start it twice); and the cluster node its current or last attempt
    # trained on (null for the local executor).
    device: Mapped[str | None] = mapped_column(String(32))
    assigned_gpus: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    worker_handle: Mapped[str | None] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column(default=0, server_default="0")
    node: Mapped[str | None] = mapped_column(String(200))
    # Superseded by `worker_handle` and never set now; kept because a worker started by an
    # earlier torchdash clears it with its final status, even after an upgrade.
    worker_pid: Mapped[int | None]

    # Its cost so far (app/storage/run_costs.py): GPU-hours (each GPU's hours of training,
    # summed), the GPUs' energy in watt-hours from NVML's power readings, and the CPU packages'
    # from RAPL; null where nothing was measured (a CPU run has no GPU-hours, a GPU without a
    # power reading no energy). Running totals the worker's sampler adds to as it samples, so
    # the runs list reads a column instead of integrating thousands of samples per run.
    gpu_hours: Mapped[float | None]
    energy_wh: Mapped[float | None]
    cpu_energy_wh: Mapped[float | None]

    # A person's annotations: free notes and short tags.
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    tags: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")

    # An index for each column the runs list sorts on (GET /api/runs?sort=), alone and after
    # `status` (the filter), so a page of 50 out of 10,000 runs is a walk down an index, never a
    # sort of the table. Sorting by id needs none: the rowid is it.
    __table_args__ = (
        Index("ix_runs_name", "name"),
        Index("ix_runs_epoch", "epoch"),
        Index("ix_runs_started_at", "started_at"),
        Index("ix_runs_finished_at", "finished_at"),
        Index("ix_runs_best_val_accuracy", "best_val_accuracy"),
        Index("ix_runs_best_metric", "best_metric"),
        Index("ix_runs_status_name", "status", "name"),
        Index("ix_runs_status_created_at", "status", "created_at"),
        Index("ix_runs_status_epoch", "status", "epoch"),
        Index("ix_runs_status_started_at", "status", "started_at"),
        Index("ix_runs_status_finished_at", "status", "finished_at"),
        Index("ix_runs_status_best_val_accuracy", "status", "best_val_accuracy"),
        Index("ix_runs_status_best_metric", "status", "best_metric"),
    )


class EpochMetric(Base):
    __tablename__ = "epoch_metrics"
    __table_args__ = (UniqueConstraint("run_id", "epoch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    epoch: Mapped[int]
    # Null where a script or a run trained elsewhere reported none (a loop run always has them).
    train_loss: Mapped[float | None]
    train_accuracy: Mapped[float | None]  # classification runs only
    val_loss: Mapped[float | None]
    val_accuracy: Mapped[float | None]  # classification runs only
    lr: Mapped[float | None]
    seconds: Mapped[float]
    # Every named metric of the epoch (name -> value); null on rows written before named
    # metrics, which app/storage/metrics.py::named_metrics reads from the columns above.
    metrics: Mapped[dict | None] = mapped_column(JSON)
    lrs: Mapped[list | None] = mapped_column(JSON)  # every param group's learning rate
    optimizer_summary: Mapped[dict | None] = mapped_column(JSON)  # trainer/optim/inspector.py


class StepMetric(Base):
    __tablename__ = "step_metrics"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(primary_key=True)
    epoch: Mapped[int]
    loss: Mapped[float | None]  # null: a NaN or infinite loss, kept as a gap in the series


class StepRollup(Base):
    """The lowest and highest step loss of each bucket of `width` steps (app/storage/rollups.py)."""

    __tablename__ = "step_rollups"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    width: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[int] = mapped_column(primary_key=True)  # (step - 1) // width
    min_step: Mapped[int]
    min_loss: Mapped[float | None]  # null only in a bucket whose every loss is null
    min_epoch: Mapped[int]
    max_step: Mapped[int]
    max_loss: Mapped[float | None]
    max_epoch: Mapped[int]


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "epoch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    epoch: Mapped[int]
    complete: Mapped[bool]
    batches_done: Mapped[int] = mapped_column(default=0)
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int]
    val_loss: Mapped[float | None]
    val_accuracy: Mapped[float | None]
    # The finished epoch's named metrics (null for a partial checkpoint and for old rows).
    metrics: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Upload(Base):
    """A checkpoint file uploaded to start a run from (read by workers, weights_only=True)."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SystemMetric(Base):
    """One sample of a run's worker: its processes (`gpu` NULL) or one of its GPUs (`gpu` set).

    Written by app/worker/system_sampler.py every
    TORCHDASH_SYSTEM_SAMPLE_SECONDS; each sample is one processes row plus one row per GPU.
    """

    __tablename__ = "system_metrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    gpu: Mapped[str | None] = mapped_column(String(16))  # NVML index; NULL: the processes
    cpu_percent: Mapped[float | None]  # the worker and its DDP ranks together; 100 = one core
    rss_mb: Mapped[float | None]  # resident memory of the same processes, summed
    gpu_utilization_percent: Mapped[float | None]
    gpu_memory_used_mb: Mapped[float | None]
    gpu_memory_total_mb: Mapped[float | None]
    gpu_power_watts: Mapped[float | None]  # None where NVML does not report power


class RunGpuCost(Base):
    """What one GPU of a run cost: its hours of training and its energy (app/storage/run_costs.py).

    A resumed run placed on other GPUs gets a row for each GPU it trained on."""

    __tablename__ = "run_gpu_costs"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    # An NVML index, as `assigned_gpus` holds them (room for a UUID, which TORCHDASH_GPUS may name).
    gpu: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))  # NVML's name; None if NVML has none
    hours: Mapped[float]
    energy_wh: Mapped[float | None]  # None until two power readings of this GPU were taken
    samples: Mapped[int]  # the power readings integrated


class StudyStatus(enum.StrEnum):
    RUNNING = "running"  # asks for trials while it has fewer than n_trials
    STOPPED = "stopped"  # by a person; resumable
    FINISHED = "finished"  # every trial ended
    FAILED = "failed"  # it stopped itself (every trial failed); resumable


class RunStudy(Base):
    """A study: Optuna searches `space` over `base_config` for the best `objective`.

    Optuna keeps its own trials in its own tables, apart from these (app/studies/storage.py);
    this row is what torchdash steers by. Its trials are runs (`Run.study_id`).
    """

    __tablename__ = "run_studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=StudyStatus.RUNNING, index=True)
    stop_reason: Mapped[str | None] = mapped_column(Text)
    objective: Mapped[str] = mapped_column(String(200))  # a metric name of the run's task
    direction: Mapped[str] = mapped_column(String(8))  # "min" or "max"
    space: Mapped[list] = mapped_column(JSON)  # app/web/study_shapes.py::SpaceEntry each
    base_config: Mapped[dict] = mapped_column(JSON)
    n_trials: Mapped[int]
    parallelism: Mapped[int | None]  # None: as many trials as the server has run slots
    sampler: Mapped[str] = mapped_column(String(16))
    pruner: Mapped[str] = mapped_column(String(16))
    seeds: Mapped[int] = mapped_column(default=1, server_default="1")
    # Trials numbered below this were asked before the last resume: whether every trial failed
    # is judged on the later ones only.
    resumed_at_trial: Mapped[int] = mapped_column(default=0, server_default="0")
    group_name: Mapped[str] = mapped_column(String(200))
    optuna_study_name: Mapped[str] = mapped_column(String(200), unique=True)
    tags: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
