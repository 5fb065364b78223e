"""Tasks and named metrics in the trainer: each epoch records every metric of its task by name,
as scikit-learn computes them on the same predictions; the run's monitored metric picks the best
epoch and drives early stopping and the plateau scheduler.

Real training on small real data: the digits, and the example plugin Datasets (diabetes for
regression, digit properties for multi-label) copied into a temporary plugins folder.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from tests.support.plugins import copy_example_plugins
from trainer.callbacks import Callbacks, CheckpointReport, EpochReport, FitStart
from trainer.checkpoints.store import latest_checkpoint, load_checkpoint, save_checkpoint
from trainer.config import RunConfig
from trainer.config.tasks import metric_names
from trainer.early_stopping import EarlyStopping
from trainer.loop import fit
from trainer.setup import setup_run


class Collect(Callbacks):
    """Keeps what the trainer reports."""

    def __init__(self) -> None:
        self.start: FitStart | None = None
        self.epochs: list[EpochReport] = []
        self.checkpoints: list[CheckpointReport] = []

    def on_fit_start(self, info: FitStart) -> None:
        self.start = info

    def on_epoch_end(self, report: EpochReport) -> None:
        self.epochs.append(report)

    def on_checkpoint(self, report: CheckpointReport) -> None:
        self.checkpoints.append(report)


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    return copy_example_plugins(tmp_path / "plugins")


def config(**changes) -> RunConfig:
    base = {
        "model": {"kind": "mlp", "hidden_sizes": [32]},
        "optimizer": {"kind": "adam", "lr": 0.01},
        "batch_size": 64,
        "max_epochs": 2,
        "device": "cpu",
        "seed": 1,
    }
    return RunConfig.model_validate({**base, **changes})


def regression(**changes) -> RunConfig:
    return config(
        **{
            "task": "regression",
            "data": {"kind": "plugin", "name": "Diabetes"},
            "model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": 16}},
            "loss": {"kind": "mse"},
            **changes,
        }
    )


def multilabel(**changes) -> RunConfig:
    return config(
        **{
            "task": "multilabel",
            "data": {"kind": "plugin", "name": "DigitProperties"},
            "loss": {"kind": "bce_with_logits"},
            **changes,
        }
    )


def val_outputs(run: RunConfig, checkpoint: Path, plugins_dir: Path | None = None):
    """The checkpoint's outputs on the whole validation split, and its targets (numpy)."""
    setup = setup_run(run, plugins_dir=plugins_dir)
    setup.model.load_state_dict(load_checkpoint(checkpoint)["model"])
    setup.model.eval()
    inputs, targets = zip(*(setup.data.val[i] for i in range(len(setup.data.val))), strict=True)
    with torch.no_grad():
        output = setup.model(torch.stack(inputs))
    return output, torch.as_tensor(np.array(targets))


def test_a_classification_epoch_records_accuracy_and_macro_f1_as_scikit_learn(
    tmp_path: Path,
) -> None:
    seen = Collect()
    result = fit(config(), seen, checkpoint_dir=tmp_path)
    last = result.history[-1]
    assert list(last.metrics) == metric_names(config())
    assert list(last.metrics) == [
        "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_f1_macro"
    ]  # fmt: skip
    assert last.metrics["val_accuracy"] == last.val_accuracy
    assert last.metrics["train_accuracy"] == last.train_accuracy
    assert (last.monitor, last.monitor_value) == ("val_accuracy", last.val_accuracy)

    output, targets = val_outputs(config(), tmp_path / "epoch-0002")
    predicted = output.argmax(1).numpy()
    # The same number as correct / total, to the last digit (not torchmetrics' float32 share).
    assert last.val_accuracy == sk.accuracy_score(targets.numpy(), predicted)
    assert last.metrics["val_f1_macro"] == pytest.approx(
        sk.f1_score(targets.numpy(), predicted, average="macro"), abs=1e-6
    )
    loss = torch.nn.functional.cross_entropy(output, targets).item()
    assert last.val_loss == pytest.approx(loss, rel=1e-5)

    assert seen.start is not None
    assert (seen.start.task, seen.start.monitor, seen.start.monitor_mode) == (
        "classification", "val_accuracy", "max"
    )  # fmt: skip
    assert seen.start.metric_names == list(last.metrics)
    assert seen.checkpoints[-1].metrics == last.metrics
    best = max(result.history, key=lambda r: r.val_accuracy)
    assert result.progress.best_metric == best.val_accuracy == result.progress.best_val_accuracy
    assert result.progress.best_metric_epoch == best.epoch


