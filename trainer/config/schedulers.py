"""Learning-rate scheduler kinds (torch.optim.lr_scheduler). All step once per epoch, after
validation, except OneCycleLR, which steps after every batch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from trainer.config.base import Frozen

Gamma = Annotated[float, Field(gt=0, le=10)]


class StepLRScheduler(Frozen):
    """StepLR: multiply the lr by gamma every step_size epochs."""

    kind: Literal["step"] = "step"
    step_size: int = Field(10, ge=1, description="Epochs between two decays.")
    gamma: Gamma = 0.1


class MultiStepLRScheduler(Frozen):
    """MultiStepLR: multiply the lr by gamma at each milestone epoch."""

    kind: Literal["multistep"] = "multistep"
    milestones: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [30, 80], min_length=1, max_length=64
    )
    gamma: Gamma = 0.1

    @model_validator(mode="after")
    def _increasing(self) -> MultiStepLRScheduler:
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError("milestones must be strictly increasing")
        return self


class ExponentialLRScheduler(Frozen):
    """ExponentialLR: multiply the lr by gamma every epoch."""

    kind: Literal["exponential"] = "exponential"
    gamma: Gamma = 0.95


class CosineAnnealingLRScheduler(Frozen):
    """CosineAnnealingLR: a half cosine from the lr down to eta_min over T_max epochs."""

    kind: Literal["cosine"] = "cosine"
    T_max: int | None = Field(None, ge=1, description="Epochs; empty: max_epochs.")
    eta_min: float = Field(0.0, ge=0)


class OneCycleLRScheduler(Frozen):
    """OneCycleLR over the whole run (max_epochs x batches per epoch), stepped every batch."""

    kind: Literal["onecycle"] = "onecycle"
    max_lr: float = Field(0.01, gt=0, le=100)
    pct_start: float = Field(0.3, gt=0, lt=1)
    anneal_strategy: Literal["cos", "linear"] = "cos"
    cycle_momentum: bool = Field(True, description="Needs an optimizer with momentum or betas.")
    base_momentum: float = Field(0.85, ge=0, lt=1)
    max_momentum: float = Field(0.95, ge=0, lt=1)
    div_factor: float = Field(25.0, gt=0)
    final_div_factor: float = Field(1e4, gt=0)
    three_phase: bool = False


class ReduceLROnPlateauScheduler(Frozen):
    """ReduceLROnPlateau on a validation metric."""

    kind: Literal["plateau"] = "plateau"
    monitor: str | None = Field(
        None, max_length=200, description="A metric of the run; empty: the run's monitored metric."
    )
    mode: Literal["min", "max"] | None = Field(
        None, description="min for a loss, max for accuracy; empty: the metric's own direction."
    )
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(10, ge=0)
    threshold: float = Field(1e-4, ge=0)
    threshold_mode: Literal["rel", "abs"] = "rel"
    cooldown: int = Field(0, ge=0)
    min_lr: float = Field(0.0, ge=0)
    eps: float = Field(1e-8, ge=0)


class LinearWarmupScheduler(Frozen):
    """LinearLR: a linear warm-up from start_factor x lr to end_factor x lr over total_iters
    epochs."""

    kind: Literal["linear_warmup"] = "linear_warmup"
    start_factor: float = Field(1 / 3, gt=0, le=1)
    end_factor: float = Field(1.0, ge=0, le=1)
    total_iters: int = Field(5, ge=1)


SchedulerConfig = Annotated[
    StepLRScheduler
    | MultiStepLRScheduler
    | ExponentialLRScheduler
    | CosineAnnealingLRScheduler
    | OneCycleLRScheduler
    | ReduceLROnPlateauScheduler
    | LinearWarmupScheduler,
    Field(discriminator="kind"),
]
