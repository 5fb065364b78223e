"""A run's bundle: one zip with its last and best checkpoints, config, metrics and a train.py.

The metrics CSV has one row per epoch (the csv module: importing pandas would add a third of a
second to the server's start, bench/server_light.py). `train.py` is
`app/exports/standalone_train.py` copied as text: plain PyTorch that rebuilds the run from
`config.json`.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

from sqlalchemy.orm import Session

from app.files import RunFiles
from app.storage import checkpoint_rows, metrics
from app.storage.tables import Checkpoint, Run
from trainer.checkpoints.store import MODEL_FILE, OPTIMIZER_FILE

TRAIN_SCRIPT = Path(__file__).with_name("standalone_train.py")
# The epoch row as the API shows it (`EpochPublic`, less its `metrics` object, which becomes one
# column per metric name after these); a test checks the two agree.
EPOCH_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
    "lrs",
)


def metrics_csv(session: Session, run_id: int) -> str:
    """The run's epoch rows as CSV text with a header, one row per epoch: the columns of
    EPOCH_COLUMNS, then one per named metric they do not hold already (e.g. `val_f1_macro`), in
    the order the epochs name them; a metric an epoch lacks is an empty cell."""
    rows = [
        ({column: getattr(row, column) for column in EPOCH_COLUMNS}, metrics.named_metrics(row))
        for row in metrics.read_epochs(session, run_id)
    ]
    names = dict.fromkeys(name for _, named in rows for name in named if name not in EPOCH_COLUMNS)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=[*EPOCH_COLUMNS, *names], lineterminator="\n")
    writer.writeheader()
    for columns, named in rows:
        writer.writerow({**columns, **{name: named.get(name) for name in names}})
    return text.getvalue()


def run_record(run: Run) -> dict:
    """What the bundle keeps of the run beside its config: its labels, notes and how it ended."""
    return {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "epoch": run.epoch,
        "notes": run.notes,
        "tags": list(run.tags or []),
        "stop_reason": run.stop_reason,
        "best_epoch": run.best_epoch,
    }


def build_bundle(session: Session, run: Run, files: RunFiles) -> bytes:
    """The zip's bytes. Checkpoint files are read from the store, only from inside the run's
    checkpoints (NotFoundError when a recorded one is gone)."""
    buffer = io.BytesIO()
    picked = checkpoint_rows.last_and_best_checkpoints(
        checkpoint_rows.read_checkpoints(session, run.id),
        run.best_epoch,
        run.monitor,
        run.monitor_mode,
    )
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(run.config, indent=2) + "\n")
        archive.writestr("run.json", json.dumps(run_record(run), indent=2) + "\n")
        archive.writestr("metrics.csv", metrics_csv(session, run.id))
        archive.write(TRAIN_SCRIPT, "train.py")
        archive.writestr("README.txt", _readme(run, picked))
        for role, row in picked.items():
            for name in (MODEL_FILE, OPTIMIZER_FILE):
                stored = files.checkpoint_file(run.id, row.path, name)
                with files.open_file(stored) as source:
                    with archive.open(f"checkpoints/{role}/{name}", "w") as target:
                        shutil.copyfileobj(source, target, 1 << 20)
    return buffer.getvalue()


def _readme(run: Run, picked: dict[str, Checkpoint]) -> str:
    lines = [
        f"torchdash run #{run.id} ({run.name}), status {run.status}, epoch {run.epoch}.",
        "",
        "config.json    the run config",
        "run.json       the run's notes, tags and how it ended",
        "metrics.csv    one row per epoch",
        "train.py       plain PyTorch; `python train.py` reproduces the run from config.json",
    ]
    for role, row in picked.items():
        state = "" if row.complete else f", partial after {row.batches_done} batches"
        lines.append(f"checkpoints/{role}/  model.pt and optimizer.pt of epoch {row.epoch}{state}")
    return "\n".join(lines) + "\n"
