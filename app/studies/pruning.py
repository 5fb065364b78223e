"""The worker's side of a study: after each epoch, a trial's objective reported to Optuna, once,
and the pruner asked whether the trial should stop here.

It runs in the worker, between the epoch's validation and its checkpoint, so a pruned trial
stops at that epoch boundary with that epoch's checkpoint, like an early-stopped run. A script
run's trial reports each epoch line the script prints; a pruned script is asked to stop as on
Cancel (its stop file, then SIGTERM after the grace period) and ends as finished.

Reported once per epoch: the trial's intermediate values in Optuna's storage are the record, so
a resumed trial (after a restart, or by hand) skips the epochs it already reported. A trial with
several seeds is not pruned epoch by epoch: its objective is the mean of its runs' last epochs,
told when they all end (app/studies/scheduler.py).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage.tables import Run, RunStudy
from app.studies.optuna_study import PRUNER_NAMES, load_optuna_study

if TYPE_CHECKING:
    import optuna

PRUNED_EPOCH_ATTR = "pruned_epoch"
STOP_REASON_ATTR = "stop_reason"


@dataclass
class TrialReporter:
    """One trial run's link to its Optuna trial."""

    database_url: str
    study: RunStudy
    trial_number: int
    max_epochs: int
    _optuna: optuna.Study | None = None
    _trial_id: int | None = None

    @classmethod
    def of_run(cls, session: Session, database_url: str, run_id: int) -> TrialReporter | None:
        """The reporter of run `run_id` if it is a pruned-per-epoch trial, else None."""
        row = session.execute(
            select(Run.study_id, Run.trial_number, Run.max_epochs).where(Run.id == run_id)
        ).one()
        if row.study_id is None or row.trial_number is None:
            return None
        study = session.get(RunStudy, row.study_id)
        if study is None or study.seeds > 1:
            return None
        session.expunge(study)
        return cls(database_url, study, row.trial_number, row.max_epochs)

    def report(self, epoch: int, metrics: dict[str, float]) -> str | None:
        """Report `epoch`'s objective (unless reported before); the stop reason if the pruner
        stops the trial here, else None."""
        import optuna
        from optuna.trial import TrialState

        value = metrics.get(self.study.objective)
        if value is None or not math.isfinite(value):
            return None  # nothing Optuna can compare; the final tell judges the trial
        study = self._study()
        storage = study._storage  # the cached storage: unfinished trials are read afresh
        trial_id = self._id(study)
        frozen = storage.get_trial(trial_id)
        if frozen.state != TrialState.RUNNING:
            return None  # told already (a stopped study, a resumed trial)
        trial = optuna.trial.Trial(study, trial_id)
        if epoch not in frozen.intermediate_values:
            trial.report(value, epoch)
        # The last epoch is the trial's end, not a rung (0: a script's epochs are not known).
        if (self.max_epochs and epoch >= self.max_epochs) or not trial.should_prune():
            return None
        reason = (
            f"pruned by {PRUNER_NAMES[self.study.pruner]} at epoch {epoch}: "
            f"{self.study.objective} {value:.4g}"
        )
        median = rung_median(study, trial_id, epoch)
        if median is not None:
            reason += f", rung median {median:.4g}"
        storage.set_trial_user_attr(trial_id, PRUNED_EPOCH_ATTR, epoch)
        storage.set_trial_user_attr(trial_id, STOP_REASON_ATTR, reason)
        study.tell(self.trial_number, state=TrialState.PRUNED, skip_if_finished=True)
        return reason

    def _study(self) -> optuna.Study:
        if self._optuna is None:
            self._optuna = load_optuna_study(self.database_url, self.study)
        return self._optuna

    def _id(self, study: optuna.Study) -> int:
        if self._trial_id is None:
            self._trial_id = study._storage.get_trial_id_from_study_id_trial_number(
                study._study_id, self.trial_number
            )
        return self._trial_id


def rung_median(study: optuna.Study, trial_id: int, epoch: int) -> float | None:
    """The median of the other trials' objective at `epoch`: what this trial was held against."""
    values: list[Any] = [
        trial.intermediate_values[epoch]
        for trial in study.get_trials(deepcopy=False)
        if trial._trial_id != trial_id and epoch in trial.intermediate_values
    ]
    finite = [value for value in values if math.isfinite(value)]
    return statistics.median(finite) if finite else None
