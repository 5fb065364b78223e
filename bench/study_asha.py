"""A 16-trial study with ASHA against the same 16 configurations as a grid sweep, side by side.

One live server (a temporary home, SQLite, 2 CPU run slots, warm workers) trains digits with a
small MLP for `--epochs` epochs (12 by default) of batch 16. The 16 configurations: Adam's
learning rate in {1e-5, 1e-4, 1e-3, 1e-2} times the hidden width in {16, 32, 64, 128}, some of
them hopeless within the epochs given (1e-5 barely moves). Both searches run two at a time, one
after the other on the same server:

- **grid**: `POST /api/sweeps` of the 16 combinations; every run trains to its last epoch;
- **ASHA**: `POST /api/studies` with the grid sampler over the same 16 points and the ASHA pruner
  (min resource 1 epoch, reduction factor 3: rungs at epochs 1, 3 and 9): a trial whose val_loss
  after a rung's epoch is not in the best third of its rung stops there. No parallelism is
  given, as from the form: the server's 2 slots, with a trial queued ahead of them.

Reported for each: the wall time from the POST to the last run's end, the epochs trained in all,
and the best val_loss reached (the ASHA study's best trial; the grid's best final epoch). ASHA's
order over the grid is Optuna's (random), and which trials it prunes depends on the trials
ahead of them, so its best may or may not be the grid's best: both figures are printed as they
came.

Also reported, per run on average: the seconds outside its epochs (start to end, less its
epochs' own seconds) and an epoch's seconds, to tell a run's fixed cost from its training.

`python -m bench.study_asha [--epochs N] [--asha-first] [--write-readme]`; `make bench` runs it
too. `--asha-first` runs the study before the grid (on a machine whose load climbs, the second
search runs under more of it).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import README, Result, replace_section
from bench.live_server import serve

LRS = [1e-5, 1e-4, 1e-3, 1e-2]
WIDTHS = [16, 32, 64, 128]
# Small batches: an epoch long enough (90 steps) that a run's fixed start cost does not hide
# the epochs ASHA saves.
BATCH_SIZE = 16


def base_config(epochs: int) -> dict[str, Any]:
    return {
        "name": "asha-bench",
        "data": {"kind": "digits"},
        "model": {"kind": "mlp", "hidden_sizes": [32]},
        "optimizer": {"kind": "adam", "lr": 0.001},
        "batch_size": BATCH_SIZE,
        "max_epochs": epochs,
        "device": "cpu",
        "seed": 0,
    }


def _wait(condition: Any, timeout: float = 3600) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError("the search did not end in time")


def _run_costs(base: str, runs: list[dict]) -> dict[str, float]:
    """Per run, on average: seconds from its start to its end outside its epochs (the worker
    taking it, building data and model, the best checkpoint's evaluation, a trial's reports)
    and seconds per epoch."""
    fixed, epoch_seconds = [], []
    for run in runs:
        epochs = httpx.get(f"{base}/api/runs/{run['id']}/metrics", timeout=30).json()["epochs"]
        began = datetime.fromisoformat(run["started_at"])
        ended = datetime.fromisoformat(run["finished_at"])
        fixed.append((ended - began).total_seconds() - sum(e["seconds"] for e in epochs))
        epoch_seconds += [e["seconds"] for e in epochs]
    return {
        "fixed": sum(fixed) / len(fixed),
        "epoch": sum(epoch_seconds) / max(1, len(epoch_seconds)),
    }


def grid(base: str, epochs: int) -> dict[str, float]:
    started = time.perf_counter()
    body = {
        "config": base_config(epochs),
        "grid": {"optimizer.lr": LRS, "model.hidden_sizes": [[w] for w in WIDTHS]},
        "group_name": "grid",
    }
    response = httpx.post(f"{base}/api/sweeps", json=body, timeout=60)
    response.raise_for_status()
    ids = {run["id"] for run in response.json()["runs"]}

    def done() -> list[dict] | None:
        runs = httpx.get(f"{base}/api/runs", params={"limit": 1000}, timeout=30).json()["runs"]
        mine = [run for run in runs if run["id"] in ids]
        ended = all(run["status"] in ("succeeded", "failed", "cancelled") for run in mine)
        return mine if ended else None

    runs = _wait(done)
    seconds = time.perf_counter() - started
    best = min(
        epoch["metrics"]["val_loss"]
        for run in runs
        for epoch in httpx.get(f"{base}/api/runs/{run['id']}/metrics", timeout=30).json()["epochs"][
            -1:
        ]
    )
    return {
        "seconds": seconds,
        "epochs": sum(run["epoch"] for run in runs),
        "best": best,
        **_run_costs(base, runs),
    }


def asha(base: str, epochs: int) -> dict[str, float]:
    started = time.perf_counter()
    body = {
        "config": base_config(epochs),
        "space": [
            {"field": "optimizer.lr", "type": "choice", "choices": LRS},
            {"field": "model.hidden_sizes", "type": "choice", "choices": [[w] for w in WIDTHS]},
        ],
        "n_trials": 16,
        "parallelism": None,  # the server's 2 slots, and a trial queued ahead of them
        "sampler": "grid",
        "pruner": "asha",
    }
    response = httpx.post(f"{base}/api/studies", json=body, timeout=60)
    response.raise_for_status()
    study_id = response.json()["id"]

    def done() -> dict | None:
        detail = httpx.get(f"{base}/api/studies/{study_id}", timeout=60).json()
        return detail if detail["status"] in ("finished", "failed") else None

    detail = _wait(done)
    seconds = time.perf_counter() - started
    runs = httpx.get(f"{base}/api/runs", params={"limit": 1000}, timeout=30).json()["runs"]
    mine = [run for run in runs if run["study_id"] == study_id]
    trained = sum(run["epoch"] for run in mine)
    pruned = detail["progress"]["pruned"]
    best = detail["best_trial"]["value"] if detail["best_trial"] else float("nan")
    return {
        "seconds": seconds,
        "epochs": trained,
        "best": best,
        "pruned": pruned,
        **_run_costs(base, mine),
    }


def _load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


def run(epochs: int = 12, asha_first: bool = False) -> list[Result]:
    home = Path(tempfile.mkdtemp(prefix="study-asha-")) / "home"
    home.mkdir(parents=True)
    with serve(home, max_concurrent_runs="2", worker_threads="1") as server:
        load_before = _load()
        if asha_first:  # on a machine whose load climbs, the second search runs slower
            by_asha = asha(server.base, epochs)
            by_grid = grid(server.base, epochs)
        else:
            by_grid = grid(server.base, epochs)
            by_asha = asha(server.base, epochs)
        load_after = _load()
    ratio = by_asha["seconds"] / by_grid["seconds"]
    epoch_ratio = by_asha["epochs"] / by_grid["epochs"]
    return [
        Result(
            target="issue 25. a 16-trial study with ASHA reaches a best val_loss comparable to "
            f"the same 16 configs as a grid, in a fraction of the time (digits, {epochs} epochs "
            f"of batch {BATCH_SIZE})",
            measured=f"ASHA {by_asha['seconds']:.0f} s ({ratio:.2f}× the grid's), "
            f"{by_asha['epochs']:.0f} epochs trained ({epoch_ratio:.2f}×), "
            f"{by_asha['pruned']:.0f} of 16 pruned, best val_loss {by_asha['best']:.4f}, "
            f"per run {by_asha['fixed']:.1f} s outside its epochs and {by_asha['epoch']:.2f} s an "
            f"epoch; {'ASHA' if asha_first else 'grid'} first, load average {load_before} "
            f"before, {load_after} after, on {os.cpu_count()} cores",
            baseline=f"grid {by_grid['seconds']:.0f} s, {by_grid['epochs']:.0f} epochs, "
            f"best val_loss {by_grid['best']:.4f}, per run {by_grid['fixed']:.1f} s outside its "
            f"epochs and {by_grid['epoch']:.2f} s an epoch",
            met=ratio < 1 and by_asha["best"] <= by_grid["best"] * 1.1,
        )
    ]


def main(argv: list[str]) -> int:
    epochs = int(argv[argv.index("--epochs") + 1]) if "--epochs" in argv else 12
    (result,) = run(epochs, asha_first="--asha-first" in argv)
    print(result.row())
    if "--write-readme" in argv:
        replace_section(
            README, "<!-- study-asha:start -->", "<!-- study-asha:end -->", [result.row()]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
