"""`python -m app.worker RUN_ID` trains a claimed run; `python -m app.worker --warm` imports torch
first and then waits on stdin for the run to train (app/worker/warm.py).

The exit code is 0 for a run that succeeded or was cancelled, 1 otherwise, 2 for a bad command
line. The dispatcher reads this command line back from /proc to adopt a worker after a server
restart (app/runs/executors/worker_process.py).
"""

from __future__ import annotations

import sys

from app.runs.executors.worker_process import WARM_FLAG, WORKER_MODULE
from app.settings import Settings
from app.worker.execute import execute_run, exit_code
from app.worker.warm import serve_one_run


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == [WARM_FLAG]:
        return serve_one_run(Settings())
    if len(args) != 1 or not args[0].isdigit():
        print(f"usage: python -m {WORKER_MODULE} RUN_ID | {WARM_FLAG}", file=sys.stderr)
        return 2
    return exit_code(execute_run(int(args[0]), Settings(), handle_signals=True))


if __name__ == "__main__":
    sys.exit(main())
