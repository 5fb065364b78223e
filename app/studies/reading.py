"""A study as the API shows it: progress, the best trial and its config, every trial with its
state, parameters, objective and intermediate values, and the parameters' importances.

Runs and the study row come from torchdash's tables, trials from Optuna's storage. Importances
(Optuna's fANOVA) are computed again only when a trial completed since the last look.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage.tables import Run, RunStudy
from app.studies.optuna_study import load_optuna_study
from app.studies.pruning import PRUNED_EPOCH_ATTR, STOP_REASON_ATTR
from app.studies.scheduler import ERROR_ATTR
from app.studies.space import decoded_params

if TYPE_CHECKING:
    import optuna

# Importances by study id: (complete trials when computed, the importances).
_importances: dict[int, tuple[int, dict[str, float] | None]] = {}
_lock = threading.Lock()


def study_view(
    session: Session,
    database_url: str,
    study: RunStudy,
    parallelism: int,
    *,
    detail: bool,
) -> dict[str, Any]:
    """The study's public fields (app/web/study_shapes.py::StudyPublic, or StudyDetail with
    `detail`): `parallelism` is what it runs at now."""
    from optuna.trial import TrialState

    ostudy = load_optuna_study(database_url, study)
    trials = ostudy.get_trials(deepcopy=False)
    runs = session.execute(
        select(
            Run.id,
            Run.trial_number,
            Run.status,
            Run.stop_reason,
            Run.config,
            Run.started_at,
            Run.finished_at,
        )
        .where(Run.study_id == study.id)
        .order_by(Run.id)
    ).all()
    by_trial: dict[int, list[Any]] = defaultdict(list)
    for run in runs:
        by_trial[run.trial_number].append(run)
    counts = {state: 0 for state in ("waiting", "running", "complete", "pruned", "fail")}
    for trial in trials:
        counts[trial.state.name.lower()] += 1
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    best = None
    if complete:
        pick = min if study.direction == "min" else max
        winner = pick(complete, key=lambda t: float(t.value or 0.0))
        winner_runs = by_trial.get(winner.number, [])
        best = {
            "number": winner.number,
            "value": winner.value,
            "params": decoded_params(study.space, winner.params),
            "run_ids": [run.id for run in winner_runs],
            "config": winner_runs[0].config if winner_runs else {},
        }
    view: dict[str, Any] = {
        "id": study.id,
        "name": study.name,
        "status": study.status,
        "stop_reason": study.stop_reason,
        "objective": study.objective,
        "direction": study.direction,
        "space": study.space,
        "config": study.base_config,
        "n_trials": study.n_trials,
        "parallelism": study.parallelism,
        "effective_parallelism": parallelism,
        "sampler": study.sampler,
        "pruner": study.pruner,
        "seeds": study.seeds,
        "group_name": study.group_name,
        "optuna_study_name": study.optuna_study_name,
        "created_at": study.created_at,
        "finished_at": study.finished_at,
        "progress": {"n_trials": study.n_trials, **counts},
        "best_trial": best,
    }
    if detail:
        view["trials"] = [_trial_view(study, t, by_trial.get(t.number, [])) for t in trials]
        view["importances"] = _cached_importances(study.id, ostudy, len(complete))
    return view


def _trial_view(study: RunStudy, trial: Any, runs: list[Any]) -> dict[str, Any]:
    state = trial.state.name.lower()
    attrs = trial.user_attrs
    stop_reason = attrs.get(STOP_REASON_ATTR) or attrs.get(ERROR_ATTR)
    if stop_reason is None and runs:
        stop_reason = runs[0].stop_reason
    return {
        "number": trial.number,
        "state": state,
        "params": decoded_params(study.space, trial.params),
        "value": trial.value if state == "complete" else None,
        "pruned_epoch": attrs.get(PRUNED_EPOCH_ATTR),
        "intermediate_values": [
            {"epoch": epoch, "value": value if math.isfinite(value) else None}
            for epoch, value in sorted(trial.intermediate_values.items())
        ],
        "run_ids": [run.id for run in runs],
        "run_statuses": [run.status for run in runs],
        "stop_reason": stop_reason,
        "started_at": runs[0].started_at if runs else None,
        "finished_at": max((r.finished_at for r in runs if r.finished_at), default=None),
    }


def _cached_importances(
    study_id: int, ostudy: optuna.Study, complete: int
) -> dict[str, float] | None:
    with _lock:
        cached = _importances.get(study_id)
    if cached is not None and cached[0] == complete:
        return cached[1]
    importances = param_importances(ostudy) if complete >= 2 else None
    with _lock:
        _importances[study_id] = (complete, importances)
    return importances


def param_importances(ostudy: optuna.Study) -> dict[str, float] | None:
    """Optuna's parameter importances, or None while they cannot be told apart (too few
    complete trials, or all of one value)."""
    import optuna

    try:
        found = optuna.importance.get_param_importances(ostudy)
    except (RuntimeError, ValueError):
        return None
    return {name: float(value) for name, value in found.items()}
