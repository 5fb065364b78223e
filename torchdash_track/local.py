"""`LocalRun`: the tracking module inside a run torchdash started.

It reports by printing JSON lines to stdout, flushed, which the worker reads
(app/worker/script_capture.py): an epoch row, a step row, a checkpoint on disk. Checkpoints are
folders in TORCHDASH_CHECKPOINT_DIR laid out as the loop's (`epoch-NNNN/model.pt`,
`optimizer.pt`, `state.pt`), so the REST API lists and serves them alike; each is written under
a temporary name, every file fsynced, then renamed into place: the worker never sees half of one.

Under torchrun only rank 0 (RANK unset or "0") prints and saves: the other ranks hold the same
model, and one report per epoch is what the run's rows are.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

MODEL_FILE = "model.pt"
OPTIMIZER_FILE = "optimizer.pt"
STATE_FILE = "state.pt"


def _state_dict(part: Any) -> dict[str, Any]:
    """A module's or optimizer's state_dict; a dict as given; nothing as an empty dict."""
    if part is None:
        return {}
    if hasattr(part, "state_dict"):
        return part.state_dict()
    return dict(part)


def _json_number(value: Any) -> Any:
    """A plain number (a 0-dim tensor or a numpy scalar read out). Python's json writes NaN and
    Infinity, which the worker reads back as such: a diverged loss is a real signal."""
    return value.item() if hasattr(value, "item") else value


class LocalRun:
    """The run a torchdash worker started this script for (or a dry run outside one)."""

    def __init__(self, name: str | None = None, config: dict[str, Any] | None = None) -> None:
        self.run_id = os.environ.get("TORCHDASH_RUN_ID")
        self.name = name
        self.config = dict(config or {})
        self.checkpoint_dir = Path(
            os.environ.get("TORCHDASH_CHECKPOINT_DIR") or Path.cwd() / "checkpoints"
        )
        self.stop_file = os.environ.get("TORCHDASH_STOP_FILE")
        self.rank0 = os.environ.get("RANK", "0") == "0"

    def _emit(self, record: dict[str, Any]) -> None:
        if self.rank0:
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()

    def log(self, epoch: int, **metrics: float) -> None:
        """An epoch row: `epoch` (from 1) and its metrics by name (`lr`, `seconds` fill the
        row's columns of those names)."""
        self._emit({"epoch": int(epoch), **{k: _json_number(v) for k, v in metrics.items()}})

    def log_step(self, step: int, loss: float, **values: float) -> None:
        """A step row: the global step (from 1) and its training loss."""
        values = {k: _json_number(v) for k, v in values.items()}
        self._emit({"step": int(step), "loss": _json_number(loss), **values})

    def save_checkpoint(
        self, epoch: int, model: Any = None, optimizer: Any = None, **extra: Any
    ) -> str | None:
        """Save `epoch`'s checkpoint (the model's and optimizer's state_dicts, `extra` with the
        epoch in state.pt) atomically; its folder, or None on a rank other than 0."""
        if not self.rank0:
            return None
        import torch

        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        final = self.checkpoint_dir / f"epoch-{int(epoch):04d}"
        staging = self.checkpoint_dir / f".tmp-{final.name}-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            parts = (
                (MODEL_FILE, _state_dict(model)),
                (OPTIMIZER_FILE, _state_dict(optimizer)),
                (STATE_FILE, {"format_version": 1, "epoch": int(epoch), **extra}),
            )
            for name, obj in parts:
                with open(staging / name, "wb") as handle:
                    torch.save(obj, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
            _fsync_dir(staging)
            if final.exists():  # the epoch saved again: the new one replaces it whole
                aside = final.with_name(f".old-{final.name}-{uuid.uuid4().hex}")
                os.replace(final, aside)
                os.replace(staging, final)
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.replace(staging, final)
            _fsync_dir(self.checkpoint_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._emit({"torchdash": "checkpoint", "epoch": int(epoch), "path": str(final)})
        return str(final)

    def resume_checkpoint(self) -> str | None:
        """The checkpoint folder to start from after Resume; None on a fresh start."""
        return os.environ.get("TORCHDASH_RESUME_CHECKPOINT") or None

    def should_stop(self) -> bool:
        """True once the user pressed Cancel: save what you need and return."""
        return bool(self.stop_file) and os.path.exists(self.stop_file)  # type: ignore[arg-type]

    def note(self, text: str) -> None:
        """A line in the run's log."""
        if self.rank0:
            print(str(text), flush=True)

    def finish(self, status: str = "succeeded", error: str | None = None) -> None:
        """Nothing to send: the worker ends the run when the script exits (a non-zero exit
        fails it). An error is printed to stderr, where the run's failure reason is read."""
        if error:
            print(error, file=sys.stderr, flush=True)


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> dict[str, Any]:
    """A checkpoint folder read back (weights_only=True): `{"model", "optimizer", "epoch",
    ...the extra values saved}`."""
    import torch

    folder = Path(path)
    state = torch.load(folder / STATE_FILE, map_location=map_location, weights_only=True)
    return {
        **state,
        "model": torch.load(folder / MODEL_FILE, map_location=map_location, weights_only=True),
        "optimizer": torch.load(
            folder / OPTIMIZER_FILE, map_location=map_location, weights_only=True
        ),
    }


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
