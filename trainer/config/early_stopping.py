"""The early-stopping part of the run config: which validation metric to watch, for how long."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from trainer.config.base import Frozen


class EarlyStoppingConfig(Frozen):
    """Stop the run once the monitored metric has not improved for `patience` epochs."""

    monitor: Literal["val_loss", "val_accuracy"] = Field(
        "val_loss", description="val_loss must fall, val_accuracy must rise."
    )
    patience: int = Field(5, ge=1, le=10000, description="Epochs without improvement to allow.")
    min_delta: float = Field(
        0.0, ge=0, le=1e6, description="The least change that counts as an improvement."
    )
