"""Small text corpora written by the tests: sentiment-like sentences whose words decide the label,
so a sequence model learns them in a few epochs."""

from __future__ import annotations

import csv
import random
from pathlib import Path

POSITIVE = ("great", "lovely", "superb", "happy", "brilliant")
NEGATIVE = ("awful", "bad", "sad", "poor", "terrible")
FILLER = ("the", "movie", "was", "a", "plot", "and", "actors", "really", "quite", "story")
# Every column a text run of any task reads: the label, two 0/1 label columns, a number.
COLUMNS = ("text", "label", "positive", "negative", "score")

# The base of a text run: a task's loss, label column(s) and model are merged in by each test.
TEXT_DATA = {"kind": "text", "max_length": 12}


def sentences(count: int, seed: int) -> list[dict[str, str]]:
    """`count` rows: a sentence of filler words and two sentiment words, and its targets."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        good = rng.random() < 0.5
        words = [rng.choice(FILLER) for _ in range(6)]
        words += [rng.choice(POSITIVE if good else NEGATIVE) for _ in range(2)]
        rng.shuffle(words)
        rows.append(
            {
                "text": " ".join(words).capitalize() + ".",
                "label": "pos" if good else "neg",
                "positive": str(int(good)),
                "negative": str(int(not good)),
                "score": "1.0" if good else "-1.0",
            }
        )
    return rows


def write_rows(path: Path, rows: list[dict[str, str]], delimiter: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_corpus(folder: Path, train: int = 160, val: int = 40) -> tuple[Path, Path]:
    """A training and a validation CSV of `sentences`, in `folder`."""
    return (
        write_rows(folder / "train.csv", sentences(train, seed=0)),
        write_rows(folder / "val.csv", sentences(val, seed=1)),
    )
