"""The dispatcher's side of warm workers: keep some waiting, hand each exactly one run.

A warm worker (app/worker/warm.py) is spawned ahead of need and imports torch while nothing waits
on it; handing it a run is one line on its stdin. The pipe is also its lifeline: only the server
holds the writing end, so when the server dies the worker reads end of file and exits (a server
that stops cleanly terminates its idle warm workers).

A warm worker is only worth having for a run that could start now. While every run slot is busy,
a replacement would import torch on the cores the running workers train on (on a 2-core machine,
digits epochs of 0.08 s took up to 3.6 s while one did); so the pool is filled only up to the
number of free slots, and a run that ends makes room for the next warm worker.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("torchdash.warm_pool")

# After a warm worker dies idle (a broken install fails its imports, say), wait this long before
# spawning another, rather than re-running a failing import on every dispatcher tick.
RESPAWN_BACKOFF_SECONDS = 10.0


class WarmPool:
    """Up to `size` idle warm workers; each leaves the pool with the run it is handed.

    `spawn` starts one warm worker with a pipe on its stdin (the executor knows the command line,
    the environment and where its output goes).
    """

    def __init__(self, size: int, spawn: Callable[[], subprocess.Popen[bytes]]) -> None:
        self.size = size
        self.spawn = spawn
        self.idle: list[subprocess.Popen[bytes]] = []
        # Warm workers answering a preflight: they keep their place in the pool until they exit,
        # so no replacement imports torch on the cores the preflight is timing steps on.
        self.checking: list[subprocess.Popen[bytes]] = []
        self.not_before = 0.0
        # A preflight takes a warm worker on a request's thread, beside the dispatcher's.
        self.lock = threading.RLock()

    def fill(self, free_slots: int) -> None:
        """Forget warm workers that died idle; spawn fresh ones up to `size`, but no more than
        the run slots free now could use."""
        with self.lock:
            self._fill(free_slots)

    def _fill(self, free_slots: int) -> None:
        self.checking = [p for p in self.checking if p.poll() is None]
        for process in [p for p in self.idle if p.poll() is not None]:
            logger.warning("warm worker %s ended idle, code %s", process.pid, process.returncode)
            self.idle.remove(process)
            self.not_before = time.monotonic() + RESPAWN_BACKOFF_SECONDS
        if time.monotonic() < self.not_before:
            return
        while len(self.idle) + len(self.checking) < min(self.size, free_slots):
            try:
                self.idle.append(self.spawn())
            except OSError:  # runs still start, cold; the next tick tries again
                logger.exception("could not start a warm worker")
                return

    def hand_over(self, run_id: int) -> subprocess.Popen[bytes] | None:
        """Give `run_id` to an idle warm worker and return it; None when none could take it."""
        return self.hand_over_job(str(run_id))

    def hand_over_preflight(self, job: str) -> subprocess.Popen[bytes] | None:
        """Give a `preflight PATH` line to an idle warm worker, which keeps its place in the pool
        until it exits (app/runs/preflight.py)."""
        with self.lock:
            process = self.hand_over_job(job)
            if process is not None:
                self.checking.append(process)
            return process

    def hand_over_job(self, job: str) -> subprocess.Popen[bytes] | None:
        """Give one job line (a run id, or `preflight PATH`) to an idle warm worker."""
        with self.lock:
            while self.idle:
                process = self.idle.pop(0)
                if process.poll() is not None:
                    continue
                try:
                    assert process.stdin is not None
                    process.stdin.write(f"{job}\n".encode())
                    process.stdin.close()  # one job per worker: nothing more will come
                except OSError:  # it died between the poll and the write (a broken pipe)
                    continue
                return process
            return None

    def close(self) -> None:
        """Stop idle warm workers: they have no run, so nothing is lost (the server stops)."""
        with self.lock:
            for process in self.idle:
                if process.stdin is not None:
                    process.stdin.close()
                process.terminate()  # no point in letting it finish importing torch
            self.idle = []
