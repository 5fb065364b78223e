"""A run's bundle: one zip that rebuilds the run, with its checkpoints, config and metrics.

It ships the trainer itself (the `trainer` package's source), the plugin files the run uses,
`requirements.txt`, and `train.py` (`app/exports/bundle_train.py` copied as text: the server never
imports it) that calls `trainer.loop.fit` on `config.json`. What it holds and what it cannot do
is written into its README.txt (`_readme`). The metrics CSV has one row per epoch (the csv module:
importing pandas would add a third of a second to the server's start, bench/server_light.py).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.errors import ConflictError, NotFoundError
from app.exports import rebuild
from app.files import RunFiles
from app.files.run_files import StoredFile
from app.storage import checkpoint_rows, metrics
from app.storage.tables import Checkpoint, Run, Upload
from trainer.checkpoints.store import MODEL_FILE, OPTIMIZER_FILE, STATE_FILE
from trainer.config import RunConfig

TRAIN_SCRIPT = Path(__file__).with_name("bundle_train.py")
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
        "task": run.task,
        "monitor": run.monitor,
        "monitor_mode": run.monitor_mode,
        "best_metric": run.best_metric,
        "best_epoch": run.best_epoch,
    }


def build_bundle(session: Session, run: Run, files: RunFiles, plugins_dir: Path) -> bytes:
    """The zip's bytes. Checkpoint files are read from the store, only from inside the run's
    checkpoints (NotFoundError when a recorded one is gone); a run the bundle cannot rebuild is
    a ConflictError saying why."""
    try:
        RunConfig.model_validate(run.config)
    except ValidationError as error:
        raise ConflictError(
            f"the bundle cannot rebuild run {run.id}: its stored config is not a valid run "
            f"config here: {error}"
        ) from error
    trainer_files = rebuild.trainer_sources()
    plugin_files = rebuild.plugin_sources(plugins_dir, run.config)
    picked = checkpoint_rows.last_and_best_checkpoints(
        checkpoint_rows.read_checkpoints(session, run.id),
        run.best_epoch,
        run.monitor,
        run.monitor_mode,
    )
    start = _start_point(session, run, files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(run.config, indent=2) + "\n")
        archive.writestr("run.json", json.dumps(run_record(run), indent=2) + "\n")
        archive.writestr("metrics.csv", metrics_csv(session, run.id))
        archive.write(TRAIN_SCRIPT, "train.py")
        for source in (*trainer_files, *plugin_files):
            archive.writestr(source.name, source.text)
        required = rebuild.requirements(run.config, plugin_files)
        archive.writestr("requirements.txt", "\n".join(required) + "\n")
        archive.writestr("README.txt", _readme(run, picked, start, bool(plugin_files)))
        for role, row in picked.items():
            _copy_checkpoint(archive, files, run.id, row.path, f"checkpoints/{role}")
        if start.parent_checkpoint is not None:
            parent_id, location = start.parent_checkpoint
            _copy_checkpoint(archive, files, parent_id, location, FORK_START)
        if start.upload is not None:
            with files.open_file(start.upload) as upload:
                with archive.open(UPLOAD_START, "w") as target:
                    shutil.copyfileobj(upload, target, 1 << 20)
        if start.record:
            archive.writestr("start.json", json.dumps(start.record, indent=2) + "\n")
    return buffer.getvalue()


# Where a run that did not start from scratch starts, inside the bundle: a fork's parent
# checkpoint (model, optimizer and training state) and an uploaded checkpoint's weights.
FORK_START = "checkpoints/fork"
UPLOAD_START = "checkpoints/upload/model.pt"


@dataclass(frozen=True)
class _Start:
    """Where the run started, and what of it the bundle ships (start.json records it)."""

    record: dict[str, Any]  # start.json: what train.py starts from without --init / --resume
    parent_checkpoint: tuple[int, str] | None = None  # (run id, stored location) to ship
    upload: StoredFile | None = None


def _start_point(session: Session, run: Run, files: RunFiles) -> _Start:
    """A fork starts from its parent's checkpoint, an upload's run from its weights; when that
    file is gone, start.json says so and train.py refuses to start without --init/--resume."""
    if run.fork_epoch is not None:
        parent = run.parent_run_id  # None once the parent run was deleted
        what = f"run {parent or '(deleted)'}'s checkpoint of epoch {run.fork_epoch}"
        row = None
        if parent is not None:
            row = checkpoint_rows.find_checkpoint(session, parent, run.fork_epoch)
        try:
            if parent is None or row is None:
                raise NotFoundError(what)
            for name in CHECKPOINT_FILES:  # every file there before the zip is started
                files.checkpoint_file(parent, row.path, name)
        except NotFoundError:
            return _Start({"missing": f"this run is a fork of {what}, which is gone"})
        return _Start(
            {"resume_from": FORK_START, "fork": True, "what": what},
            parent_checkpoint=(parent, row.path),
        )
    if run.upload_id is not None:
        upload = session.get(Upload, run.upload_id)
        what = f"the uploaded checkpoint {upload.filename!r}" if upload else "an upload"
        try:
            if upload is None:
                raise NotFoundError(what)
            stored = files.upload_file(upload.path)
        except NotFoundError:
            return _Start({"missing": f"this run started from {what}, which is gone"})
        return _Start({"init_weights": UPLOAD_START, "what": what}, upload=stored)
    return _Start({})


CHECKPOINT_FILES = (MODEL_FILE, OPTIMIZER_FILE, STATE_FILE)


def _copy_checkpoint(
    archive: zipfile.ZipFile, files: RunFiles, run_id: int, location: str, folder: str
) -> None:
    """A stored checkpoint's three files into `folder` of the zip (state.pt lets --resume go on)."""
    for name in CHECKPOINT_FILES:
        stored = files.checkpoint_file(run_id, location, name)
        with files.open_file(stored) as source:
            with archive.open(f"{folder}/{name}", "w") as target:
                shutil.copyfileobj(source, target, 1 << 20)


