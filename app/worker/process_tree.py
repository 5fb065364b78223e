"""CPU and resident memory of a process and all its descendants, read from Linux's /proc.

psutil would do this, but it is not a dependency of torchdash and the three numbers needed are
two fields of /proc/PID/stat each: read directly, no new package. The tree is the worker and
everything it started: the other ranks of a DDP run (trainer/distributed/launcher.py) and any
DataLoader worker processes, so a run's CPU and memory are the whole run's. Without /proc (not
Linux) a sample is None and the run page shows no CPU chart.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class ProcessStat:
    pid: int
    parent: int
    cpu_seconds: float  # user + system time so far
    rss_bytes: int


@dataclass(frozen=True)
class TreeSample:
    cpu_percent: float  # over the interval since the previous sample; 100 = one core busy
    rss_mb: float
    processes: int


def read_stat(pid: int) -> ProcessStat | None:
    """One process's /proc/PID/stat, or None when it is gone (or a zombie) by now."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after the last ")".
    fields = text.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    # fields[0] is field 3 of proc(5): ppid is field 4, utime 14, stime 15, rss 24 (pages).
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return ProcessStat(pid, int(fields[1]), cpu, int(fields[21]) * PAGE_BYTES)


def descendants_and_self(root: int) -> list[ProcessStat]:
    """`root` and every process below it, by one scan of /proc's parent links."""
    stats = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := read_stat(int(entry.name))) is not None:
            stats.append(stat)
    children: dict[int, list[ProcessStat]] = {}
    by_pid = {}
    for stat in stats:
        children.setdefault(stat.parent, []).append(stat)
        by_pid[stat.pid] = stat
    if root not in by_pid:
        return []
    tree, pending = [], [by_pid[root]]
    while pending:
        stat = pending.pop()
        tree.append(stat)
        pending.extend(children.get(stat.pid, ()))
    return tree


class ProcessTree:
    """Samples of a process tree's CPU use (between two samples) and resident memory."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.cpu_seconds: dict[int, float] = {}
        self.at = time.monotonic()
        self.sample()  # the baseline: the first sample measures the time since now, no more

    def sample(self) -> TreeSample | None:
        if not PROC.is_dir():
            return None
        now = time.monotonic()
        tree = descendants_and_self(self.root)
        # A process first seen now counts from its start: it started within the interval, or
        # was just too short-lived to be seen before.
        used = sum(stat.cpu_seconds - self.cpu_seconds.get(stat.pid, 0.0) for stat in tree)
        elapsed = max(now - self.at, 1e-6)
        self.cpu_seconds = {stat.pid: stat.cpu_seconds for stat in tree}
        self.at = now
        return TreeSample(
            cpu_percent=max(used, 0.0) / elapsed * 100,
            rss_mb=sum(stat.rss_bytes for stat in tree) / 2**20,
            processes=len(tree),
        )
