"""Helpers for tests that call the trainer directly: compare weights, stop a loop on a step."""

from __future__ import annotations

from typing import Any

import torch

from trainer.callbacks import Callbacks, StepReport
from trainer.config import RunConfig


def weights(result) -> dict[str, torch.Tensor]:
    return {name: value.clone() for name, value in result.model.state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


class StopAfter(Callbacks):
    """Asks the loop to stop once `steps` steps were reported."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.seen = 0

    def on_step(self, report: StepReport) -> None:
        self.seen = report.step

    def __call__(self) -> bool:
        return self.seen >= self.steps


def small_run_config(data: dict[str, Any], /, **changes: Any) -> RunConfig:
    """A small, seeded 2-epoch MLP run on `data` that steps its report each batch; dropout makes
    it draw on the RNG, so a resume that replays the stream exactly is told from one that does
    not. `changes` replace top-level fields (`data` included)."""
    base = {
        "data": data,
        "model": {"kind": "mlp", "hidden_sizes": [16], "dropout": 0.3},
        "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9},
        "batch_size": 8,
        "max_epochs": 2,
        "device": "cpu",
        "seed": 5,
        "report_every_steps": 1,
    }
    return RunConfig.model_validate({**base, **changes})
