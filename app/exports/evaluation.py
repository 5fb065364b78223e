"""The best epoch's evaluation, saved by the worker as JSON (trainer/evaluation: what it holds per
task); served as it is, with thumbnails of misclassified images rendered with Pillow."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from app.errors import NotFoundError

if TYPE_CHECKING:  # the server never imports torch; only the worker builds an Evaluation
    from trainer.evaluation import Evaluation

THUMBNAIL_SIDE = 96


def encode_evaluation(evaluation: Evaluation) -> bytes:
    """The evaluation as the JSON the worker stores next to the run's checkpoints
    (`RunFiles.write_evaluation`, atomically)."""
    return json.dumps(asdict(evaluation)).encode()


def decode_evaluation(data: bytes | None, run_id: int) -> dict[str, Any]:
    """The stored evaluation (`RunFiles.read_evaluation`); NotFoundError when there is none."""
    if data is None:
        raise NotFoundError(f"run {run_id} has no evaluation yet (it is made when a run ends)")
    return json.loads(data)


def evaluation_summary(evaluation: dict[str, Any], run_id: int) -> dict[str, Any]:
    """The evaluation for the page and the API: every task's fields (empty for the other tasks),
    per-class accuracy added, pixels swapped for thumbnail URLs."""
    confusion = evaluation["confusion"]
    per_class = [row[i] / sum(row) if sum(row) else None for i, row in enumerate(confusion)]
    examples = [
        {
            "index": item["index"],
            "true": item["true"],
            "predicted": item["predicted"],
            "thumbnail_url": (
                f"/api/runs/{run_id}/evaluation/misclassified/{number}.png"
                if item["image"] is not None
                else None
            ),
            "values": item.get("values"),
            "text": item.get("text"),
        }
        for number, item in enumerate(evaluation["misclassified"])
    ]
    return {
        # A file saved before tasks existed is a classification's.
        "task": evaluation.get("task", "classification"),
        "epoch": evaluation["epoch"],
        "class_names": evaluation["class_names"],
        "confusion": confusion,
        "per_class_accuracy": per_class,
        "misclassified": examples,
        "labels": evaluation.get("labels", []),
        "averages": evaluation.get("averages") or None,
        "targets": evaluation.get("targets", []),
    }


def render_thumbnail(evaluation: dict[str, Any], number: int, run_id: int) -> bytes:
    """The misclassified image `number` as a PNG, scaled up with sharp pixels."""
    examples = evaluation["misclassified"]
    if not 0 <= number < len(examples) or examples[number]["image"] is None:
        raise NotFoundError(f"run {run_id} has no misclassified image {number}")
    pixels = examples[number]["image"]
    height, width = len(pixels), len(pixels[0])
    grayscale = not isinstance(pixels[0][0], list)
    flat = bytes(
        value for row in pixels for pixel in row for value in ((pixel,) if grayscale else pixel)
    )
    from PIL import Image  # here: only a request for an example's image needs Pillow

    image = Image.frombytes("L" if grayscale else "RGB", (width, height), flat)
    scale = max(1, THUMBNAIL_SIDE // max(width, height))
    image = image.resize((width * scale, height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
