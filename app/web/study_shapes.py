"""What the study routes take and return (docs/api.md, "Studies").

A study searches a run config's fields with Optuna: each trial is one run (or `seeds` runs, one
per seed, whose objective is the mean) in the study's group.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from app.web.shape_base import Shape
from app.web.shapes import Notes, Tags, UtcTime

StudyStatus = Literal["running", "stopped", "finished", "failed"]
TrialState = Literal["waiting", "running", "complete", "pruned", "fail"]
Sampler = Literal["tpe", "random", "grid"]
Pruner = Literal["asha", "median", "none"]
Direction = Literal["min", "max"]


class SpaceEntry(Shape):
    """One searched field. `float`/`int`: `low`..`high` (`log`: on a log scale, low > 0; `step`:
    an int's stride); `choice`: one of `choices`."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(
        min_length=1, max_length=200, description="A dotted run config path, e.g. optimizer.lr."
    )
    type: Literal["float", "int", "choice"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int | None = Field(None, ge=1, description="int only: the stride (default 1).")
    choices: list[Any] | None = None


class StudyCreate(Shape):
    """`POST /api/studies`."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="Default: the base config's name.")
    config: dict[str, Any] = Field(description="The base run config every trial starts from.")
    space: list[SpaceEntry] = Field(min_length=1, max_length=50)
    objective: str = Field(
        "val_loss", max_length=200, description="A metric of the run's task, e.g. val_loss."
    )
    direction: Direction | None = Field(
        None, description="min or max; default: the metric's own (loss falls, accuracy rises)."
    )
    n_trials: int = Field(20, ge=1, le=10_000)
    parallelism: int | None = Field(
        None, ge=1, le=1024, description="Trials at once; null: as many as the server's slots."
    )
    sampler: Sampler = "tpe"
    pruner: Pruner = "asha"
    seeds: int = Field(
        1, ge=1, le=16, description="Runs per trial, seeds seed..seed+k-1; objective: their mean."
    )
    group_name: str | None = Field(None, max_length=200, description="Default: 'study <name>'.")
    tags: Tags = Field(default_factory=list, description="Given to every trial run.")
    notes: Notes = Field("", description="Given to every trial run.")


class StudyUpdate(Shape):
    """`PATCH /api/studies/{id}`: a field left out is left as it is. `parallelism: null` given
    outright goes back to as many trials at once as the server has slots (or GPUs); an
    `n_trials` of null changes nothing."""

    model_config = ConfigDict(extra="forbid")

    parallelism: int | None = Field(
        None, ge=1, le=1024, description="Trials at once; null: as many as the server's slots."
    )
    n_trials: int | None = Field(None, ge=1, le=10_000)


class TrialsAdd(Shape):
    """`POST /api/studies/{id}/trials`: `n` more trials, or one point enqueued by hand (`params`:
    field -> value, tried next; it counts as one more trial)."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(0, ge=0, le=10_000)
    params: dict[str, Any] | None = None


class StudyStop(Shape):
    """`POST /api/studies/{id}/stop`: queued trials are cancelled; running ones finish, or are
    cancelled too with `cancel_running`."""

    model_config = ConfigDict(extra="forbid")

    cancel_running: bool = False


class StudyProgress(Shape):
    n_trials: int  # the trials the study will run in all
    waiting: int = 0  # asked or enqueued, its run not yet created
    running: int = 0  # its run(s) queued or training
    complete: int = 0
    pruned: int = 0
    fail: int = 0


class IntermediateValue(Shape):
    epoch: int
    value: float | None  # None: not a finite number (a gap in charts)


class TrialPublic(Shape):
    number: int  # Optuna's trial number, 0-based
    state: TrialState
    params: dict[str, Any]  # field path -> value
    value: float | None  # the objective told to Optuna (complete trials)
    pruned_epoch: int | None  # the epoch a pruned trial stopped at
    intermediate_values: list[IntermediateValue]  # the objective after each epoch, in order
    run_ids: list[int]  # its run(s): one per seed
    run_statuses: list[str]
    stop_reason: str | None  # e.g. "pruned by ASHA at epoch 3: val_loss 0.41, rung median 0.28"
    started_at: UtcTime | None
    finished_at: UtcTime | None


class BestTrial(Shape):
    number: int
    value: float
    params: dict[str, Any]
    run_ids: list[int]
    config: dict[str, Any]  # the run config the trial trained (its first seed's)


class StudyPublic(Shape):
    id: int
    name: str
    status: StudyStatus
    stop_reason: str | None  # why it stopped or failed ("every trial failed: ...")
    objective: str
    direction: Direction
    space: list[SpaceEntry]
    config: dict[str, Any]  # the base config
    n_trials: int
    parallelism: int | None  # null: as many as the server's slots
    effective_parallelism: int  # what it runs at now
    sampler: Sampler
    pruner: Pruner
    seeds: int
    group_name: str
    optuna_study_name: str
    created_at: UtcTime
    finished_at: UtcTime | None
    progress: StudyProgress
    best_trial: BestTrial | None


class StudyDetail(StudyPublic):
    """`GET /api/studies/{id}`: the study, every trial, and the parameters' importances."""

    trials: list[TrialPublic]
    # Optuna's fANOVA importances (param -> share, summing to 1); None until two trials
    # completed with different values.
    importances: dict[str, float] | None


class StudiesPublic(Shape):
    studies: list[StudyPublic]  # newest first
