"""A script run's worker: start the user's script, read its output, end it, write its status.

The worker (`python -m app.worker RUN_ID`, cold or warm, locally or as a Ray job) runs the script
as a child process in a process group of its own: `python SCRIPT ARGS`, or for `processes` > 1
`python -m torch.distributed.run --standalone --nproc-per-node N SCRIPT ARGS`, with the
project's interpreter, in a working folder of its own (`<run folder>/work`), seeing the GPUs the
run was placed on (the worker's `CUDA_VISIBLE_DEVICES`, inherited). Its stdout is read line by
line (app/worker/script_capture.py); its stderr goes to the log, and its last lines are the
reason of a run that fails.

Cancel creates the stop file the script may watch (TORCHDASH_STOP_FILE; the tracking module's
`should_stop`); a script still running TORCHDASH_SCRIPT_STOP_GRACE_SECONDS later gets SIGTERM on
its process group, and SIGKILL as long again after that. Whatever ends it, the group is killed
before the run's status is written, so no process of the run outlives it. A study's trial is
stopped the same way when its pruner says so after an epoch line, and then ends `succeeded`.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker

import torchdash_track
from app.errors import ConfigError
from app.files import RunFiles
from app.runs.lifecycle import get_run
from app.runs.scripts import resolve_script
from app.settings import Settings
from app.storage import checkpoint_rows, metrics
from app.storage.engine import session_scope
from app.storage.tables import RunStatus
from app.studies.pruning import TrialReporter
from app.worker.attachment import attach_worker
from app.worker.console import log
from app.worker.reporter import DatabaseReporter
from app.worker.retry import write_final_status
from app.worker.script_capture import (
    MAX_LINE_BYTES,
    CheckpointLine,
    ScriptCapture,
    checkpoint_report,
    parse_line,
)
from app.worker.stop_signal import StopSignal
from app.worker.system_sampler import SystemSampler
from app.worker.trial_callbacks import report_epoch
from trainer.callbacks import EpochReport
from trainer.checkpoints.store import checkpoint_name, checkpoint_size

# The folder holding the tracking module's package (the project root, or site-packages).
TRACKING_ROOT = Path(torchdash_track.__file__).resolve().parent.parent
STDERR_TAIL_LINES = 20
LOGGED_BYTES = 4096  # of a line too long to be a metric line, what the log keeps
WAIT_SECONDS = 0.2  # how often the worker looks at the script, the cancel flag and signals
# torchrun's prefix of each line of rank N (`--tee 3`): only rank 0's lines report metrics.
RANK_PREFIX = re.compile(rb"^\[default(\d+)\]:")


@dataclass(frozen=True)
class _ScriptRow:
    status: RunStatus
    script: dict[str, Any]
    processes: int
    assigned_gpus: list[str]
    monitor: str | None
    monitor_mode: str | None
    last_checkpoint: tuple[int, str] | None  # (epoch, stored location) of the newest one


def execute_script_run(
    run_id: int,
    settings: Settings,
    factory: sessionmaker[Session],
    files: RunFiles,
    handle_signals: bool,
) -> RunStatus:
    """Run a claimed (`running`) script run to its end and write its final status."""
    row = _read_run(factory, run_id)
    if row.status != RunStatus.RUNNING:
        log(f"run {run_id} is {row.status}, not running: nothing to do")
        return row.status
    worker = attach_worker(run_id, settings, factory, files, row.assigned_gpus, handle_signals)
    assigned_gpus, stop, reporter = worker.assigned_gpus, worker.stop, worker.reporter
    with session_scope(factory) as session:
        trial = TrialReporter.of_run(session, settings.sqlalchemy_url, run_id)
    # A study's trial: each epoch line is reported, and the pruner may stop the script there.
    on_epoch = None if trial is None else functools.partial(report_epoch, trial, stop)
    try:
        launch = _prepare(run_id, settings, factory, files, row, reporter, on_epoch)
        sampler = SystemSampler(factory, run_id, settings.system_sample_seconds, assigned_gpus)
        with sampler:
            status, reason = _supervise(launch, stop, settings.script_stop_grace_seconds)
        log(launch.capture.summary())
        reporter.flush()
    except Exception as error:  # a failure of the run is reported, none takes the worker down
        traceback.print_exc()
        with contextlib.suppress(Exception):
            reporter.flush()  # the rows captured before the failure stay on the chart
        status, reason = RunStatus.FAILED, _describe(error)
    finally:
        reporter.close()
    if stop.pruned and status == RunStatus.SUCCEEDED:
        write_final_status(factory, run_id, status, error=None, stop_reason=stop.pruned)
    else:
        write_final_status(factory, run_id, status, error=reason)
    return status


def _describe(error: Exception) -> str:
    if isinstance(error, ConfigError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _read_run(factory: sessionmaker[Session], run_id: int) -> _ScriptRow:
    with session_scope(factory) as session:
        run = get_run(session, run_id)
        rows = [row for row in checkpoint_rows.read_checkpoints(session, run_id) if row.complete]
        newest = max(rows, key=lambda row: row.epoch, default=None)
        return _ScriptRow(
            status=RunStatus(run.status),
            script=dict(run.script or {}),
            processes=int(run.config.get("processes", 1) or 1),
            assigned_gpus=list(run.assigned_gpus or []),
            monitor=run.monitor,
            monitor_mode=run.monitor_mode,
            last_checkpoint=(newest.epoch, newest.path) if newest is not None else None,
        )


@dataclass
class _Launch:
    command: list[str]
    workdir: Path
    environment: dict[str, str]
    stop_file: Path
    capture: ScriptCapture
    processes: int


def _prepare(
    run_id: int,
    settings: Settings,
    factory: sessionmaker[Session],
    files: RunFiles,
    row: _ScriptRow,
    reporter: DatabaseReporter,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> _Launch:
    """Everything the script starts with: its command, folder, environment and where it
    resumes, with the rows reported after that point dropped (they are reported again)."""
    script = resolve_script(settings.scripts_path, str(row.script.get("path")), ("script", "path"))
    run_dir = settings.run_dir(run_id)
    workdir = run_dir / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    checkpoint_dir = files.checkpoint_workdir(run_id)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stop_file = run_dir / "stop-requested"
    stop_file.unlink(missing_ok=True)  # a resumed run starts with no stop asked for

    resume_from: Path | None = None
    start_epoch = 0
    if row.last_checkpoint is not None:
        start_epoch, location = row.last_checkpoint
        resume_from = files.fetch_checkpoint(run_id, location, run_id)
        log(f"run {run_id} resumes from checkpoint {location}")
    with session_scope(factory) as session:  # the script reports again from there
        start_step = metrics.trim_to_epoch(session, run_id, start_epoch)

    environment = {
        **os.environ,
        **row.script.get("env", {}),
        "TORCHDASH_RUN_ID": str(run_id),
        "TORCHDASH_CHECKPOINT_DIR": str(checkpoint_dir),
        "TORCHDASH_STOP_FILE": str(stop_file),
        "PYTHONUNBUFFERED": "1",  # lines reach the charts as they are printed
        # The tracking module imports in the script whether or not it is installed.
        "PYTHONPATH": os.pathsep.join(
            [str(TRACKING_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    environment.pop("TORCHDASH_RESUME_CHECKPOINT", None)
    if resume_from is not None:
        environment["TORCHDASH_RESUME_CHECKPOINT"] = str(resume_from)
    args = [str(arg) for arg in row.script.get("args", [])]
    if row.processes > 1:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",  # a free port of its own: runs side by side never collide
            f"--nproc-per-node={row.processes}",
            "--tee=3",  # each rank's lines reach our pipe prefixed with its rank
            f"--log-dir={workdir / 'torchrun'}",
            str(script),
            *args,
        ]
    else:
        command = [sys.executable, str(script), *args]

    def update_run(**changes: Any) -> None:
        if "metric_names" in changes:
            changes["script"] = {**row.script, "metric_names": changes.pop("metric_names")}
        reporter.update_run(**changes)

    def register_checkpoint(line: CheckpointLine, named: dict[str, float] | None) -> None:
        folder = Path(line.path).resolve()
        expected = checkpoint_dir.resolve() / checkpoint_name(line.epoch, True)
        if folder != expected or not folder.is_dir():
            log(f"ignored a checkpoint line naming {line.path}: not {expected}")
            return
        reporter.on_checkpoint(
            checkpoint_report(folder, line.epoch, named, checkpoint_size(folder))
        )

    capture = ScriptCapture(
        reporter,
        start_epoch=start_epoch,
        start_step=start_step,
        monitor=row.monitor,
        monitor_mode=row.monitor_mode,
        metric_names=list(row.script.get("metric_names", [])),
        register_checkpoint=register_checkpoint,
        update_run=update_run,
        on_epoch=on_epoch,
    )
    reporter.monitor_mode = row.monitor_mode
    reporter.update_run(epoch=start_epoch, progress_batch=0, progress_batches=0)
    return _Launch(command, workdir, environment, stop_file, capture, row.processes)


def _supervise(launch: _Launch, stop: StopSignal, grace: float) -> tuple[RunStatus, str | None]:
    """Start the script, read it until it ends, stop it when asked; its status and reason."""
    log(f"starting {' '.join(launch.command)} in {launch.workdir}")
    process = subprocess.Popen(
        launch.command,
        cwd=launch.workdir,
        env=launch.environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a group of its own: every process it starts is stopped with it
    )
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    readers = [
        threading.Thread(
            target=_read_stdout,
            args=(process.stdout, launch.capture, launch.processes > 1),
            name="script-stdout",
            daemon=True,
        ),
        threading.Thread(
            target=_read_stderr, args=(process.stderr, tail), name="script-stderr", daemon=True
        ),
    ]
    for reader in readers:
        reader.start()
    stopping_since: float | None = None
    signalled: int | None = None
    try:
        while process.poll() is None:
            if stopping_since is None and stop():
                stopping_since = time.monotonic()
                launch.stop_file.touch()
                why = (
                    f"signal {stop.signal_name}"
                    if stop.signal_name
                    else ("pruned" if stop.pruned else "cancel")
                )
                log(f"{why}: asked the script to stop ({launch.stop_file})")
            if stopping_since is not None:
                waited = time.monotonic() - stopping_since
                wanted = signal.SIGKILL if waited >= 2 * grace else signal.SIGTERM
                if waited >= grace and signalled != wanted:
                    log(f"the script did not stop within {waited:.0f} s: {wanted.name} to it")
                    _signal_group(process.pid, wanted)
                    signalled = wanted
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(WAIT_SECONDS)
    finally:
        _signal_group(process.pid, signal.SIGKILL)  # what it left behind goes with it
        process.wait()
        for reader in readers:
            reader.join()
    code = process.returncode
    log(f"the script exited with code {code}")
    if stopping_since is not None:
        if stop.signal_name and not stop.cancel_asked():
            return RunStatus.INTERRUPTED, f"worker received {stop.signal_name}"
        if stop.pruned and not stop.signal_name and not stop.cancel_asked():
            return RunStatus.SUCCEEDED, None  # pruned by its study: finished early
        return RunStatus.CANCELLED, None
    if code == 0:
        return RunStatus.SUCCEEDED, None
    how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
    stderr = "\n".join(tail).strip()
    return RunStatus.FAILED, f"the script {how}" + (
        f"; its last stderr lines:\n{stderr}" if stderr else ""
    )


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _read_stdout(stream: IO[bytes] | None, capture: ScriptCapture, ranked: bool) -> None:
    """Each line to the log; rank 0's metric lines (every line, for one process) to rows."""
    assert stream is not None
    out = sys.stdout
    cut = 0  # bytes of an oversized line left out of the log so far
    while chunk := stream.readline(MAX_LINE_BYTES + 1):
        if cut or not chunk.endswith(b"\n"):
            # Longer than any metric line: text, of which the log keeps the start only.
            if not cut:
                out.write(chunk[:LOGGED_BYTES].decode(errors="replace"))
            cut += len(chunk) - (0 if cut else min(len(chunk), LOGGED_BYTES))
            if chunk.endswith(b"\n"):
                out.write(f" [... {cut} more bytes of this line not logged]\n")
                out.flush()
                cut = 0
            continue
        body = chunk
        counts = True
        if ranked:
            match = RANK_PREFIX.match(chunk)
            counts = match is not None and match[1] == b"0"
            if match is not None:
                body = chunk[match.end() :]
        text = body.decode(errors="replace")
        try:
            if counts:
                capture.take(parse_line(text))
        except Exception:  # a report that fails to be built is logged; the reading goes on
            traceback.print_exc()
        out.write(chunk.decode(errors="replace"))
        out.flush()


def _read_stderr(stream: IO[bytes] | None, tail: collections.deque[str]) -> None:
    assert stream is not None
    while chunk := stream.readline(MAX_LINE_BYTES + 1):
        text = chunk.decode(errors="replace")
        tail.append(text.rstrip("\n")[:2000])
        sys.stderr.write(text)
        sys.stderr.flush()
