"""Preflight, the server's side: have a worker process check a run config, within a time limit.

The server never imports torch, so the check (trainer/preflight.py) runs in a worker: an idle warm
worker when the executor has one (it is used up, like by a run, and the pool refills on the
dispatcher's next tick), else a fresh `python -m app.worker --preflight`. The job and its answer
are files in a folder of their own under `<home>/preflight/`, removed afterwards.

One preflight at a time: each trains a few batches on the cores (or the GPU) the runs use.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.errors import ConfigError
from app.runs.executors.worker_process import PREFLIGHT_FLAG, worker_command
from app.settings import Settings
from trainer.config import RunConfig

# What hands a job line to an idle warm worker (LocalProcessExecutor.take_warm_worker).
TakeWarmWorker = Callable[[str], "subprocess.Popen[bytes] | None"]

_one_at_a_time = threading.Lock()
LOG_TAIL_CHARS = 2000
RESULT_FILE = "result.json"  # what app/worker/preflight.py writes, whole (renamed into place)
ANSWER_POLL_SECONDS = 0.01


def run_preflight(
    config: RunConfig, settings: Settings, take_warm: TakeWarmWorker | None = None
) -> dict[str, Any]:
    """The preflight report of a checked config; ConfigError (422) when it cannot train or the
    worker did not answer within `settings.preflight_seconds`."""
    started = time.monotonic()
    limit = settings.preflight_seconds
    if not _one_at_a_time.acquire(timeout=limit):
        raise _timeout(limit)
    folder = settings.preflight_dir / uuid.uuid4().hex
    try:
        folder.mkdir(parents=True)
        job = folder / "job.json"
        job_text = {"config": config.model_dump(mode="json"), "steps": settings.preflight_batches}
        job.write_text(json.dumps(job_text))
        line = f"preflight {job}"
        process = take_warm(line) if take_warm is not None else None
        if process is None:
            process = _spawn_cold(settings, folder / "worker.log", line)
        if not _wait_for_answer(process, folder / RESULT_FILE, started + limit):
            _kill(process)
            raise _timeout(limit)
        answer = _read_answer(folder, process.returncode)
    finally:
        _one_at_a_time.release()
        shutil.rmtree(folder, ignore_errors=True)
    if "problem" in answer:
        problem = answer["problem"]
        raise ConfigError(
            errors=[
                {
                    "loc": ["body", *problem["loc"]],
                    "msg": problem["msg"],
                    "type": problem["type"],
                    "input": None,
                }
            ]
        )
    return {**answer["report"], "seconds": time.monotonic() - started}


def _wait_for_answer(process: subprocess.Popen[bytes], result: Path, deadline: float) -> bool:
    """Wait for the answer file, or for the worker to end without one; False past `deadline`.

    The answer is read as soon as it is written: a worker that imported torch takes a while to
    exit, and nothing waits on that (a warm one is reaped by its pool, a cold one by Python's
    subprocess module at its next start of a process).
    """
    while time.monotonic() < deadline:
        if result.is_file() or process.poll() is not None:
            return True
        time.sleep(ANSWER_POLL_SECONDS)
    return False


def _spawn_cold(settings: Settings, log_path: Path, line: str) -> subprocess.Popen[bytes]:
    """`python -m app.worker --preflight`, handed the job line on its stdin."""
    env = {
        **os.environ,
        # The worker reads the same settings, made absolute so its working folder can't matter.
        "TORCHDASH_HOME": str(settings.home_dir),
        "TORCHDASH_DATABASE_URL": settings.sqlalchemy_url,
        "TORCHDASH_DATA_ROOTS": ",".join(map(str, settings.allowed_data_roots)),
        "PYTHONUNBUFFERED": "1",
    }
    python = settings.worker_python or sys.executable
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            worker_command(python, PREFLIGHT_FLAG),
            env=env,
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a time-out kills its loaders too
        )
    assert process.stdin is not None
    process.stdin.write(f"{line}\n".encode())
    process.stdin.close()
    return process


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill a worker past its time and its DataLoader processes (its process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _read_answer(folder: Path, returncode: int | None) -> dict[str, Any]:
    result = folder / RESULT_FILE
    if result.is_file():
        return json.loads(result.read_text())
    log = folder / "worker.log"
    tail = log.read_text(errors="replace")[-LOG_TAIL_CHARS:] if log.is_file() else ""
    return {
        "problem": {
            "loc": [],
            "msg": f"the preflight worker exited with code {returncode} without an answer: "
            + (tail.strip() or "no output"),
            "type": "preflight_failed",
        }
    }


def _timeout(limit: float) -> ConfigError:
    return ConfigError(
        errors=[
            {
                "loc": ["body"],
                "msg": f"preflight took longer than {limit:g} s",
                "type": "preflight_timeout",
                "input": None,
            }
        ]
    )
