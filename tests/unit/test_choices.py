"""Every optimizer, scheduler, loss and model family trains for real on tiny data, and resuming
from a checkpoint gives the same weights as training straight through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from trainer.callbacks import Callbacks, EpochReport
from trainer.checkpoints.store import latest_checkpoint
from trainer.config import RunConfig
from trainer.loop import fit

OPTIMIZERS = [
    "sgd", "adam", "adamw", "adamax", "adagrad", "adadelta", "asgd", "rmsprop", "rprop",
    "nadam", "radam", "lbfgs", "sparse_adam",
]  # fmt: skip
SCHEDULERS: list[dict[str, Any]] = [
    {"kind": "step", "step_size": 1, "gamma": 0.5},
    {"kind": "multistep", "milestones": [1, 2], "gamma": 0.5},
    {"kind": "exponential", "gamma": 0.7},
    {"kind": "cosine"},
    {"kind": "onecycle", "max_lr": 0.1},
    {"kind": "plateau", "patience": 0, "factor": 0.5, "threshold": 10.0},
    {"kind": "linear_warmup", "start_factor": 0.25, "total_iters": 2},
]


def small(**changes: Any) -> RunConfig:
    """Digits, a narrow MLP with dropout, 6 batches an epoch."""
    base: dict[str, Any] = {
        "model": {"kind": "mlp", "hidden_sizes": [16], "dropout": 0.1},
        "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9},
        "batch_size": 256,
        "max_epochs": 2,
        "device": "cpu",
        "seed": 1,
    }
    return RunConfig.model_validate({**base, **changes})


def optimizer_config(kind: str) -> dict[str, Any]:
    """Each optimizer with a rate that learns something in a dozen steps."""
    if kind == "lbfgs":
        return {"kind": "lbfgs", "lr": 0.5, "max_iter": 3}
    if kind == "adadelta":
        return {"kind": kind}  # its default rate is 1.0
    return {"kind": kind, "lr": 0.1 if kind in ("sgd", "asgd") else 0.01}


def model_for(kind: str) -> dict[str, Any]:
    if kind == "sparse_adam":
        return {"kind": "sparse_embedding", "bins": 4}
    return {"kind": "mlp", "hidden_sizes": [16], "dropout": 0.1}


class StopAfterFirstEpoch(Callbacks):
    """Asks the loop to stop once the first epoch is reported (a user's cancel, in effect)."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_epoch_end(self, report: EpochReport) -> None:
        self.epochs += 1

    def __call__(self) -> bool:
        return self.epochs >= 1


def assert_resume_is_exact(config: RunConfig, tmp_path: Path) -> None:
    straight = fit(config, checkpoint_dir=tmp_path / "straight")
    stopper = StopAfterFirstEpoch()
    fit(config, stopper, checkpoint_dir=tmp_path / "split", should_stop=stopper)
    checkpoint = latest_checkpoint(tmp_path / "split")
    assert checkpoint is not None
    resumed = fit(config, checkpoint_dir=tmp_path / "split", resume_from=checkpoint.path)
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    assert resumed.history[-1].lrs == straight.history[-1].lrs
    assert resumed.history[-1].val_loss == straight.history[-1].val_loss


@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_every_optimizer_trains_and_resumes_exactly(kind: str, tmp_path: Path) -> None:
    config = small(optimizer=optimizer_config(kind), model=model_for(kind))
    assert_resume_is_exact(config, tmp_path)
    history = fit(config).history
    assert history[-1].train_loss < history[0].train_loss
    summary = history[-1].optimizer_summary
    assert summary["groups"][0]["hyperparameters"]["lr"] > 0
    if kind in ("adam", "sparse_adam"):  # Adam's moments are in the inspector
        state = summary["groups"][0]["parameters"][0]["state"]
        assert {"exp_avg", "exp_avg_sq"} <= state.keys()
        assert state["exp_avg"]["norm"] > 0


@pytest.mark.parametrize("scheduler", SCHEDULERS, ids=[s["kind"] for s in SCHEDULERS])
def test_every_scheduler_moves_the_lr_and_resumes_exactly(scheduler: dict, tmp_path: Path) -> None:
    config = small(scheduler=scheduler, max_epochs=3)
    assert_resume_is_exact(config, tmp_path)
    lrs = [report.lr for report in fit(config).history]
    assert len(set(lrs)) > 1, lrs  # the rate changed between epochs


def test_param_groups_get_their_own_lr_and_weight_decay() -> None:
    config = small(
        optimizer={"kind": "sgd", "lr": 0.05, "momentum": 0.9},
        param_groups=[{"match": "head.*", "lr": 0.01, "weight_decay": 0.001}],
        scheduler={"kind": "step", "step_size": 1, "gamma": 0.5},
    )
    result = fit(config)
    assert [r.lrs for r in result.history] == [[0.05, 0.01], [0.025, 0.005]]
    groups = result.history[-1].optimizer_summary["groups"]
    assert [p["name"] for p in groups[1]["parameters"]] == ["head.weight", "head.bias"]
    assert groups[1]["hyperparameters"]["weight_decay"] == 0.001
    assert "momentum_buffer" in groups[0]["parameters"][0]["state"]


def test_a_group_matching_nothing_names_the_parameters() -> None:
    with pytest.raises(ValueError, match=r"param_groups\[0\].match 'fc\.\*'.*body.1.weight"):
        fit(small(param_groups=[{"match": "fc.*", "lr": 0.1}]))


LOSSES: list[dict[str, Any]] = [
    {"kind": "cross_entropy", "weight": [1.0] * 9 + [2.0], "label_smoothing": 0.1},
    {"kind": "cross_entropy", "ignore_index": 3, "reduction": "sum"},
    {"kind": "nll"},
    {"kind": "bce"},
    {"kind": "bce_with_logits", "pos_weight": [2.0] * 10},
    {"kind": "mse"},
    {"kind": "l1"},
    {"kind": "smooth_l1", "beta": 0.5},
    {"kind": "huber", "delta": 0.5},
    {"kind": "kl_div", "reduction": "batchmean"},
    {"kind": "multi_margin", "p": 2, "margin": 0.5},
]


@pytest.mark.parametrize("loss", LOSSES, ids=[f"{i}-{x['kind']}" for i, x in enumerate(LOSSES)])
def test_every_loss_trains(loss: dict) -> None:
    config = small(loss=loss, optimizer={"kind": "adam", "lr": 0.03}, max_epochs=3, batch_size=128)
    history = fit(config).history
    assert history[-1].train_loss < history[0].train_loss
    if loss["kind"] != "l1":  # L1 on one-hot targets pulls every output to its median, 0
        assert history[-1].val_accuracy > 0.5  # ten classes: chance is 0.1


def test_binary_bce_trains_one_output_on_two_classes(tmp_path: Path) -> None:
    from tests.support.image_files import write_image_folder

    root = write_image_folder(tmp_path / "two", classes=("cat", "dog"), per_class=8, size=8)
    config = small(
        data={"kind": "imagefolder", "train_dir": str(root), "val_fraction": 0.25},
        loss={"kind": "bce_with_logits", "targets": "binary"},
        optimizer={"kind": "adam", "lr": 0.01},
        batch_size=4,
        max_epochs=3,
    )
    result = fit(config)
    assert result.model.body[1].weight.shape[0] == 16
    assert result.model.head.out_features == 1
    assert result.history[-1].val_accuracy >= 0.5


MODELS: list[dict[str, Any]] = [
    {"kind": "mlp", "hidden_sizes": [32, 16], "activation": "gelu", "dropout": 0.2},
    {"kind": "cnn", "channels": [8, 16], "kernel_size": 3, "dropout": 0.1},
    {"kind": "cnn", "channels": [8], "kernel_size": 5, "batch_norm": False, "activation": "tanh"},
    {"kind": "custom_layers", "hidden_sizes": [32], "head_choices": ["a", "b"], "head_choice": "b"},
    {"kind": "sparse_embedding", "bins": 4, "sparse": False},
]


@pytest.mark.parametrize("model", MODELS, ids=[f"{i}-{m['kind']}" for i, m in enumerate(MODELS)])
def test_every_model_family_trains(model: dict) -> None:
    config = small(model=model, optimizer={"kind": "adam", "lr": 0.03}, batch_size=128)
    history = fit(config).history
    assert history[-1].train_loss < history[0].train_loss
    assert history[-1].val_accuracy > 0.15  # ten classes: chance is 0.1


def test_custom_layers_keep_their_parameters_in_list_and_dict() -> None:
    config = small(
        model={"kind": "custom_layers", "hidden_sizes": [8, 8], "head_choice": "spare"},
        optimizer={"kind": "adam", "lr": 0.01},
        max_epochs=1,
    )
    result = fit(config)
    names = [name for name, _ in result.model.named_parameters()]
    assert "body.2.weights.0" in names and "body.2.weights.1" in names  # nn.ParameterList
    assert "head.weights.main" in names and "head.weights.spare" in names  # nn.ParameterDict
    # Only the chosen head weights get gradients, so only they have Adam state.
    params = result.history[-1].optimizer_summary["groups"][0]["parameters"]
    state_of = {p["name"]: p["state"] for p in params}
    assert state_of["head.weights.spare"] and not state_of["head.weights.main"]
