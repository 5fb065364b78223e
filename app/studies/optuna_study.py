"""Optuna's side of a study: its sampler, its pruner, and the study itself in the storage."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal

from app.studies.optuna_storage import optuna_storage
from app.studies.space import grid_points

if TYPE_CHECKING:
    import optuna

    from app.storage.tables import RunStudy

# ASHA's first rung is the first epoch, each rung keeps the best third: with short studies of a
# few epochs a trial can be stopped as early as epoch 1.
ASHA_REDUCTION_FACTOR = 3
# Median pruning waits for this many trials to finish, and for each trial's first epochs.
MEDIAN_STARTUP_TRIALS = 2
PRUNER_NAMES = {"asha": "ASHA", "median": "median", "none": "none"}

_loaded: dict[tuple[str, str], optuna.Study] = {}
_lock = threading.Lock()


def sampler_for(name: str, space: list[dict[str, Any]], seed: int | None = None) -> Any:
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(grid_points(space), seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def pruner_for(name: str) -> Any:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS)
    if name == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=ASHA_REDUCTION_FACTOR
    )


def direction_of(direction: str) -> Literal["minimize", "maximize"]:
    return "minimize" if direction == "min" else "maximize"


def create_optuna_study(database_url: str, study: RunStudy) -> optuna.Study:
    import optuna

    return optuna.create_study(
        storage=optuna_storage(database_url),
        study_name=study.optuna_study_name,
        direction=direction_of(study.direction),
        sampler=sampler_for(study.sampler, study.space),
        pruner=pruner_for(study.pruner),
        load_if_exists=True,
    )


def load_optuna_study(database_url: str, study: RunStudy) -> optuna.Study:
    """The study, loaded once per process: Optuna's storage object caches its finished trials,
    so a later look reads only the unfinished ones (with 1,000 trials, the difference between
    a second and a few milliseconds)."""
    import optuna

    key = (database_url, study.optuna_study_name)
    with _lock:
        loaded = _loaded.get(key)
        if loaded is None:
            loaded = optuna.load_study(
                study_name=study.optuna_study_name,
                storage=optuna_storage(database_url),
                sampler=sampler_for(study.sampler, study.space),
                pruner=pruner_for(study.pruner),
            )
            _loaded[key] = loaded
        return loaded
