"""Helpers for tests that call the trainer directly: compare weights, stop a loop on a step."""

from __future__ import annotations

import torch

from trainer.callbacks import Callbacks, StepReport


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