def test_a_regression_run_on_a_plugin_dataset_records_mae_rmse_r2_and_plugin_metrics(
    tmp_path: Path, plugins: Path
) -> None:
    run = regression(
        metrics=[
            {"kind": "plugin", "name": "WithinTolerance", "args": {"tolerance": 0.5}},
            {"kind": "plugin", "name": "mean_squared_error", "mode": "min"},
        ],
        monitor="val_mae",
    )
    seen = Collect()
    result = fit(run, seen, checkpoint_dir=tmp_path / "run", plugins_dir=plugins)
    assert seen.start is not None
    assert seen.start.task == "regression" and seen.start.class_names == ["progression"]
    assert (seen.start.monitor, seen.start.monitor_mode) == ("val_mae", "min")
    last = result.history[-1]
    assert list(last.metrics) == [
        "train_loss", "val_loss", "val_mae", "val_rmse", "val_r2",
        "val_WithinTolerance", "val_mean_squared_error",
    ]  # fmt: skip
    assert last.train_accuracy is None and last.val_accuracy is None
    assert (last.monitor, last.monitor_value) == ("val_mae", last.metrics["val_mae"])
    assert result.progress.best_val_accuracy is None
    assert result.progress.best_metric == min(r.metrics["val_mae"] for r in result.history)

    output, targets = val_outputs(run, tmp_path / "run" / "epoch-0002", plugins)
    predicted, truth = output[:, 0].numpy(), targets.numpy()
    assert output.shape == (len(truth), 1)  # one output for a scalar target
    values = last.metrics
    assert values["val_mae"] == pytest.approx(sk.mean_absolute_error(truth, predicted), rel=1e-5)
    assert values["val_rmse"] == pytest.approx(
        sk.root_mean_squared_error(truth, predicted), rel=1e-5
    )
    assert values["val_r2"] == pytest.approx(sk.r2_score(truth, predicted), abs=1e-5)
    assert values["val_loss"] == pytest.approx(sk.mean_squared_error(truth, predicted), rel=1e-5)
    # The user's metrics: a torchmetrics Metric and a function averaged over the samples.
    assert values["val_WithinTolerance"] == pytest.approx(
        np.mean(np.abs(predicted - truth) <= 0.5), abs=1e-6
    )
    assert values["val_mean_squared_error"] == pytest.approx(values["val_loss"], rel=1e-5)

    state = load_checkpoint(tmp_path / "run" / "epoch-0002")["state"]
    assert state["metrics"] == last.metrics
    assert state["progress"]["best_metric"] == result.progress.best_metric


def test_a_multilabel_run_records_micro_and_macro_f1_as_scikit_learn(
    tmp_path: Path, plugins: Path
) -> None:
    seen = Collect()
    result = fit(multilabel(), seen, checkpoint_dir=tmp_path, plugins_dir=plugins)
    assert seen.start is not None
    assert seen.start.class_names == ["even", "above_four", "prime", "has_loop"]
    assert (seen.start.monitor, seen.start.monitor_mode) == ("val_loss", "min")
    last = result.history[-1]
    assert list(last.metrics) == ["train_loss", "val_loss", "val_f1_micro", "val_f1_macro"]

    output, targets = val_outputs(multilabel(), tmp_path / "epoch-0002", plugins)
    predicted = (output > 0).int().numpy()  # logits: sigmoid > 0.5
    truth = targets.int().numpy()
    assert truth.shape == predicted.shape == (len(truth), 4)
    for average in ("micro", "macro"):
        expected = sk.f1_score(truth, predicted, average=average)
        assert last.metrics[f"val_f1_{average}"] == pytest.approx(expected, abs=1e-6)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(output, targets.float())
    assert last.val_loss == pytest.approx(loss.item(), rel=1e-5)


@pytest.mark.parametrize("kind", ["bce", "mse"])
def test_multilabel_bce_and_mse_take_the_float_targets_as_they_are(
    plugins: Path, kind: str
) -> None:
    run = multilabel(loss={"kind": kind}, max_epochs=1)
    setup = setup_run(run, plugins_dir=plugins)
    inputs, targets = zip(*(setup.data.train[i] for i in range(8)), strict=True)
    output, goal = setup.model(torch.stack(inputs)), torch.stack(targets)
    expected = (
        torch.nn.functional.binary_cross_entropy(torch.sigmoid(output), goal)
        if kind == "bce"
        else torch.nn.functional.mse_loss(output, goal)
    )
    assert setup.loss_fn(output, goal).item() == pytest.approx(expected.item())


def test_regression_losses_reshape_a_scalar_target_to_the_single_output(plugins: Path) -> None:
    for kind, reference in [
        ("l1", torch.nn.functional.l1_loss),
        ("smooth_l1", torch.nn.functional.smooth_l1_loss),
        ("huber", torch.nn.functional.huber_loss),
        ("mse", torch.nn.functional.mse_loss),
    ]:
        setup = setup_run(regression(loss={"kind": kind}), plugins_dir=plugins)
        inputs, targets = zip(*(setup.data.train[i] for i in range(8)), strict=True)
        output, goal = setup.model(torch.stack(inputs)), torch.stack(targets)
        assert output.shape == (8, 1) and goal.shape == (8,)
        expected = reference(output, goal[:, None]).item()
        assert setup.loss_fn(output, goal).item() == pytest.approx(expected), kind


