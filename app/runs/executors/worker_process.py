"""The worker's command line: what the local executor starts, and what adoption reads back.

A worker is `python -m app.worker RUN_ID`, or `python -m app.worker --warm` until it is handed a
run. After a server restart, the next server tells its workers apart from every other process
by this command line in /proc, so it must stay the same across upgrades: a worker started by an
earlier torchdash is adopted by a later one.
"""

from __future__ import annotations

import os
from pathlib import Path

WORKER_MODULE = "app.worker"
WARM_FLAG = "--warm"
PREFLIGHT_FLAG = "--preflight"  # a worker that checks a config (app/worker/preflight.py)
# The attempt (runs.attempt) a local worker was started for; a worker whose run has moved on to
# another attempt by the time it reads it leaves it alone (app/worker/execute.py).
ATTEMPT_ENV = "TORCHDASH_RUN_ATTEMPT"


def worker_command(python: str, argument: str) -> list[str]:
    """The argv of a worker: `argument` is a run id, or WARM_FLAG."""
    return [python, "-m", WORKER_MODULE, argument]


def is_worker_of(pid: int, run_id: int, log_path: Path) -> bool:
    """True while `pid` is a live worker of run `run_id`.

    A signal-0 probe alone is fooled twice: by a zombie (a killed worker whose new parent does not
    reap it, as in some containers) and by a reused pid after a reboot. Where /proc exists, the
    process must be running (not Z or X) and its command line must be `app.worker RUN_ID`, or
    `app.worker --warm` with its output going to the run's log (`log_path`): a warm worker's
    command line was written before it had a run, its stdout is moved to the log once it has one.
    """
    proc = Path(f"/proc/{pid}")
    if not Path("/proc/self").exists():
        return _alive(pid)
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = (proc / "cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    module = WORKER_MODULE.encode()
    if argv[-3:-1] == [module, str(run_id).encode()]:
        return True
    return argv[-3:-1] == [module, WARM_FLAG.encode()] and _writes_to(pid, log_path)


def _writes_to(pid: int, path: Path) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/fd/1") == str(path)
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
