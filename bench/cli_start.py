"""`torchdash runs` answers in a fraction of a second: the CLI never imports torch.

Side by side in the same run: a bare `python -c pass` (the interpreter's own start) and
`python -c "import torch"` (what the CLI would cost if it imported torch).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import Result, timed
from bench.live_server import ROOT, serve

REPEATS = 7


def median_seconds(command: list[str]) -> float:
    return statistics.median(
        timed(lambda: subprocess.run(command, cwd=ROOT, check=True, capture_output=True))
        for _ in range(REPEATS)
    )


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as home, serve(Path(home), warm_workers="0") as server:
        cli = median_seconds([sys.executable, "-m", "app", "runs", "--url", server.base])
    bare = median_seconds([sys.executable, "-c", "pass"])
    torch = statistics.median(
        timed(lambda: subprocess.run([sys.executable, "-c", "import torch"], check=True))
        for _ in range(3)
    )
    return [
        Result(
            "15. `torchdash runs` answers in a fraction of a second (≤ 0.5 s)",
            f"{cli:.2f} s (median of {REPEATS}, against a live server)",
            f"`python -c pass` {bare:.2f} s; `python -c 'import torch'` {torch:.2f} s",
            cli <= 0.5,
        )
    ]


if __name__ == "__main__":
    for result in run():
        print(result.row())
