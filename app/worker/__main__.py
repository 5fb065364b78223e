"""`python -m app.worker RUN_ID` trains a claimed run; `python -m app.worker --warm` imports torch
first and then waits on stdin for the run to train (app/worker/warm.py); `python -m app.worker
--preflight` reads `preflight JOB_PATH` on stdin and checks that config (app/worker/preflight.py).

The exit code is 0 for a run that succeeded or was cancelled, 1 otherwise, 2 for a bad command
line. The dispatcher reads this command line back from /proc to adopt a worker after a server
restart (app/runs/executors/worker_process.py).
"""

from __future__ import annotations

import sys

from app.runs.executors.ray_job_env import load_job_secrets
from app.runs.executors.worker_process import PREFLIGHT_FLAG, WARM_FLAG, WORKER_MODULE
from app.settings import Settings
from app.worker.execute import execute_run, exit_code
from app.worker.preflight import job_path_of, serve_preflight
from app.worker.ray_entrypoint import ray_job_name, watch_supervisor
from app.worker.warm import serve_one_run


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    load_job_secrets()  # a Ray job's database URL and storage keys: not in its environment
    if args == [WARM_FLAG]:
        return serve_one_run(Settings())
    if args == [PREFLIGHT_FLAG]:
        job = job_path_of(sys.stdin.readline())
        return 2 if job is None else serve_preflight(job, Settings(), worker="cold")
    if len(args) != 1 or not args[0].isdigit():
        usage = f"RUN_ID | {WARM_FLAG} | {PREFLIGHT_FLAG}"
        print(f"usage: python -m {WORKER_MODULE} {usage}", file=sys.stderr)
        return 2
    if ray_job_name() is not None:
        watch_supervisor()  # a worker on a lost Ray node must not train on as an orphan
    return exit_code(execute_run(int(args[0]), Settings(), handle_signals=True))


if __name__ == "__main__":
    sys.exit(main())
