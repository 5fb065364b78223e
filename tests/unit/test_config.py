"""The run config: defaults equal torch's, JSON round-trips, bad values are refused."""

from __future__ import annotations

import inspect
import typing
from typing import Any

import pytest
import torch
from pydantic import ValidationError

from trainer.config import RunConfig, SGDOptimizer


def torch_pairs() -> list[tuple[type, Any]]:
    """(config class, torch class) for every optimizer, loss and scheduler kind."""
    from torch.optim import lr_scheduler

    import trainer.config as c
    from trainer.optim.optimizers import OPTIMIZERS

    optimizers = [
        (cls, OPTIMIZERS[cls.model_fields["kind"].default]) for cls in _members(c.OptimizerConfig)
    ]
    losses = {
        "cross_entropy": torch.nn.CrossEntropyLoss, "nll": torch.nn.NLLLoss,
        "bce": torch.nn.BCELoss, "bce_with_logits": torch.nn.BCEWithLogitsLoss,
        "mse": torch.nn.MSELoss, "l1": torch.nn.L1Loss, "smooth_l1": torch.nn.SmoothL1Loss,
        "huber": torch.nn.HuberLoss, "kl_div": torch.nn.KLDivLoss,
        "multi_margin": torch.nn.MultiMarginLoss,
    }  # fmt: skip
    schedulers = {
        "step": lr_scheduler.StepLR, "multistep": lr_scheduler.MultiStepLR,
        "exponential": lr_scheduler.ExponentialLR, "cosine": lr_scheduler.CosineAnnealingLR,
        "onecycle": lr_scheduler.OneCycleLR, "plateau": lr_scheduler.ReduceLROnPlateau,
        "linear_warmup": lr_scheduler.LinearLR,
    }  # fmt: skip
    pairs = optimizers
    pairs += [
        (cls, losses[cls.model_fields["kind"].default])
        for cls in _members(c.LossConfig)
        if cls is not c.PluginLoss  # the user's own class: no torch counterpart
    ]
    pairs += [
        (cls, schedulers[cls.model_fields["kind"].default]) for cls in _members(c.SchedulerConfig)
    ]
    return pairs


def _members(union: Any) -> tuple[type, ...]:
    return typing.get_args(typing.get_args(union)[0])


# Fields of ours that torch does not have, or whose torch default is decided by the run.
OWN_FIELDS = {"kind", "targets", "monitor", "mode", "T_max"}


@pytest.mark.parametrize("pair", torch_pairs(), ids=lambda pair: pair[0].__name__)
def test_defaults_equal_torch_defaults(pair) -> None:
    config_class, torch_class = pair
    signature = inspect.signature(torch_class.__init__).parameters
    checked = 0
    for name, field in config_class.model_fields.items():
        if name in OWN_FIELDS:
            continue
        expected = signature[name].default
        if expected is inspect.Parameter.empty:  # torch makes the user choose; so do we
            continue
        assert field.default == expected, f"{config_class.__name__}.{name}"
        checked += 1
    assert checked > 0 or config_class.__name__ == "ExponentialLRScheduler"


def test_config_round_trips_through_json() -> None:
    config = RunConfig(optimizer=SGDOptimizer(lr=0.1, momentum=0.9, nesterov=True))
    assert RunConfig.model_validate_json(config.model_dump_json()) == config


def test_config_is_frozen() -> None:
    config = RunConfig()
    with pytest.raises(ValidationError):
        config.batch_size = 3  # type: ignore[misc]


def test_default_is_the_design_minimal_config() -> None:
    config = RunConfig()
    assert (config.data.kind, config.model.kind, config.loss.kind, config.optimizer.kind) == (
        "digits",
        "mlp",
        "cross_entropy",
        "adam",
    )
    assert (config.batch_size, config.max_epochs, config.device) == (16, 10, "auto")


@pytest.mark.parametrize(
    "bad",
    [
        {"optimizer": {"kind": "sgd", "lr": 0.1, "nesterov": True}},  # nesterov needs momentum
        {"optimizer": {"kind": "adam", "lr": -1}},
        {"batch_size": 0},
        {"max_epochs": 0},
        {"model": {"kind": "transformer"}},
        {"unknown_field": 1},
        {"device": "tpu"},
    ],
)
def test_bad_configs_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        RunConfig.model_validate(bad)


@pytest.mark.parametrize("number", [float("inf"), float("nan")])
def test_a_non_finite_float_is_refused_even_where_its_bounds_would_let_it_through(
    number: float,
) -> None:
    # `weight_decay >= 0` alone takes infinity; a run.json read by `json.load` can hold either.
    with pytest.raises(ValidationError) as raised:
        SGDOptimizer(weight_decay=number)
    assert raised.value.errors()[0]["loc"] == ("weight_decay",)
