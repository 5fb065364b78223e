"""`evaluate_checkpoint` on the trainer alone: it predicts as the run's validation did (a one-output
binary BCE run included, whose class is the sign of its logit)."""

from __future__ import annotations

from pathlib import Path

from tests.support.image_files import write_image_folder
from trainer.checkpoints.store import latest_checkpoint
from trainer.config import RunConfig
from trainer.evaluation import evaluate_checkpoint
from trainer.loop import fit


def test_a_binary_bce_run_is_evaluated_with_its_one_output(tmp_path: Path) -> None:
    # One output and 0/1 targets: the prediction is the logit's sign, as in training's accuracy.
    root = write_image_folder(tmp_path / "two", classes=("cat", "dog"), per_class=12, size=8)
    config = RunConfig.model_validate(
        {
            "data": {"kind": "imagefolder", "train_dir": str(root), "val_fraction": 0.5},
            "model": {"kind": "mlp", "hidden_sizes": [16]},
            "loss": {"kind": "bce_with_logits", "targets": "binary"},
            "optimizer": {"kind": "adam", "lr": 0.01},
            "batch_size": 4,
            "max_epochs": 2,
            "device": "cpu",
        }
    )
    history = fit(config, checkpoint_dir=tmp_path / "checkpoints").history
    checkpoint = latest_checkpoint(tmp_path / "checkpoints")
    assert checkpoint is not None

    evaluation = evaluate_checkpoint(config, checkpoint.path, checkpoint.epoch)
    assert evaluation.task == "classification" and evaluation.class_names == ["cat", "dog"]
    confusion = evaluation.confusion
    assert sum(map(sum, confusion)) == 12  # half of 24 images
    accuracy = history[checkpoint.epoch - 1].val_accuracy
    assert accuracy is not None
    assert abs((confusion[0][0] + confusion[1][1]) / 12 - accuracy) < 1e-6
    for example in evaluation.misclassified:  # RGB images: 8 x 8 x 3 pixels, no values
        assert len(example["image"]) == 8 and len(example["image"][0][0]) == 3
        assert example["values"] is None
