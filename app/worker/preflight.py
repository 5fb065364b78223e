"""A worker's preflight mode: check one run config and write the answer to a file.

The server (app/runs/preflight.py) writes a job file — the checked config and how many steps to
time — and hands its path to a worker: a warm one as the line `preflight PATH` on its stdin
(app/worker/warm.py), or a fresh `python -m app.worker --preflight` given the same line. The
worker answers in `result.json` beside the job, written whole (temp file, then rename), and
exits; the server never imports torch for it.
"""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path
from typing import Any

from app.settings import Settings
from app.worker.console import log
from app.worker.failures import failure_reason

PREFLIGHT_PREFIX = "preflight "
RESULT_FILE = "result.json"


def job_path_of(line: str) -> Path | None:
    """The job file named by a `preflight PATH` line; None for any other line."""
    if not line.startswith(PREFLIGHT_PREFIX):
        return None
    return Path(line[len(PREFLIGHT_PREFIX) :].strip())


def serve_preflight(job_path: Path, settings: Settings, worker: str) -> int:
    """Answer one preflight job; the exit code is 0 when an answer (good or bad) was written."""
    from trainer.config import RunConfig
    from trainer.preflight import PreflightProblem, preflight

    job = json.loads(job_path.read_text())
    answer: dict[str, Any]
    try:
        config = RunConfig.model_validate(job["config"])
        threads = settings.torch_threads()
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        report = preflight(config, settings.plugins_path, steps=job["steps"])
        answer = {"report": {**report, "worker": worker}}
        log(
            f"preflight on {report['device']}: {report['parameter_count']:,} parameters, "
            f"{report['seconds_per_batch']:.4f} s per batch"
        )
    except PreflightProblem as problem:
        answer = {"problem": {"loc": list(problem.loc), "msg": str(problem), "type": "value_error"}}
        log(f"preflight: {'.'.join(map(str, problem.loc))}: {problem}")
    except Exception as error:  # any other failure is an answer too, never a hung request
        traceback.print_exc()
        reason = failure_reason(error)
        loc = ["batch_size"] if reason.startswith("out of memory") else []
        answer = {"problem": {"loc": loc, "msg": reason, "type": "preflight_failed"}}
    _write_whole(job_path.with_name(RESULT_FILE), json.dumps(answer))
    return 0


def _write_whole(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
