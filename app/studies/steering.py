"""Creating and steering studies: the domain of the study routes.

A study's row holds what torchdash steers by (status, parallelism, trial count); Optuna's storage
holds the trials. Creating one checks the space and objective (a 422 names the entry) and makes
the Optuna study; the scheduler then queues its trials (app/studies/scheduler.py).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import ConfigError, ConflictError, NotFoundError
from app.runs import lifecycle
from app.runs.cluster_placement import ClusterGpus
from app.runs.config_checks import gpu_problems
from app.runs.data_paths import check_data_paths
from app.runs.placement import processes_of, trains_on_cuda
from app.storage.tables import Run, RunStatus, RunStudy, StudyStatus, utcnow
from app.studies.optuna_study import create_optuna_study, load_optuna_study
from app.studies.script_space import check_script_objective, check_script_space, is_script_base
from app.studies.space import (
    check_objective,
    check_space,
    encoded_params,
    grid_points,
)
from trainer.config import RunConfig

ACTIVE_RUN = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)


def default_parallelism(base_config: dict[str, Any], gpus: list[int], cpu_slots: int) -> int:
    """Trials at once when the study does not say: every GPU of the server's set (a trial of
    `processes` GPUs takes that many), else every CPU run slot."""
    if gpus and trains_on_cuda(base_config.get("device", "auto"), True):
        return max(1, len(gpus) // processes_of(base_config))
    return cpu_slots


def effective_parallelism(study: RunStudy, gpus: list[int], cpu_slots: int) -> int:
    if study.parallelism is not None:
        return study.parallelism
    return default_parallelism(study.base_config, gpus, cpu_slots)


def create_study(
    session: Session,
    database_url: str,
    body: dict[str, Any],
    data_roots: list[Path],
    gpus: list[int] | ClusterGpus | None,
    scripts_dir: Path | None = None,
) -> RunStudy:
    """Check and store a new running study, and make its Optuna study. A base config with a
    `script` key is a script run's, whose arguments the space searches (`script.args.--lr`)."""
    space = body["space"]
    if is_script_base(body["config"]):
        if body["seeds"] != 1:
            raise ConfigError.field(
                ("body", "seeds"),
                "a script run has no seed of torchdash's: search its seed argument instead "
                "(e.g. script.args.--seed)",
                body["seeds"],
            )
        if scripts_dir is None:
            raise ConfigError.field(("body", "config", "script"), "no scripts folder", None)
        base_json = check_script_space(body["config"], space, scripts_dir)
        direction = check_script_objective(base_json, body["objective"], body.get("direction"))
    else:
        base_json = check_space(body["config"], space)
        base_json = check_data_paths(RunConfig.model_validate(base_json), data_roots).model_dump(
            mode="json"
        )
        direction = check_objective(base_json, body["objective"], body.get("direction"))
    if gpus is not None:
        problems = gpu_problems(base_json, gpus)
        if problems:
            (loc, why), *_ = problems
            raise ConfigError.field(("body", "config", *loc), why, None)
    n_trials = body["n_trials"]
    if body["sampler"] == "grid":
        size = 1
        for values in grid_points(space).values():
            size *= len(values)
        n_trials = min(n_trials, size)  # the grid sampler repeats points past its size
    name = body.get("name") or base_json["name"]
    study = RunStudy(
        name=name,
        status=StudyStatus.RUNNING.value,
        objective=body["objective"],
        direction=direction,
        space=space,
        base_config=base_json,
        n_trials=n_trials,
        parallelism=body.get("parallelism"),
        sampler=body["sampler"],
        pruner=body["pruner"],
        seeds=body["seeds"],
        group_name=body.get("group_name") or f"study {name}",
        optuna_study_name=f"torchdash-{uuid.uuid4().hex}",
        tags=list(body.get("tags") or []),
        notes=body.get("notes") or "",
    )
    session.add(study)
    session.flush()
    create_optuna_study(database_url, study)
    return study


def get_study(session: Session, study_id: int) -> RunStudy:
    study = session.get(RunStudy, study_id, populate_existing=True)
    if study is None:
        raise NotFoundError(f"study {study_id} not found")
    return study


def list_studies(session: Session) -> list[RunStudy]:
    return list(session.scalars(select(RunStudy).order_by(RunStudy.id.desc())))


def stop_study(session: Session, study_id: int, cancel_running: bool) -> RunStudy:
    """Stop asking for trials: queued trial runs are cancelled, running ones finish (or are
    cancelled too with `cancel_running`)."""
    study = get_study(session, study_id)
    if study.status != StudyStatus.RUNNING:
        raise ConflictError(f"study {study_id} is {study.status}; only a running study stops")
    study.status = StudyStatus.STOPPED.value
    study.stop_reason = "stopped by hand"
    study.finished_at = utcnow()
    cancel_trial_runs(session, study_id, running_too=cancel_running)
    return study


def cancel_trial_runs(session: Session, study_id: int, running_too: bool) -> None:
    statuses = ACTIVE_RUN if running_too else (RunStatus.QUEUED.value,)
    run_ids = session.scalars(
        select(Run.id).where(Run.study_id == study_id, Run.status.in_(statuses))
    ).all()
    for run_id in run_ids:
        try:
            lifecycle.cancel_run(session, run_id)
        except ConflictError:
            pass  # it ended meanwhile


def resume_study(session: Session, study_id: int) -> RunStudy:
    """A stopped or failed study asks for trials again, up to its trial count."""
    study = get_study(session, study_id)
    if study.status not in (StudyStatus.STOPPED, StudyStatus.FAILED):
        raise ConflictError(
            f"study {study_id} is {study.status}; only a stopped or failed study resumes "
            "(add trials to a finished one)"
        )
    asked = session.scalar(select(func.max(Run.trial_number)).where(Run.study_id == study_id))
    study.resumed_at_trial = 0 if asked is None else asked + 1
    _run_again(study)
    return study


def add_trials(
    session: Session,
    database_url: str,
    study_id: int,
    n: int,
    params: dict[str, Any] | None,
) -> RunStudy:
    """`n` more trials, and with `params` one point tried next (one more trial)."""
    study = get_study(session, study_id)
    if n == 0 and params is None:
        raise ConfigError.field(("body", "n"), "give n > 0 or params", n)
    if params is not None:
        encoded = encoded_params(study.space, params)
        missing = [e["field"] for e in study.space if e["field"] not in encoded]
        if missing:
            raise ConfigError.field(
                ("body", "params"), f"give a value for every field: {', '.join(missing)}", params
            )
        load_optuna_study(database_url, study).enqueue_trial(encoded)
        n += 1
    study.n_trials += n
    if study.status == StudyStatus.FINISHED:
        _run_again(study)
    return study


def update_study(
    session: Session,
    study_id: int,
    n_trials: int | None,
    parallelism: int | None = None,
    set_parallelism: bool = False,
) -> RunStudy:
    """Change the trial count (None: as it is) and, with `set_parallelism`, the trials at once
    (None: as many as the server's slots or GPUs)."""
    study = get_study(session, study_id)
    if set_parallelism:
        study.parallelism = parallelism
    if n_trials is not None:
        study.n_trials = n_trials
    return study


def _run_again(study: RunStudy) -> None:
    study.status = StudyStatus.RUNNING.value
    study.stop_reason = None
    study.finished_at = None
