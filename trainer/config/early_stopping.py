"""The early-stopping part of the run config: which validation metric to watch, for how long."""

from __future__ import annotations

from pydantic import Field

from trainer.config.base import Frozen


class EarlyStoppingConfig(Frozen):
    """Stop the run once the monitored metric has not improved for `patience` epochs."""

    monitor: str | None = Field(
        None,
        max_length=200,
        description="A metric of the run (val_loss, val_accuracy, val_f1_macro, ...); empty: the "
        "run's monitored metric. It must fall or rise as its kind says (a loss falls).",
    )
    patience: int = Field(5, ge=1, le=10000, description="Epochs without improvement to allow.")
    min_delta: float = Field(
        0.0, ge=0, le=1e6, description="The least change that counts as an improvement."
    )
