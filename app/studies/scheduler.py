"""The study scheduler: keeps each running study's trials queued as runs, and tells Optuna how
each trial ended.

A thread of the server. Every tick it looks at the studies that may need it (one query, no
Optuna import while there are none) and, for each:

- settles trials whose runs all ended: succeeded -> the objective told (the mean over the
  trial's seeds of each run's last epoch value), failed or cancelled -> FAIL; a run interrupted
  by a server restart is queued again to resume from its checkpoint. A pruned trial was told by
  its worker (app/studies/pruning.py).
- asks Optuna for new trials while fewer than `parallelism` are active and fewer than
  `n_trials` were asked for, and queues each as a run (one per seed) in the study's group. A
  study with no parallelism of its own (as many as the server's slots) keeps one trial more
  queued, ready for the next free slot; its sampler asks it with one result fewer.
- finishes the study when every trial ended, and stops it when every trial so far failed.

All state is in the database (the study row, its runs, Optuna's storage), so a new server
continues a study where the last one left it: a trial whose run was never created (the server
died between ask and queue) gets its run at the next tick.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.errors import ConfigError, ConflictError
from app.runs import lifecycle
from app.runs.scripts import create_script_run
from app.settings import Settings
from app.storage.engine import session_scope
from app.storage.metrics import named_metrics
from app.storage.tables import EpochMetric, Run, RunStatus, RunStudy, StudyStatus, utcnow
from app.studies.optuna_study import load_optuna_study
from app.studies.script_space import is_script_base, script_trial_config
from app.studies.space import decoded_params, distributions, trial_config
from app.studies.steering import cancel_trial_runs, effective_parallelism
from trainer.config import RunConfig
from trainer.config.script import ScriptRunConfig

if TYPE_CHECKING:
    import optuna

logger = logging.getLogger("torchdash.studies")

SCHEDULE_INTERVAL_SECONDS = 1.0
# A study stops itself once this many trials failed (fewer if it has fewer) and none finished.
FAILURES_BEFORE_GIVING_UP = 3
# Trials queued beyond the slots of a study with no parallelism of its own (see _tick_study).
PREQUEUED_TRIALS = 1
# How often an interrupted trial run is resumed before its trial counts as failed.
MAX_TRIAL_ATTEMPTS = 3
ERROR_ATTR = "error"
TERMINAL_RUN = {
    RunStatus.SUCCEEDED.value,
    RunStatus.FAILED.value,
    RunStatus.CANCELLED.value,
    RunStatus.INTERRUPTED.value,
}


class StudyScheduler:
    """Keeps running studies supplied with trials; one thread of the server."""

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        gpus: list[int],
        wake_dispatcher: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.gpus = gpus
        self.wake_dispatcher = wake_dispatcher
        self._quiet: set[int] = set()  # stopped studies with no trial left to settle
        self._queued = False  # whether this tick queued a run
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="study-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wake(self) -> None:
        """Look now (a study was created or steered)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the scheduling for good
                logger.exception("study scheduler tick failed")
            self._wake.wait(SCHEDULE_INTERVAL_SECONDS)
            self._wake.clear()

    def tick(self) -> None:
        self._queued = False
        with session_scope(self.factory) as session:
            rows = session.execute(select(RunStudy.id, RunStudy.status)).all()
        for study_id, status in rows:
            if status == StudyStatus.RUNNING:
                self._quiet.discard(study_id)
            elif study_id in self._quiet:
                continue
            with session_scope(self.factory) as session:
                study = session.get(RunStudy, study_id)
                if study is not None:
                    self._tick_study(session, study)
        if self._queued:  # the new trial runs start now rather than at the dispatcher's tick
            self.wake_dispatcher()

    def _tick_study(self, session: Session, study: RunStudy) -> None:
        from optuna.trial import TrialState

        ostudy = load_optuna_study(self.settings.sqlalchemy_url, study)
        runs = session.execute(
            select(Run.id, Run.trial_number, Run.status, Run.error, Run.attempt).where(
                Run.study_id == study.id
            )
        ).all()
        by_trial: dict[int, list[Any]] = defaultdict(list)
        for run in runs:
            by_trial[run.trial_number].append(run)
        running = study.status == StudyStatus.RUNNING
        active = 0
        for trial in ostudy.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            trial_runs = by_trial.get(trial.number)
            if not trial_runs:
                if running:
                    self._queue_trial(session, study, ostudy, trial)
                    active += 1
                else:
                    ostudy.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
                continue
            if self._settle(session, study, ostudy, trial, trial_runs, running):
                active += 1
        if not running:
            if active == 0:
                self._quiet.add(study.id)
            return
        if self._gave_up(session, study, ostudy):
            return
        asked = len(ostudy.get_trials(deepcopy=False)) - len(
            ostudy.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        )
        room = effective_parallelism(study, self.gpus, self.settings.max_concurrent_runs)
        if study.parallelism is None:
            # "As many as the slots": a trial more waits in the queue, so a slot that frees
            # starts the next trial at once rather than at the scheduler's next look.
            room += PREQUEUED_TRIALS
        space = distributions(study.space)
        while active < room and asked < study.n_trials:
            self._queue_trial(session, study, ostudy, ostudy.ask(space))
            active += 1
            asked += 1
        if active == 0 and asked >= study.n_trials:
            study.status = StudyStatus.FINISHED.value
            study.finished_at = utcnow()
            logger.info("study %s finished its %s trials", study.id, study.n_trials)

    def _queue_trial(
        self, session: Session, study: RunStudy, ostudy: optuna.Study, trial: Any
    ) -> None:
        """Queue trial `trial`'s runs, one per seed; a config the parameters make invalid
        fails the trial, saying why."""
        from optuna.trial import TrialState

        params = decoded_params(study.space, trial.params)
        base_seed = int(study.base_config.get("seed", 0))
        label = ", ".join(f"{path.split('.')[-1]}={value}" for path, value in params.items())
        configs: list[RunConfig | ScriptRunConfig] = []
        try:
            if is_script_base(study.base_config):  # one run: a script has no seed of ours
                name = f"{study.name} #{trial.number} [{label}]"
                values = script_trial_config(study.base_config, params, name)
                configs.append(ScriptRunConfig.model_validate(values))
            for index in range(0 if configs else study.seeds):
                name = f"{study.name} #{trial.number} [{label}]"
                if study.seeds > 1:
                    name += f" seed {base_seed + index}"
                values = trial_config(study.base_config, params, name, base_seed + index)
                configs.append(RunConfig.model_validate(values))
        except ConfigError as error:
            storage = ostudy._storage
            storage.set_trial_user_attr(trial._trial_id, ERROR_ATTR, f"invalid config: {error}")
            ostudy.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            return
        self._queued = True
        for config in configs:
            fields: dict[str, Any] = {
                "group_name": study.group_name,
                "tags": list(study.tags),
                "notes": study.notes,
                "study_id": study.id,
                "trial_number": trial.number,
            }
            if isinstance(config, ScriptRunConfig):
                create_script_run(session, config, **fields)
            else:
                lifecycle.create_run(session, config, **fields)
        session.flush()

    def _settle(
        self,
        session: Session,
        study: RunStudy,
        ostudy: optuna.Study,
        trial: Any,
        trial_runs: list[Any],
        running: bool,
    ) -> bool:
        """Tell Optuna how the trial ended if all its runs did; whether it is still active."""
        from optuna.trial import TrialState

        if any(run.status not in TERMINAL_RUN for run in trial_runs):
            return True
        interrupted = [run for run in trial_runs if run.status == RunStatus.INTERRUPTED]
        if interrupted and running and all(r.attempt < MAX_TRIAL_ATTEMPTS for r in interrupted):
            for run in interrupted:  # the server restarted under it: continue from its checkpoint
                try:
                    lifecycle.resume_run(session, run.id, None, fallback=True)
                except ConflictError:
                    pass
            self._queued = True
            return True
        storage = ostudy._storage
        failed = [r for r in trial_runs if r.status != RunStatus.SUCCEEDED]
        if failed:
            why = failed[0].error or f"run {failed[0].id} {failed[0].status}"
            storage.set_trial_user_attr(trial._trial_id, ERROR_ATTR, why)
            ostudy.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            return False
        value = self._objective(session, study, [run.id for run in trial_runs])
        if value is None:
            storage.set_trial_user_attr(
                trial._trial_id, ERROR_ATTR, f"no finite {study.objective} in the last epoch"
            )
            ostudy.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        else:
            ostudy.tell(trial.number, value, skip_if_finished=True)
        return False

    def _objective(self, session: Session, study: RunStudy, run_ids: list[int]) -> float | None:
        """The trial's objective: its last epoch's value, the mean over its seeds' runs."""
        values = []
        for run_id in run_ids:
            row = session.scalars(
                select(EpochMetric)
                .where(EpochMetric.run_id == run_id)
                .order_by(EpochMetric.epoch.desc())
                .limit(1)
            ).first()
            value = named_metrics(row).get(study.objective) if row is not None else None
            if value is None or not math.isfinite(value):
                return None
            values.append(float(value))
        return sum(values) / len(values)

    def _gave_up(self, session: Session, study: RunStudy, ostudy: optuna.Study) -> bool:
        """Stop a study whose every trial so far failed, once enough did to tell."""
        from optuna.trial import TrialState

        ended = ostudy.get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        )
        ended = [t for t in ended if t.number >= study.resumed_at_trial]
        failed = [t for t in ended if t.state == TrialState.FAIL]
        if len(failed) < min(FAILURES_BEFORE_GIVING_UP, study.n_trials) or len(failed) < len(ended):
            return False
        last = failed[-1].user_attrs.get(ERROR_ATTR, "no reason given")
        study.status = StudyStatus.FAILED.value
        study.stop_reason = f"every trial failed ({len(failed)} of {len(ended)}); the last: {last}"
        study.finished_at = utcnow()
        cancel_trial_runs(session, study.id, running_too=False)
        logger.warning("study %s: %s", study.id, study.stop_reason)
        return True
