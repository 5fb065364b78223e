"""Test-only fault injection: make a real worker meet a fault at a named point of its work.

Some faults cannot be produced on demand on a CPU test machine (CUDA running out of memory, a disk
filling up at the right moment, a kill landing inside a checkpoint write). The trainer calls
`fault_point(name)` at those points; it does nothing unless `TORCHDASH_FAULT` names that point:

    TORCHDASH_FAULT=oom@step:3        raise torch.OutOfMemoryError at the 3rd optimizer step
    TORCHDASH_FAULT=enospc@save:2     raise OSError(ENOSPC) inside the 2nd checkpoint save
    TORCHDASH_FAULT=pause@save:2      inside the 2nd save (one file written), touch the file named
                                      by TORCHDASH_FAULT_MARKER and sleep, waiting to be killed
    TORCHDASH_FAULT=hold@step:3       at the 3rd optimizer step, print "held at step 3" and wait
                                      until the file `<TORCHDASH_FAULT_MARKER>.release` exists,
                                      then go on (a test acts on the run at a known batch of an
                                      epoch, then releases it)

Counts are per process. Never set it outside tests: it exists so that each fault handling path
is exercised by a real process rather than assumed.
"""

from __future__ import annotations

import errno
import os
import time
from collections import Counter
from pathlib import Path

FAULT_ENV = "TORCHDASH_FAULT"
MARKER_ENV = "TORCHDASH_FAULT_MARKER"

_hits: Counter[str] = Counter()


def fault_point(point: str) -> None:
    """Meet the fault configured for `point` (e.g. "step", "save") on its n-th call, if any."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    kind, _, where = spec.partition("@")
    name, _, nth = where.partition(":")
    if name != point:
        return
    _hits[point] += 1
    if _hits[point] != int(nth or 1):
        return
    if kind == "oom":
        import torch

        raise torch.OutOfMemoryError(f"CUDA out of memory (injected by {FAULT_ENV}={spec})")
    if kind == "enospc":
        raise OSError(errno.ENOSPC, f"No space left on device (injected by {FAULT_ENV})")
    if kind == "pause":
        marker = os.environ.get(MARKER_ENV)
        if marker:
            Path(marker).touch()
        while True:  # until a signal ends the process
            time.sleep(1)
    if kind == "hold":
        release = Path(f"{os.environ[MARKER_ENV]}.release")
        # Said in the process's own output (a run's log), so a test knows which run holds.
        print(f"{FAULT_ENV}: held at {point} {nth}, until {release} exists", flush=True)
        # Looked at once a second: a hold outlasts the stop signal's poll interval (0.5 s,
        # app/worker/stop_signal.py), so the batch after it reads the database afresh.
        while not release.exists():
            time.sleep(1)
        return
    raise ValueError(f"unknown fault kind in {FAULT_ENV}={spec!r}")


def reset_fault_counts() -> None:
    """Start counting calls again (tests run several faults in one process)."""
    _hits.clear()
