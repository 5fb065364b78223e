"""Decode-once training and the GPU switches: same batches, same weights, clear refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.support.image_files import write_image_folder
from tests.support.training import StopAfter, assert_same_weights, small_run_config, weights
from trainer.callbacks import Callbacks, StepReport
from trainer.checkpoints.store import latest_checkpoint
from trainer.config import RunConfig, compatibility_problems
from trainer.loop import FitResult, fit


def folder_config(root: Path, **changes) -> RunConfig:
    return small_run_config(
        {"kind": "imagefolder", "train_dir": str(root), "grayscale": True}, **changes
    )


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("cache") / "set", ("a", "b", "c"), 20, 12)


class StepLosses(Callbacks):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_step(self, report: StepReport) -> None:
        self.losses.append(report.loss)


def metrics(result: FitResult) -> list[tuple[float, ...]]:
    return [(r.train_loss, r.train_accuracy, r.val_loss, r.val_accuracy) for r in result.history]


def test_cached_run_trains_the_same_weights_as_the_dataloader(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cached_steps, loaded_steps = StepLosses(), StepLosses()
    cached = fit(folder_config(image_root), cached_steps)
    assert "cache: on" in capsys.readouterr().out
    loaded = fit(folder_config(image_root, cache_budget_mb=0), loaded_steps)
    assert "cache: off: cache_budget_mb is 0" in capsys.readouterr().out
    assert_same_weights(weights(cached), weights(loaded))
    assert len(cached_steps.losses) == 12
    assert cached_steps.losses == loaded_steps.losses
    assert metrics(cached) == metrics(loaded)


def test_cached_run_stopped_mid_epoch_resumes_exactly(image_root: Path, tmp_path: Path) -> None:
    straight = fit(folder_config(image_root, cache_budget_mb=0))  # 6 batches per epoch
    stopper = StopAfter(steps=8)  # epoch 2, batch 2
    stopped = fit(folder_config(image_root), stopper, checkpoint_dir=tmp_path, should_stop=stopper)
    assert stopped.stopped
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and (checkpoint.epoch, checkpoint.complete) == (2, False)
    resumed = fit(folder_config(image_root), checkpoint_dir=tmp_path, resume_from=checkpoint.path)
    assert_same_weights(weights(straight), weights(resumed))
    assert resumed.history[-1].train_loss == pytest.approx(straight.history[-1].train_loss)


def test_small_budgets_keep_the_dataloader(
    image_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {"kind": "imagefolder", "train_dir": str(image_root), "image_size": 512}
    fit(folder_config(image_root, data=data, max_epochs=1, cache_budget_mb=1, batch_size=32))
    assert "do not fit cache_budget_mb 1" in capsys.readouterr().out


def test_amp_is_refused_on_an_explicit_cpu_and_ignored_on_auto(
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = RunConfig(device="cpu", amp=True)
    [(location, why)] = compatibility_problems(config)
    assert location == ("amp",) and "CUDA only" in why
    with pytest.raises(ValueError, match="amp: automatic mixed precision runs on CUDA only"):
        fit(config)
    if torch.cuda.is_available():
        pytest.skip("auto resolves to CUDA here: amp is used, not ignored")
    result = fit(RunConfig(device="auto", amp=True, max_epochs=1, batch_size=64))
    assert "amp: ignored on cpu" in capsys.readouterr().out
    assert result.history[0].val_accuracy > 0.3


def test_channels_last_cnn_trains(image_root: Path) -> None:
    model = {"kind": "cnn", "channels": [4, 8]}
    data = {"kind": "imagefolder", "train_dir": str(image_root)}  # three channels
    result = fit(folder_config(image_root, model=model, data=data, channels_last=True))
    conv = result.model.body[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert result.history[-1].train_loss < result.history[0].train_loss


@pytest.mark.skipif(
    not os.environ.get("TORCHDASH_SLOW_TESTS"),
    reason="torch.compile builds C++ kernels: about 30 s on a 2-core CPU; "
    "set TORCHDASH_SLOW_TESTS=1 to run it",
)
def test_compiled_model_trains_and_checkpoints_plain_keys(tmp_path: Path) -> None:
    config = RunConfig.model_validate(
        {"device": "cpu", "max_epochs": 1, "batch_size": 64, "compile": True}
    )
    result = fit(config, checkpoint_dir=tmp_path)
    assert result.history[0].val_accuracy > 0.3
    assert not any(key.startswith("_orig_mod") for key in result.model.state_dict())
