"""The run's lifecycle operations: create, read, list, cancel, delete, resume.

Each status change among them goes through `state_machine.transition`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import Text, cast, delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.errors import ConfigError, ConflictError, NotFoundError
from app.runs.queue import next_queue_rank
from app.runs.state_machine import TERMINAL, transition
from app.storage.notifications import notify_dispatcher
from app.storage.tables import Run, RunStatus, utcnow
from trainer.config import RunConfig, monitor_of
from trainer.config.script import ScriptRunConfig

S = RunStatus

# The columns the runs list sorts on, each with an index (migration 0010), so a page of 50 out of
# 10,000 runs is a walk down an index, never a sort of the whole table.
RunSortKey = Literal[
    "id",
    "name",
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "epoch",
    "best_val_accuracy",
    "best_metric",
]
SORT_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Run.id,
    "name": Run.name,
    "status": Run.status,
    "created_at": Run.created_at,
    "started_at": Run.started_at,
    "finished_at": Run.finished_at,
    "epoch": Run.epoch,
    "best_val_accuracy": Run.best_val_accuracy,
    "best_metric": Run.best_metric,
}


def create_run(session: Session, config: RunConfig, **fields: Any) -> Run:
    """Store a new queued run for a validated config, with its task and monitored metric (the
    runs list shows them before the worker starts)."""
    monitor, monitor_mode = monitor_of(config)
    run = Run(
        name=config.name,
        task=config.task,
        monitor=monitor,
        monitor_mode=monitor_mode,
        status=S.QUEUED.value,
        config=config.model_dump(mode="json"),
        max_epochs=config.max_epochs,
        queue_rank=next_queue_rank(session),
        **fields,
    )
    session.add(run)
    session.flush()
    notify_dispatcher(session)  # a dispatcher of another server process wakes too (PostgreSQL)
    return run


def get_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id, populate_existing=True)
    if run is None:
        raise NotFoundError(f"run {run_id} not found")
    return run


def list_runs(
    session: Session,
    status: RunStatus | None,
    limit: int,
    offset: int,
    text: str = "",
    tags: Sequence[str] = (),
    sort: RunSortKey = "id",
    order: Literal["asc", "desc"] = "desc",
) -> tuple[Sequence[Run], int]:
    """A page of runs sorted by `sort` (newest first by default), optionally of one status, with
    `text` in the name or group, or carrying every one of `tags` (case-insensitive). Ties go by
    id in the same direction: pages never overlap."""
    query = select(Run)
    count = select(func.count()).select_from(Run)
    for tag in tags:
        # Tags hold no quote nor backslash (app/web/shapes.py), so `"tag"` is found in the JSON
        # text of the list exactly when the list holds the tag; the LIKE wildcards are escaped.
        pattern = '%"' + tag.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + '"%'
        carries = cast(Run.tags, Text).ilike(pattern, escape="\\")
        query = query.where(carries)
        count = count.where(carries)
    if status is not None:
        query = query.where(Run.status == status.value)
        count = count.where(Run.status == status.value)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = Run.name.ilike(pattern, escape="\\") | Run.group_name.ilike(pattern, escape="\\")
        query = query.where(matches)
        count = count.where(matches)
    column = SORT_COLUMNS[sort]
    # A run with no value sorts as the smallest, on both databases (PostgreSQL's own default
    # would put it first in a descending sort: runs without an accuracy above the best one).
    if order == "desc":
        keys = [column.desc().nulls_last(), Run.id.desc()]
    else:
        keys = [column.asc().nulls_first(), Run.id.asc()]
    runs = session.scalars(query.order_by(*keys).limit(limit).offset(offset)).all()
    return runs, session.scalar(count) or 0


def cancel_run(session: Session, run_id: int) -> Run:
    """Cancel a queued run at once; ask a running one to stop at its next batch boundary."""
    run = get_run(session, run_id)
    if run.status == S.QUEUED:
        transition(session, run_id, S.CANCELLED, allowed_from=[S.QUEUED])
    elif run.status == S.RUNNING:
        result = session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == S.RUNNING.value)
            .values(stop_requested=True, updated_at=utcnow())
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return cancel_run(session, run_id)  # it changed state meanwhile: decide again
    else:
        raise ConflictError(f"run {run_id} is {run.status}; only queued or running runs cancel")
    return get_run(session, run_id)


def delete_run(session: Session, run_id: int) -> None:
    """Delete a finished run and its rows (metrics and checkpoints cascade); 409 while it may
    still train, so no worker ever writes into a run that is gone."""
    result = session.execute(
        delete(Run)
        .where(Run.id == run_id, Run.status.in_([s.value for s in TERMINAL]))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        status = get_run(session, run_id).status  # 404 when there is no such run
        raise ConflictError(f"run {run_id} is {status}; cancel it before deleting it")


def resume_run(
    session: Session,
    run_id: int,
    max_epochs: int | None,
    fallback: bool = False,
    processes: int | None = None,
) -> Run:
    """Queue a finished run again; its worker continues from the newest checkpoint.

    `processes` changes its DDP process count: checkpoints hold the plain model, whatever count
    wrote them (trainer/distributed/ranks.py).
    """
    run = get_run(session, run_id)
    if run.kind == "external":
        raise ConflictError(
            f"run {run_id} was trained elsewhere: only its own process can continue it"
        )
    config = run.config
    changes = {"max_epochs": max_epochs, "processes": processes}
    overrides = {name: value for name, value in changes.items() if value is not None}
    if overrides:
        config = with_overrides(run.config, overrides, script=run.kind == "script")
    # A script run's script decides how many epochs it trains: its max_epochs may be unknown.
    target = config.get("max_epochs") or 0
    if run.kind != "script" and run.status == S.SUCCEEDED and run.epoch >= target:
        raise ConflictError(
            f"run {run_id} already finished {run.epoch} of {target} epochs; "
            "resume it with a larger max_epochs"
        )
    transition(
        session,
        run_id,
        S.QUEUED,
        config=config,
        max_epochs=target,
        error=None,
        finished_at=None,
        progress_batch=0,
        resume_fallback=fallback,
        stop_reason=None,
    )
    return get_run(session, run_id)


def annotate_run(
    session: Session, run_id: int, notes: str | None = None, tags: list[str] | None = None
) -> Run:
    """Set a run's notes and/or tags, in any state (they are the user's, not the worker's)."""
    values: dict[str, Any] = {}
    if notes is not None:
        values["notes"] = notes
    if tags is not None:
        values["tags"] = tags
    get_run(session, run_id)  # 404 first
    if values:
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return get_run(session, run_id)


def with_overrides(
    config: dict[str, Any], overrides: dict[str, Any], script: bool = False
) -> dict[str, Any]:
    """A config with `overrides` merged in (nested dicts merge), validated again (as a script
    run's config with `script`)."""
    merged = _deep_merge(config, overrides)
    schema: type[RunConfig] | type[ScriptRunConfig] = ScriptRunConfig if script else RunConfig
    try:
        return schema.model_validate(merged).model_dump(mode="json")
    except ValidationError as error:
        raise ConfigError(error, prefix=("body", "overrides")) from error


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            # A new `kind` replaces the part whole: its fields belong to another schema.
            same_kind = value.get("kind", merged[key].get("kind")) == merged[key].get("kind")
            merged[key] = _deep_merge(merged[key], value) if same_kind else value
        else:
            merged[key] = value
    return merged
