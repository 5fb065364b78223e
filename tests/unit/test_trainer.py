"""The trainer on its own: accuracy, exact resume, checkpoints on disk.

Its command line, run as a process, is in tests/system/test_trainer_cli.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.training import StopAfter, assert_same_weights, weights
from trainer.checkpoints.store import CheckpointError, latest_checkpoint, load_checkpoint
from trainer.config import RunConfig
from trainer.loop import fit


def tiny(**changes) -> RunConfig:
    base = {
        "model": {"kind": "mlp", "hidden_sizes": [32], "dropout": 0.2},
        "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9},
        "batch_size": 64,
        "max_epochs": 4,
        "device": "cpu",
        "seed": 3,
    }
    return RunConfig.model_validate({**base, **changes})


def test_default_run_reaches_90_percent_on_digits() -> None:
    result = fit(RunConfig(device="cpu"))
    assert len(result.history) == 10
    assert result.history[-1].val_accuracy >= 0.90


def test_four_epochs_equal_two_plus_resumed_two(tmp_path: Path) -> None:
    straight = fit(tiny(), checkpoint_dir=tmp_path / "straight")
    fit(tiny(max_epochs=2), checkpoint_dir=tmp_path / "split")
    checkpoint = latest_checkpoint(tmp_path / "split")
    assert checkpoint is not None and checkpoint.epoch == 2
    resumed = fit(tiny(), checkpoint_dir=tmp_path / "split", resume_from=checkpoint.path)
    assert [r.epoch for r in resumed.history] == [3, 4]
    assert_same_weights(weights(straight), weights(resumed))
    assert resumed.history[-1].val_loss == straight.history[-1].val_loss


def test_stop_mid_epoch_saves_a_partial_checkpoint_and_resume_is_exact(tmp_path: Path) -> None:
    straight = fit(tiny(report_every_steps=1), checkpoint_dir=tmp_path / "straight")
    stopper = StopAfter(steps=30)  # epoch 2, batch 7 of 23
    stopped = fit(
        tiny(report_every_steps=1),
        stopper,
        checkpoint_dir=tmp_path / "split",
        should_stop=stopper,
    )
    assert stopped.stopped and stopped.progress.epoch == 1
    checkpoint = latest_checkpoint(tmp_path / "split")
    assert checkpoint is not None and (checkpoint.epoch, checkpoint.complete) == (2, False)
    state = load_checkpoint(checkpoint.path)["state"]
    assert state["progress"]["batches_done"] == 7 and state["progress"]["step"] == 30

    resumed = fit(tiny(), checkpoint_dir=tmp_path / "split", resume_from=checkpoint.path)
    assert [r.epoch for r in resumed.history] == [2, 3, 4]
    assert_same_weights(weights(straight), weights(resumed))
    # The epoch that was cut in two reports the same mean loss as the straight one.
    assert resumed.history[0].train_loss == pytest.approx(straight.history[1].train_loss)
    # The partial checkpoint gave way to the complete one of its epoch.
    names = sorted(p.name for p in (tmp_path / "split").iterdir())
    assert names == ["epoch-0001", "epoch-0002", "epoch-0003", "epoch-0004"]


def test_truncated_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    fit(tiny(max_epochs=1), checkpoint_dir=tmp_path)
    checkpoint = latest_checkpoint(tmp_path)
    model_file = checkpoint.path / "model.pt"
    model_file.write_bytes(model_file.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="model.pt"):
        fit(tiny(), resume_from=checkpoint.path)