def _readme(run: Run, picked: dict[str, Checkpoint], start: _Start, plugins: bool) -> str:
    lines = [
        f"torchdash run #{run.id} ({run.name}), status {run.status}, epoch {run.epoch}.",
        "",
        "config.json        the run config",
        "run.json           the run's notes, tags and how it ended",
        "metrics.csv        one row per epoch",
        "train.py           rebuilds the run: trainer.loop.fit on config.json",
        "trainer/           the torchdash trainer (its source, as the server has it)",
        "requirements.txt   what the trainer imports for this run, at the server's versions",
    ]
    if plugins:
        lines.append("plugins/           the plugins folder's .py files when the bundle was made")
    for role, row in picked.items():
        state = "" if row.complete else f", partial after {row.batches_done} batches"
        files = "model.pt, optimizer.pt, state.pt"
        lines.append(f"checkpoints/{role}/  {files} of epoch {row.epoch}{state}")
    if start.parent_checkpoint is not None:
        lines.append(f"{FORK_START}/  where this fork starts: {start.record['what']}")
    if start.upload is not None:
        lines.append(f"{UPLOAD_START}  the weights this run started from: {start.record['what']}")
    if "missing" in start.record:
        missing = start.record["missing"]
        lines.append(f"start.json         {missing}: train.py needs --init or --resume")
    return "\n".join(lines) + "\n\n" + README_USAGE


README_USAGE = """\
Usage (Python 3.11+, in this folder):

    pip install -r requirements.txt
    python train.py                        # every epoch of the run, on its device
    python train.py --epochs 1 --device cpu
    python train.py --init checkpoints/best/model.pt   # start from the saved weights
    python train.py --resume checkpoints/last          # go on from the last checkpoint
    python train.py --data-root /their/data=/my/data   # the data lives elsewhere here

train.py imports the trainer of this folder, never an installed torchdash. It prints one JSON
line per epoch (train_loss, val_loss and the other metrics) and writes its checkpoints under
output/. --epochs N sets the run's max_epochs (a total, counted from epoch 1). It trains what the
form can start: every data kind, model, loss, optimizer, scheduler, transform, parameter group,
early stopping and task, the plugins above, and DDP (`processes` > 1: it starts the other ranks
as the worker does; --processes 1 trains in one process instead). On the run's device kind and
the pinned versions, with the same seed, it gives the run's losses.

What it does not ship, and refuses at start:
- data: digits come with scikit-learn; any other data set must be on this machine at the path
  config.json names (or under --data-root's new place); a missing path stops train.py, naming
  the field. A plugin Dataset reads what its own arguments name.
- a start point that was gone when the bundle was made (a fork's parent checkpoint, an uploaded
  checkpoint): start.json says so, and train.py asks for --init or --resume.
"""
