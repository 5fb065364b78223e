"""The run config: defaults equal torch's, JSON round-trips, bad values are refused."""

from __future__ import annotations

import inspect

import pytest
import torch
from pydantic import ValidationError

from trainer.config import AdamOptimizer, RunConfig, SGDOptimizer


@pytest.mark.parametrize(
    ("config_class", "torch_class"),
    [(SGDOptimizer, torch.optim.SGD), (AdamOptimizer, torch.optim.Adam)],
)
def test_optimizer_defaults_equal_torch_defaults(config_class, torch_class) -> None:
    signature = inspect.signature(torch_class.__init__).parameters
    for name, field in config_class.model_fields.items():
        if name == "kind":
            continue
        expected = signature[name].default
        assert field.default == expected, f"{config_class.__name__}.{name}"


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
