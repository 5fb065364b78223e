"""Image folders checked before a run starts: unreadable images are counted and skipped.

Every file is opened and decoded once, so a truncated or corrupt image, or a decompression bomb
(a small file that claims billions of pixels), is found here, named in the run's log, and left
out, instead of killing the worker in the middle of an epoch. A tree with fewer than two classes
is an error.

With a disk cache folder, a folder's check is kept under the fingerprint of its files (every
path, size and modification time): the next run of the unchanged folder skips the same images
without opening one, as its decoded tensors come from that cache too.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from trainer.data.cache_store import CacheStore
from trainer.data.data_identity import folder_fingerprint

# Pillow's own bomb guard warns above 89 M pixels and refuses twice that; a training image past
# this many pixels is refused here too.
MAX_IMAGE_PIXELS = 64_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclass
class ImageCheck:
    """The `is_valid_file` of an ImageFolder: decodes each image, counts what it skips."""

    skipped: list[str] = field(default_factory=list)
    # A kept check of the same files: each skipped path (relative to `folder`) and its reason;
    # no image is opened.
    remembered: dict[str, str] | None = None
    folder: str = ""
    # Where this check is kept once done (None: no disk cache folder).
    keep_at: Path | None = None

    @classmethod
    def of_folder(cls, folder: Path) -> ImageCheck:
        """The check of `folder`: the kept one when its files are unchanged, else a fresh one."""
        store = CacheStore.from_environment()
        if store is None:
            return cls()
        text = f"{folder.resolve()}:{folder_fingerprint(folder)}"
        keep_at = store.checks_dir / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"
        try:
            remembered = json.loads(keep_at.read_text())["skipped"]
            return cls(remembered=dict(remembered), folder=str(folder))
        except (OSError, ValueError, KeyError, TypeError):
            return cls(keep_at=keep_at, folder=str(folder))

    def __call__(self, path: str) -> bool:
        if not path.lower().endswith(IMAGE_SUFFIXES):
            return False
        if self.remembered is not None:
            relative = self._relative(path)
            if relative in self.remembered:
                self.skipped.append(self.remembered[relative])
                return False
            return True
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    width, height = image.size
                    if width * height > MAX_IMAGE_PIXELS:
                        raise ValueError(f"{width}x{height} pixels is past the limit")
                    image.load()  # decodes every byte: a truncated file fails here
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as error:  # fmt: skip
            self.skipped.append(f"{path}: {error}")
            return False
        return True

    def report(self, folder: str) -> None:
        """Print the skipped images (the worker's output is the run's log)."""
        if self.skipped:
            print(f"warning: skipped {len(self.skipped)} unreadable image(s) in '{folder}':")
            for line in self.skipped:
                print(f"  {line}")
        if self.keep_at is not None:
            self._keep(self.keep_at)

    def _relative(self, path: str) -> str:
        # ImageFolder joins its root (the string given) with the class and file names: cutting
        # the prefix is exact, and os.path.relpath took 100 µs a file (6 s for 60,000).
        prefix = self.folder.rstrip(os.sep) + os.sep
        return (
            path[len(prefix) :] if path.startswith(prefix) else os.path.relpath(path, self.folder)
        )

    def _keep(self, path: Path) -> None:
        """Write the check for the next run; a folder that cannot take it only costs a check."""
        skipped = {self._relative(line.split(": ", 1)[0]): line for line in self.skipped}
        temp = path.with_name(f"{path.name}.{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps({"skipped": skipped}))
            os.replace(temp, path)
        except OSError:
            temp.unlink(missing_ok=True)


def require_two_classes(classes: list[str], folder: str | Path) -> None:
    if len(classes) < 2:
        raise ValueError(
            f"image folder '{folder}' has {len(classes)} class folder(s) {classes}; "
            "a classifier needs at least 2"
        )
