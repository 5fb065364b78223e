"""Name why a run failed: the reason a person reads in the run's `error`, then the detail.

The worker process imports torch, so this module may too; the server never imports it.
"""

from __future__ import annotations

import errno

import torch

from trainer.checkpoints.store import CheckpointError
from trainer.errors import NonFiniteLossError


def failure_reason(error: BaseException) -> str:
    """`reason: detail` for the well-known failures, `Type: detail` for the rest."""
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, NonFiniteLossError):
        return f"non-finite loss: {error}"
    if isinstance(error, torch.OutOfMemoryError):
        return f"out of memory: {detail}"
    if _caused_by_full_disk(error):
        return f"disk full: {detail}"
    if isinstance(error, CheckpointError):
        return f"checkpoint error: {error}"
    return detail


def free_device_memory() -> None:
    """Give cached CUDA memory back after an out-of-memory error, before the process ends."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _caused_by_full_disk(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        # torch.save wraps some write errors in a RuntimeError that names the cause in text.
        if isinstance(error, RuntimeError) and "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False
