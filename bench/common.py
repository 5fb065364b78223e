"""Shared pieces of the benchmarks: a result row, timing helpers, the results table."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


@dataclass(frozen=True)
class Result:
    """One measured target: what was measured, against what, and whether the target holds."""

    target: str  # what is measured and its goal, e.g. "6. server start to /healthz ≤ 1.5 s"
    measured: str  # the figure(s), e.g. "0.61 s median of 5"
    baseline: str  # what it was compared with in the same run, or the reference figure
    met: bool | None  # None: not measurable here, or drowned in the machine's noise

    def row(self) -> str:
        verdict = {True: "met", False: "**not met**", None: "no verdict"}[self.met]
        return f"| {self.target} | {self.measured} | {self.baseline} | {verdict} |"


def best_of(repeats: int, work: Callable[[], float]) -> float:
    """The median of `repeats` runs of `work`, which returns its own measurement."""
    return statistics.median(work() for _ in range(repeats))


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def write_table(results: list[Result], header: str) -> None:
    """Replace the results table in bench/README.md."""
    lines = [
        header,
        "",
        "| target | measured | side by side / reference | verdict |",
        "|---|---|---|---|",
        *(result.row() for result in results),
    ]
    replace_section(README, START, END, lines)


def replace_section(path: Path, start: str, end: str, lines: list[str]) -> None:
    """Replace what lies between the markers `start` and `end` in `path` with `lines`."""
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} lacks the markers {start} and {end}")
    block = f"{start}\n" + "\n".join(lines) + f"\n{end}"
    text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    path.write_text(text)
