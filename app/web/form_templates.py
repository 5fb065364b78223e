"""The form's templates: named starting points for a new run, each a complete run config.

Only templates whose data is on this machine are offered as usable: the embedded `digits` data
always is; the ImageFolder ones need the demo tree `python -m app prepare-data` writes
(trainer/data/demo.py) under a data root, and are listed with that reason when it is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer.config import RunConfig
from trainer.data.demo import DEMO_FOLDER

PREPARE_HINT = "needs the demo ImageFolder: run `python -m app prepare-data` (`make run` does)"


def _digits_mlp() -> dict[str, Any]:
    return {"name": "digits-mlp", "data": {"kind": "digits"}, "model": {"kind": "mlp"}}


def _finetune(_: Path | None) -> dict[str, Any]:
    # parameter names are body.* and head.* (trainer/models/builtin.py's Classifier)
    return {
        "name": "digits-finetune",
        "data": {"kind": "digits"},
        "model": {"kind": "mlp", "hidden_sizes": [256, 128]},
        "optimizer": {"kind": "adam", "lr": 0.0003},
        "param_groups": [{"match": "head.*", "lr": 0.003}],
    }


def _imagefolder_cnn(tree: Path | None) -> dict[str, Any]:
    return {
        "name": "imagefolder-cnn",
        "data": {
            "kind": "imagefolder",
            "train_dir": str(tree / "train") if tree else "",
            "val_dir": str(tree / "val") if tree else None,
            "grayscale": True,
        },
        "model": {"kind": "cnn", "channels": [16, 32]},
        "batch_size": 32,
    }


def _cifar_resnet(tree: Path | None) -> dict[str, Any]:
    # The digits PNGs read as RGB and resized to 32x32: the shape of CIFAR-10 (3x32x32).
    return {
        "name": "cifar-shaped-resnet18",
        "data": {
            "kind": "imagefolder",
            "train_dir": str(tree / "train") if tree else "",
            "val_dir": str(tree / "val") if tree else None,
            "image_size": 32,
            "train_transforms": [{"kind": "random_crop", "size": 32, "padding": 4}],
        },
        "model": {"kind": "torchvision", "architecture": "resnet18"},
        "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0005},
        "scheduler": {"kind": "cosine"},
        "batch_size": 64,
        "max_epochs": 5,
    }


def demo_tree(roots: list[Path]) -> Path | None:
    """The demo ImageFolder under the first data root that has one."""
    for root in roots:
        tree = root / DEMO_FOLDER
        if (tree / "train").is_dir() and (tree / "val").is_dir():
            return tree
    return None


def form_templates(roots: list[Path]) -> list[dict[str, Any]]:
    """[{id, title, description, config, available, reason}] in menu order."""
    tree = demo_tree(roots)
    entries = [
        ("digits-mlp", "Digits MLP", "The embedded 8x8 digits, a one-layer MLP, Adam.",
         lambda _: _digits_mlp(), True),
        ("imagefolder-cnn", "ImageFolder CNN", "A small CNN on an ImageFolder tree (the demo "
         "digits as PNG files; point train_dir at your own).", _imagefolder_cnn, False),
        ("cifar-resnet18", "CIFAR-shaped ResNet-18", "ResNet-18 with SGD, momentum and a cosine "
         "schedule on 3x32x32 images (the demo digits resized to CIFAR-10's shape).",
         _cifar_resnet, False),
        ("finetune-param-groups", "Fine-tune with parameter groups", "The head learns 10x "
         "faster than the body (param group head.*); fork a trained run's checkpoint with it "
         "to fine-tune.", _finetune, True),
    ]  # fmt: skip
    out = []
    for template_id, title, description, build, embedded in entries:
        available = embedded or tree is not None
        config = build(tree)
        if available:  # a complete, valid config with every default filled in
            config = RunConfig.model_validate(config).model_dump(mode="json")
        out.append(
            {
                "id": template_id,
                "title": title,
                "description": description,
                "config": config,
                "available": available,
                "reason": None if available else PREPARE_HINT,
            }
        )
    return out
