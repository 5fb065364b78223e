"""A warm worker: a worker process that imports torch before it has a run, then serves one.

Started by the local executor as `python -m app.worker --warm` (a fresh interpreter, like every
worker) while no run needs it. It pays the start-up cost up front — torch, torchvision, the
trainer, the digits data — and then blocks on stdin for one line: the id of a run the dispatcher
has claimed, and the environment that places it on its GPUs. It sets that environment before
anything touches CUDA (preloading imports torch but never initialises CUDA, which reads
`CUDA_VISIBLE_DEVICES` once, when it starts). From then on it is that run's worker, exactly as
`python -m app.worker RUN_ID` would be: its output goes to the run's worker.log, it writes the
final status, and it exits when the run ends. (Or the line is `preflight PATH`: a config to check,
app/worker/preflight.py; it answers, then exits as after a run.) A fresh warm worker replaces it,
so no two runs ever share a process (nor its CUDA state).

End of file on stdin means the server is gone (stopped, or killed: the pipe closes either way):
an idle warm worker then exits without touching any run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass

from app.settings import Settings
from app.worker.console import log
from app.worker.execute import execute_run, exit_code
from app.worker.preflight import job_path_of, serve_preflight


def log_stamp(message: str) -> None:
    log(f"warm worker {os.getpid()}: {message}")


def preload() -> None:
    """Import and exercise what a run's first step needs, without touching a GPU."""
    import torch
    import torchvision  # noqa: F401  (image data sets and transforms import it)

    import trainer.evaluation  # noqa: F401  (the end-of-run evaluation)
    import trainer.loop  # noqa: F401
    from trainer.data.datasets import digits_tensors

    digits_tensors()  # the embedded default data set, kept in memory for the run
    # One tiny CPU training step: autograd's engine, the optimizer and the kernels it dispatches
    # are set up lazily on first use, which would otherwise land on the run's first step.
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters())
    targets = torch.zeros(8, dtype=torch.long)
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(torch.randn(8, 4)), targets).backward()
    optimizer.step()


def redirect_output(path: os.PathLike[str] | str) -> None:
    """Point this process's stdout and stderr (the file descriptors, so C code too) at `path`."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


@dataclass(frozen=True)
class Handover:
    """What the dispatcher sends a warm worker: its run and the environment to train it in."""

    run_id: int
    environment: dict[str, str]


def read_job() -> str | None:
    """Block until the server hands over a job line; None when it went away."""
    line = sys.stdin.readline()
    return line.strip() or None


def parse_handover(line: str) -> Handover:
    """A run's job line: `{"run_id": N, "environment": {...}}`."""
    message = json.loads(line)
    return Handover(int(message["run_id"]), dict(message["environment"]))


def take_environment(environment: dict[str, str]) -> None:
    """Set the run's environment (its GPUs) in this process, which must not have started CUDA:
    CUDA reads CUDA_VISIBLE_DEVICES once, when it starts, and would keep the old set."""
    import torch

    if torch.cuda.is_initialized():  # cannot happen unless preload changes; never train elsewhere
        raise RuntimeError("this warm worker initialised CUDA before it was given its GPUs")
    os.environ.update(environment)


def serve_one_run(settings: Settings) -> int:
    """Preload, wait for one run, train it; the exit code `python -m app.worker RUN_ID` gives."""
    started = time.monotonic()
    preload()
    log_stamp(f"ready after {time.monotonic() - started:.2f} s")
    job = read_job()
    if job is None:
        log_stamp("the server went away; exiting")
        return 0
    preflight_job = job_path_of(job)
    if preflight_job is not None:  # a check of a config, not a run (app/worker/preflight.py)
        redirect_output(preflight_job.with_name("worker.log"))
        log_stamp("takes a preflight")
        return serve_preflight(preflight_job, settings, worker="warm")
    handover = parse_handover(job)
    run_id = handover.run_id
    log_path = settings.worker_log(run_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # After this the process's output is the run's log: the dispatcher's adoption check reads it
    # back from /proc/<pid>/fd/1 to tell which run a warm worker serves.
    redirect_output(log_path)
    log(f"warm worker {os.getpid()} takes run {run_id}")
    take_environment(handover.environment)
    return exit_code(execute_run(run_id, settings, handle_signals=True))
