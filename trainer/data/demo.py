"""Demo data for a fresh machine: the digits written out as an ImageFolder tree of PNG files.

The embedded `digits` data set needs no files; this tree lets the ImageFolder path be tried (and
tested) on real images without a download.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEMO_FOLDER = "digits-images"


def write_digits_image_folder(root: Path, per_class: int | None = None) -> Path:
    """Write `root/digits-images/{train,val}/<digit>/<n>.png` (every 5th image to val)."""
    # Here, not at the top: the server reads DEMO_FOLDER and must not load numpy, PIL, sklearn.
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    target = root / DEMO_FOLDER
    if (target / "train").is_dir() and per_class is None:
        return target  # already prepared
    bunch = load_digits()
    counts: dict[int, int] = {}
    for index, (image, label) in enumerate(zip(bunch.images, bunch.target, strict=True)):
        label = int(label)
        if per_class is not None and counts.get(label, 0) >= per_class:
            continue
        counts[label] = counts.get(label, 0) + 1
        split = "val" if index % 5 == 0 else "train"
        folder = target / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (image * (255 / 16)).round().astype(np.uint8)
        Image.fromarray(pixels, mode="L").save(folder / f"{index:04d}.png")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path, help="a data root, e.g. var/data")
    args = parser.parse_args()
    print(f"demo ImageFolder ready at {write_digits_image_folder(args.root)}")


if __name__ == "__main__":
    main()
