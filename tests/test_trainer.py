"""The trainer on its own: accuracy, exact resume, checkpoints on disk, the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from trainer.callbacks import Callbacks, StepReport
from trainer.checkpoints.store import CheckpointError, latest_checkpoint, load_checkpoint
from trainer.config import RunConfig
from trainer.loop import fit

ROOT = Path(__file__).resolve().parent.parent


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


def weights(result) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in result.model.state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


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


class StopAfter(Callbacks):
    """Asks the loop to stop once `steps` steps were reported."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.seen = 0

    def on_step(self, report: StepReport) -> None:
        self.seen = report.step

    def __call__(self) -> bool:
        return self.seen >= self.steps


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


def test_command_line_trains_and_resumes(tmp_path: Path) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"max_epochs": 2, "device": "cpu", "batch_size": 64}))
    command = [sys.executable, "-m", "trainer", "--config", str(config)]
    out = subprocess.run(
        [*command, "--checkpoints", str(tmp_path / "ckpt")],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "epoch   1" in out and "epoch   2" in out
    config.write_text(json.dumps({"max_epochs": 3, "device": "cpu", "batch_size": 64}))
    out = subprocess.run(
        [*command, "--checkpoints", str(tmp_path / "ckpt"), "--resume"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "epoch   3" in out and "epoch   2" not in out

    config.write_text(json.dumps({"batch_size": 0}))
    bad = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "batch_size" in bad.stderr
