"""What a data set's decoded tensors depend on, as text: the files read (path, size,
modification time of each) and the config fields that pick and shape the items. Two runs whose
identity is equal decode to the same tensors; a file written since changes it. Torch-free.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from trainer.config.data import (
    CsvImagesData,
    DataConfig,
    DigitsData,
    ImageFolderData,
    TorchvisionData,
)

TRANSFORM_FIELDS = {"train_transforms", "val_transforms"}


# The fingerprint an image folder's check just took (trainer/data/image_checks.py), handed to
# the cache key once (popped), so one run does not walk the folder twice. Only the imagefolder
# kind takes it: its setup always checks the folder right before, so the value is this run's.
_taken: dict[str, str] = {}


def folder_fingerprint(folder: Path) -> str:
    """A digest of every file under `folder`: relative path, size and modification time in ns.

    A stat per file, no read: 60,000 files take about a second on a busy 2-core machine.
    """
    digest = hashlib.sha256()
    root = str(folder.resolve())
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(os.path.join(root, relative)) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            name = f"{relative}/{entry.name}" if relative else entry.name
            if entry.is_dir():
                pending.append(name)
                continue
            stat = entry.stat()
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    fingerprint = digest.hexdigest()
    _taken[root] = fingerprint
    return fingerprint


def _fingerprint(folder: Path) -> str:
    """The folder's fingerprint: the one this run's image check took, else a fresh one."""
    return _taken.pop(str(folder.resolve()), None) or folder_fingerprint(folder)


def file_fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def source_identity(data: DataConfig) -> str | None:
    """The identity of the items `data` reads, before its transform steps; None for a kind
    whose files torchdash cannot see (a plugin Dataset) or that is already tensors when read
    (a table, a text: encoded whole, nothing to decode)."""
    fields = data.model_dump(mode="json", exclude=TRANSFORM_FIELDS)
    files: list[str]
    if isinstance(data, DigitsData):
        from sklearn import __version__ as sklearn_version

        files = [f"digits embedded in scikit-learn {sklearn_version}"]
    elif isinstance(data, ImageFolderData):
        folders = [data.train_dir, *([data.val_dir] if data.val_dir else [])]
        files = [f"{Path(folder).resolve()}:{_fingerprint(Path(folder))}" for folder in folders]
    elif isinstance(data, CsvImagesData):
        files = [
            f"{Path(data.image_dir).resolve()}:{folder_fingerprint(Path(data.image_dir))}",
            *(
                file_fingerprint(Path(path))
                for path in (data.labels_csv, data.train_list, data.val_list)
            ),
        ]
    elif isinstance(data, TorchvisionData):
        files = [f"{Path(data.root).resolve()}:{folder_fingerprint(Path(data.root))}"]
    else:
        return None
    return json.dumps({"data": fields, "files": files}, sort_keys=True)


def describe(data: DataConfig) -> str:
    """A short name of the data set for `torchdash cache`'s listing."""
    if isinstance(data, ImageFolderData):
        return f"imagefolder {data.train_dir}"
    if isinstance(data, CsvImagesData):
        return f"csv_images {data.image_dir}"
    if isinstance(data, TorchvisionData):
        return f"torchvision {data.name} {data.root}"
    return data.kind