def test_a_plugin_loss_trains_a_regression(tmp_path: Path, plugins: Path) -> None:
    run = regression(loss={"kind": "plugin", "name": "LogCoshLoss", "args": {"scale": 2.0}})
    result = fit(run, plugins_dir=plugins)
    assert result.history[-1].val_loss < result.history[0].val_loss


def test_early_stopping_follows_the_run_monitor_on_val_loss_for_a_regression(
    plugins: Path,
) -> None:
    # No epoch can improve by 100: epoch 1 is the best, and patience 2 ends the run at epoch 3.
    run = regression(max_epochs=10, early_stopping={"patience": 2, "min_delta": 100})
    result = fit(run, plugins_dir=plugins)
    assert [r.epoch for r in result.history] == [1, 2, 3]
    assert result.stop_reason is not None
    assert result.stop_reason.startswith("early stopping: val_loss did not improve by 100 for 2")
    assert result.stop_reason.endswith("at epoch 1)")


def test_early_stopping_on_val_f1_macro_for_a_classification() -> None:
    run = config(max_epochs=10, early_stopping={"monitor": "val_f1_macro", "patience": 1,
                                                "min_delta": 0.9})  # fmt: skip
    result = fit(run)
    first_f1 = result.history[0].metrics["val_f1_macro"]
    assert [r.epoch for r in result.history] == [1, 2]
    assert result.stop_reason == (
        f"early stopping: val_f1_macro did not improve by 0.9 for 1 epochs "
        f"(best {first_f1:.4g} at epoch 1)"
    )


def report(epoch: int, **metrics: float) -> EpochReport:
    return EpochReport(epoch, 0.0, None, 0.0, None, 0.001, 0.0, metrics=metrics)


def test_early_stopping_counts_in_the_metric_direction() -> None:
    from trainer.config import EarlyStoppingConfig

    patience = EarlyStoppingConfig(patience=2)
    falling, rising = [0.9, 0.5, 0.3], [0.3, 0.5, 0.9]
    for watch, values, stops in [
        (("val_loss", "min"), falling, False),
        (("val_loss", "min"), rising, True),
        (("val_f1_macro", "max"), rising, False),
        (("val_f1_macro", "max"), falling, True),
    ]:
        early = EarlyStopping(patience, watch=watch)
        for epoch, value in enumerate(values, start=1):
            early.observe(report(epoch, **{watch[0]: value}))
        assert (early.stop_reason is not None) == stops, (watch, values)
        assert early.state.best_epoch == (1 if stops else 3)


def test_the_plateau_scheduler_follows_the_run_monitor_and_its_direction(plugins: Path) -> None:
    plateau = {"kind": "plateau", "patience": 0, "factor": 0.5}
    for run, name, worse, better in [
        (config(scheduler=plateau), "val_accuracy", 0.5, 0.9),  # the run's: max
        (regression(scheduler=plateau), "val_loss", 2.0, 1.0),  # the run's: min
        (config(scheduler={**plateau, "monitor": "val_f1_macro"}), "val_f1_macro", 0.5, 0.9),
        (regression(scheduler={**plateau, "monitor": "val_r2"}), "val_r2", 0.1, 0.5),
        (config(monitor="val_loss", scheduler=plateau), "val_loss", 2.0, 1.0),
    ]:
        setup = setup_run(run, plugins_dir=plugins)
        group = setup.optimizer.param_groups[0]
        setup.schedule.after_epoch({name: better})
        setup.schedule.after_epoch({name: worse})
        assert group["lr"] == pytest.approx(0.005), name  # one bad epoch (patience 0): halved
        setup.schedule.after_epoch({name: better * 1.5 if better > worse else better / 2})
        assert group["lr"] == pytest.approx(0.005), name  # improved: left alone


def test_a_checkpoint_without_a_best_metric_resumes_and_carries_its_best_accuracy(
    tmp_path: Path,
) -> None:
    fit(config(max_epochs=1), checkpoint_dir=tmp_path)
    ref = latest_checkpoint(tmp_path)
    assert ref is not None
    saved = load_checkpoint(ref.path)
    state = saved["state"]
    # As a checkpoint written before runs had named metrics.
    for key in ("best_metric", "best_metric_epoch"):
        del state["progress"][key]
    del state["metrics"]
    state["progress"]["best_val_accuracy"] = 1.0  # no later epoch can beat it
    save_checkpoint(tmp_path, 1, True, saved["model"], saved["optimizer"], state)

    seen = Collect()
    result = fit(config(max_epochs=2), seen, resume_from=ref.path, checkpoint_dir=tmp_path)
    assert [r.epoch for r in result.history] == [2]
    assert result.progress.best_metric == 1.0 and result.progress.best_val_accuracy == 1.0
    assert result.progress.best_metric_epoch is None  # the old checkpoint did not say
    assert seen.checkpoints[-1].metrics == result.history[-1].metrics
    assert not math.isnan(result.history[-1].monitor_value)
