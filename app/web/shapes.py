"""What the API returns: public shapes of runs, metrics and checkpoints."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

if TYPE_CHECKING:  # only named in hints: the client and the CLI import these shapes without
    # SQLAlchemy, which is most of a `torchdash runs` start (bench/cli_start.py)
    from app.storage.models import Checkpoint, Run

# Stored times are naive UTC; say so on the wire.
UtcTime = Annotated[datetime, PlainSerializer(lambda t: t.isoformat() + "Z", return_type=str)]


class Progress(BaseModel):
    batch: int
    batches: int


class RunPublic(BaseModel):
    id: int
    name: str
    status: str
    epoch: int
    max_epochs: int
    config: dict[str, Any]
    error: str | None
    created_at: UtcTime
    started_at: UtcTime | None
    finished_at: UtcTime | None
    best_val_accuracy: float | None
    stop_requested: bool
    progress: Progress
    device: str | None
    worker_handle: str | None  # the executor's name for the worker: a pid on this machine
    class_names: list[str] | None
    model_summary: str | None
    parameter_count: int | None
    parent_run_id: int | None
    fork_epoch: int | None
    group_name: str | None

    @classmethod
    def of(cls, run: Run) -> RunPublic:
        return cls(
            **{name: getattr(run, name) for name in cls.model_fields if name != "progress"},
            progress=Progress(batch=run.progress_batch, batches=run.progress_batches),
        )


class EpochSummary(BaseModel):
    val_loss: list[float]  # by epoch, for the runs list's sparkline
    epoch_seconds: float | None  # mean seconds per epoch, for an ETA


class RunsPublic(BaseModel):
    runs: list[RunPublic]
    count: int
    summaries: dict[int, EpochSummary] = Field(default_factory=dict)


class EpochPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float
    lrs: list[float] | None = None


class OptimizerEpochPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    epoch: int
    lrs: list[float] | None
    optimizer_summary: dict[str, Any] | None


class OptimizerHistoryPublic(BaseModel):
    epochs: list[OptimizerEpochPublic]


class StepPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: int
    epoch: int
    loss: float


class MetricsPublic(BaseModel):
    epochs: list[EpochPublic]
    steps: list[StepPublic]


class CheckpointPublic(BaseModel):
    epoch: int
    complete: bool
    batches_done: int
    val_loss: float | None
    val_accuracy: float | None
    size_bytes: int
    created_at: UtcTime
    model_url: str
    optimizer_url: str

    @classmethod
    def of(cls, row: Checkpoint) -> CheckpointPublic:
        base = f"/api/runs/{row.run_id}/checkpoints/{row.epoch}"
        return cls(
            epoch=row.epoch,
            complete=row.complete,
            batches_done=row.batches_done,
            val_loss=row.val_loss,
            val_accuracy=row.val_accuracy,
            size_bytes=row.size_bytes,
            created_at=row.created_at,
            model_url=f"{base}/model",
            optimizer_url=f"{base}/optimizer",
        )


class ResumeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_epochs: int | None = Field(None, ge=1, le=100000, description="A new epoch limit.")
    fallback: bool = Field(
        False,
        description="When the newest checkpoint does not load, resume from the newest one that "
        "does (the skipped ones are named in the worker log).",
    )


class SweepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] = Field(description="The base run config.")
    grid: dict[str, list[Any]] = Field(
        description='Dotted config paths to lists of values, e.g. {"optimizer.lr": [0.01, 0.001]}.'
    )
    group_name: str | None = Field(None, max_length=200, description="Default: 'sweep <time>'.")


class SweepPublic(BaseModel):
    group_name: str
    runs: list[RunPublic]


class LogChunk(BaseModel):
    text: str
    offset: int  # ask for ?offset= this next


class ForkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(ge=1, description="The source run's finished epoch to start from.")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description='Config fields to change, e.g. {"max_epochs": 20}.'
    )


class ErrorPublic(BaseModel):
    """Every error answer: a message, or FastAPI's list of field errors (`loc` names the field)."""

    detail: str | list[dict[str, Any]]
