"""A chaos soak: small runs on the local executor while a driver kills what they depend on.

The driver (`Soak`) starts a real server, queues runs of small digits configs (some DDP with two
ranks), then, at moments drawn from a seeded RNG, SIGKILLs the server (and starts a new one on
the same port), a random run's worker, a random DDP rank, or restarts PostgreSQL. Runs that end
`interrupted` (and runs failed by a rank it killed) are resumed over REST until they finish, up
to a bound. Then `check` reads the database directly and the machine's processes:

- every run is in a final state (succeeded, or resumable: a complete checkpoint to go on from);
- epoch rows are 1..epoch and step rows 1..N, no gap, no duplicate, per run;
- every listed checkpoint loads with `torch.load(weights_only=True)`;
- no process started for the soak's home is left once its last server stopped;
- no request the driver made was answered with a 5xx.

Used by the short soak in the suite (tests/system/test_soak.py) and by bench/soak.py. The seed
is printed; the same seed draws the same configs, kinds and moments (the machine's timing still
decides what a kill lands on).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import Checkpoint, EpochMetric, Run, StepMetric
from app.worker.process_tree import descendants_and_self
from tests.support.postgres_server import PostgresServer
from tests.support.runs import TINY_CONFIG
from tests.support.servers import free_port, process_gone, spawn_server, wait_for_server
from tests.support.waiting import wait_until

FINAL = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
RESUMABLE = frozenset({"failed", "interrupted"})
# How a rank other than rank 0 of a DDP run is started (trainer/distributed/launcher.py).
RANK_MODULE = "trainer.distributed.launcher"


@dataclass
class SoakReport:
    seed: int
    runs: int = 0
    kills: Counter[str] = field(default_factory=Counter)  # kind -> kills done
    missed: Counter[str] = field(default_factory=Counter)  # kind drawn, nothing to kill then
    resumes: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # final status -> runs
    epoch_rows: int = 0
    step_rows: int = 0
    checkpoints_loaded: int = 0
    http_statuses: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # everything `check` found wrong

    def lines(self) -> list[str]:
        kills = ", ".join(f"{kind} {n}" for kind, n in sorted(self.kills.items())) or "none"
        missed = ", ".join(f"{kind} {n}" for kind, n in sorted(self.missed.items())) or "none"
        statuses = ", ".join(f"{s} {n}" for s, n in sorted(self.statuses.items()))
        answers = ", ".join(f"{s}: {n}" for s, n in sorted(self.http_statuses.items()))
        return [
            f"seed {self.seed}",
            f"kills survived: {sum(self.kills.values())} ({kills}); drawn with nothing to kill:"
            f" {missed}",
            f"runs: {self.runs} ({statuses}), resumed {self.resumes} times",
            f"rows checked: {self.epoch_rows} epoch rows, {self.step_rows} step rows",
            f"checkpoints loaded (weights_only=True): {self.checkpoints_loaded}",
            f"HTTP answers: {answers}",
            f"problems: {len(self.problems)}",
            *(f"  - {problem}" for problem in self.problems),
        ]


class Soak:
    """One soak on `settings`' home (and `postgres`, whose database `settings` points at)."""

    def __init__(
        self,
        settings: Settings,
        seed: int,
        postgres: PostgresServer | None = None,
        max_resumes: int = 12,
        **server_env: str,
    ) -> None:
        self.settings = settings
        self.rng = random.Random(seed)
        self.postgres = postgres
        self.max_resumes = max_resumes
        self.report = SoakReport(seed)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.server_env = server_env
        self.server: subprocess.Popen[bytes] | None = None
        self.servers = 0
        self.run_ids: list[int] = []
        self.resumed: Counter[int] = Counter()
        self.rank_killed: set[int] = set()  # runs whose running attempt lost a rank to the driver
        self.http = httpx.Client(
            base_url=self.base, timeout=60, event_hooks={"response": [self._record]}
        )

    def _record(self, response: httpx.Response) -> None:
        self.report.http_statuses[response.status_code] += 1
        if response.status_code >= 500:
            response.read()
            self.report.problems.append(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code}: {response.text[:300]}"
            )

    # The server -----------------------------------------------------------------------------

    def start_server(self) -> None:
        self.servers += 1
        env = dict(self.server_env)
        if self.postgres is not None:
            env["TORCHDASH_DATABASE_URL"] = self.settings.sqlalchemy_url
        self.server = spawn_server(self.settings, self.port, f"server-{self.servers}.log", **env)
        # Longer than the tests' usual wait: a restart lands among busy workers, on a busy box.
        wait_for_server(self.base, timeout=180)

    def stop_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=30)

    def close(self) -> None:
        """Stop the server and anything of the soak's home still alive (after `check`)."""
        self.stop_server()
        for pid in self.home_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.http.close()

    # The runs --------------------------------------------------------------------------------

    def config(self, index: int) -> dict[str, Any]:
        """A small digits run: 2-4 short epochs, a step row per batch, every third on 2 ranks."""
        return {
            **TINY_CONFIG,
            "name": f"soak-{index}",
            "max_epochs": self.rng.randint(2, 4),
            "batch_size": self.rng.choice([16, 32]),
            "report_every_steps": 1,
            "seed": index,
            "processes": 2 if index % 3 == 0 else 1,
        }

    def queue(self, count: int) -> None:
        for index in range(count):
            response = self.http.post("/api/runs", json=self.config(index))
            assert response.status_code == 201, response.text
            self.run_ids.append(response.json()["id"])
        self.report.runs = count

    def runs(self) -> dict[int, dict[str, Any]]:
        ours = set(self.run_ids)
        answer = self.http.get("/api/runs", params={"limit": 200})
        assert answer.status_code == 200, answer.text
        return {run["id"]: run for run in answer.json()["runs"] if run["id"] in ours}

    def settle(self) -> bool:
        """Resume what a kill interrupted; True once every run has succeeded or is past its
        bound of resumes (left for `check` to report)."""
        done = True
        for run_id, run in self.runs().items():
            status = run["status"]
            if status == "succeeded":
                continue
            if status not in RESUMABLE:
                done = False
                continue
            if status == "failed" and run_id not in self.rank_killed:
                continue  # failed by itself: a finding, not something a kill explains
            if self.resumed[run_id] >= self.max_resumes:
                continue
            self.rank_killed.discard(run_id)
            answer = self.http.post(f"/api/runs/{run_id}/resume")
            if answer.status_code == 409:  # it changed state meanwhile; look again next time
                done = False
                continue
            assert answer.status_code == 200, answer.text
            self.resumed[run_id] += 1
            self.report.resumes += 1
            done = False
        return done

    # The kills -------------------------------------------------------------------------------

    def kinds(self) -> list[str]:
        kinds = ["server", "worker", "worker", "rank"]
        return kinds + ["postgres"] if self.postgres is not None else kinds

    def kill(self, kind: str) -> bool:
        """Do one kill of `kind`; False when there was nothing of that kind to kill."""
        if kind == "server":
            assert self.server is not None
            self.server.send_signal(signal.SIGKILL)  # no shutdown code runs
            self.server.wait(timeout=30)
            self.start_server()
            return True
        if kind == "postgres":
            assert self.postgres is not None
            self.postgres.restart()
            return True
        # A worker or rank is drawn among what runs now: wait a little for one to start, then a
        # drawn while more, so that kills land at any age of a process, not only at its start.
        age = self.rng.uniform(0, 6)
        deadline = time.monotonic() + 60
        while not (targets := self.targets(rank=kind == "rank")):
            if time.monotonic() > deadline or self.settle():
                return False
            time.sleep(0.2)
        self._wait_settling(age)
        if not (targets := self.targets(rank=kind == "rank")):
            return False
        run_id, pid = self.rng.choice(sorted(targets))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        wait_until(lambda: process_gone(pid), 30, f"the killed {kind} {pid} to end")
        if kind == "rank":
            self.rank_killed.add(run_id)
        return True

    def targets(self, rank: bool) -> list[tuple[int, int]]:
        """(run, pid) of each running run's worker, or of each rank past rank 0 of a DDP run."""
        found = []
        for run_id, run in self.runs().items():
            handle = run.get("worker_handle") or ""
            if run["status"] != "running" or not handle.isdigit():
                continue
            worker = int(handle)
            if not rank:
                found.append((run_id, worker))
                continue
            for stat in descendants_and_self(worker)[1:]:
                if RANK_MODULE in _cmdline(stat.pid):
                    found.append((run_id, stat.pid))
        return found

    def drive(
        self,
        runs: int,
        kills: int,
        gap: tuple[float, float],
        timeout: float,
        every_kind: bool = False,
    ) -> None:
        """Queue `runs`, do `kills` kills `gap` seconds apart (drawn), resuming as runs end;
        then resume until every run succeeded (or `timeout` seconds passed in all).
        `every_kind`: each kind at least once (in a drawn order): a short soak misses none."""
        started = time.monotonic()
        self.start_server()
        self.queue(runs)
        if every_kind:
            kinds = sorted(set(self.kinds()))
            kinds += [self.rng.choice(self.kinds()) for _ in range(kills - len(kinds))]
            self.rng.shuffle(kinds)
            plan = [(self.rng.uniform(*gap), kind) for kind in kinds]
        else:  # the plan bench/soak.py's recorded seeds draw
            plan = [(self.rng.uniform(*gap), self.rng.choice(self.kinds())) for _ in range(kills)]
        for number, (pause, kind) in enumerate(plan, 1):
            self._wait_settling(pause)
            landed = self.kill(kind)
            (self.report.kills if landed else self.report.missed)[kind] += 1
            done = "done" if landed else "nothing to kill"
            print(
                f"  {time.monotonic() - started:6.1f} s  kill {number}: {kind}, {done}", flush=True
            )
        while not self.settle() and time.monotonic() - started < timeout:
            time.sleep(0.5)

    def _wait_settling(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            self.settle()
            time.sleep(min(0.5, max(0.0, until - time.monotonic())))

    # The checks ------------------------------------------------------------------------------

    def check(self) -> SoakReport:
        """Stop the server, then check the database, the checkpoints and the processes."""
        report = self.report
        final = self.runs()
        self.stop_server()
        for run_id in self.run_ids:
            status = final[run_id]["status"]
            report.statuses[status] += 1
            if status not in FINAL:
                report.problems.append(f"run {run_id} ended the soak {status}")
            elif status != "succeeded":  # failed by itself, or past its bound of resumes
                report.problems.append(
                    f"run {run_id} is {status} after {self.resumed[run_id]} resumes: "
                    f"{final[run_id]['error']}"
                )
        engine = make_engine(self.settings.sqlalchemy_url)
        try:
            with session_scope(make_session_factory(engine)) as session:
                for run_id in self.run_ids:
                    self._check_rows(session, run_id)
                    self._check_checkpoints(session, run_id)
        finally:
            engine.dispose()
        try:
            wait_until(lambda: not self.home_processes(), 60, "the soak's processes to end")
        except AssertionError:
            for pid in self.home_processes():
                report.problems.append(f"process {pid} left: {_cmdline(pid)}")
        return report

    def _check_rows(self, session: Any, run_id: int) -> None:
        run = session.get(Run, run_id)
        epochs = session.scalars(
            select(EpochMetric.epoch).where(EpochMetric.run_id == run_id).order_by("epoch")
        ).all()
        steps = session.execute(
            select(StepMetric.step, StepMetric.epoch)
            .where(StepMetric.run_id == run_id)
            .order_by(StepMetric.step)
        ).all()
        self.report.epoch_rows += len(epochs)
        self.report.step_rows += len(steps)
        if list(epochs) != list(range(1, run.epoch + 1)):
            self.report.problems.append(
                f"run {run_id}: epoch rows {list(epochs)}, epoch {run.epoch}"
            )
        numbers = [step for step, _ in steps]
        if numbers != list(range(1, len(numbers) + 1)):
            gaps = sorted(set(range(1, max(numbers, default=0) + 1)) - set(numbers))[:10]
            self.report.problems.append(f"run {run_id}: step rows not 1..N; missing {gaps}")
        per_epoch = Counter(epoch for _, epoch in steps)
        if run.status == "succeeded" and (
            sorted(per_epoch) != list(range(1, run.epoch + 1)) or len(set(per_epoch.values())) > 1
        ):
            self.report.problems.append(f"run {run_id}: step rows per epoch {dict(per_epoch)}")
        if [epoch for _, epoch in steps] != sorted(epoch for _, epoch in steps):
            self.report.problems.append(f"run {run_id}: step rows out of epoch order")

    def _check_checkpoints(self, session: Any, run_id: int) -> None:
        from trainer.checkpoints.store import load_checkpoint  # torch: only once checking

        rows = session.scalars(select(Checkpoint).where(Checkpoint.run_id == run_id)).all()
        run = session.get(Run, run_id)
        complete = [row.epoch for row in rows if row.complete]
        if run.status != "succeeded" and not complete and run.epoch > 0:
            self.report.problems.append(f"run {run_id}: {run.status} with no checkpoint to resume")
        if run.status == "succeeded" and max(complete, default=0) != run.epoch:
            self.report.problems.append(
                f"run {run_id}: succeeded at epoch {run.epoch}, newest checkpoint {complete}"
            )
        for row in rows:
            try:
                load_checkpoint(Path(row.path))
            except Exception as error:  # noqa: BLE001 - each kind of failure is a finding
                self.report.problems.append(f"run {run_id}: checkpoint {row.path}: {error}")
            else:
                self.report.checkpoints_loaded += 1

    def home_processes(self) -> list[int]:
        """Every live process started for this soak's home (its environment names the home)."""
        marker = f"TORCHDASH_HOME={self.settings.home_dir}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0") and not process_gone(int(entry.name)):
                found.append(int(entry.name))
        return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
