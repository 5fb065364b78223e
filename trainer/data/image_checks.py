"""Image folders checked before a run starts: unreadable images are counted and skipped.

Every file is opened and decoded once, so a truncated or corrupt image, or a decompression bomb
(a small file that claims billions of pixels), is found here, named in the run's log, and left
out, instead of killing the worker in the middle of an epoch. A tree with fewer than two classes
is an error.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

# Pillow's own bomb guard warns above 89 M pixels and refuses twice that; a training image past
# this many pixels is refused here too.
MAX_IMAGE_PIXELS = 64_000_000
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


@dataclass
class ImageCheck:
    """The `is_valid_file` of an ImageFolder: decodes each image, counts what it skips."""

    skipped: list[str] = field(default_factory=list)

    def __call__(self, path: str) -> bool:
        if not path.lower().endswith(IMAGE_SUFFIXES):
            return False
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


def require_two_classes(classes: list[str], folder: str | Path) -> None:
    if len(classes) < 2:
        raise ValueError(
            f"image folder '{folder}' has {len(classes)} class folder(s) {classes}; "
            "a classifier needs at least 2"
        )
