"""Why a Ray job's worker ended before it wrote its run's final status, read from the job's log.

A worker that never got going (the node's interpreter lacks torch or another module, the
interpreter is not on the node, torchdash is not at its path there, the secrets file cannot be
read) leaves its reason only in its own output, which Ray keeps as the job's log and serves
through the Jobs API (`get_job_logs`). The run's error says it in one line, naming the module,
the interpreter and the node, so nobody has to open Ray's log files on the node.
"""

from __future__ import annotations

import re

from app.runs.executors.ray_job_env import WORKER_SAYS

_MISSING_MODULE = re.compile(r"No module named '([\w.]+)'")
# What a shell says when the command's interpreter cannot be run (exit codes 126 and 127).
_CANNOT_RUN = (126, 127)
# torchdash's own packages: missing means the project is not at its path on the node.
_OWN_PACKAGES = {"app", "trainer"}


def failure_reason(log: str, exit_code: int, python: str, node: str, project_root: str) -> str:
    """The run's error for a job whose worker exited with `exit_code` without a final status."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    own = [line for line in lines if line.startswith(WORKER_SAYS)]
    if own:
        return f"{own[-1].removeprefix(WORKER_SAYS)} (node {node})"
    missing = _MISSING_MODULE.findall(log)
    if missing:
        module = missing[-1].split(".")[0]
        if module in _OWN_PACKAGES:
            return (
                f"torchdash ({module}) is not importable by `{python}` on node {node}: the "
                f"project must be at {project_root} on every node"
            )
        return (
            f"{module} is not importable by `{python}` on node {node}: the job's interpreter is "
            "not torchdash's environment there (set TORCHDASH_RAY_PYTHON)"
        )
    last = lines[-1] if lines else "its log is empty"
    if exit_code in _CANNOT_RUN:
        return (
            f"the interpreter `{python}` could not be run on node {node} ({last}); "
            "set TORCHDASH_RAY_PYTHON to torchdash's python there"
        )
    return f"worker exited with code {exit_code} on node {node} without a final status: {last}"
