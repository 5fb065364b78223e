"""Optimizer kinds: every optimizer of torch.optim, each with its real hyperparameters.

Defaults equal torch.optim's own; tests/unit/test_config.py compares them with torch's signatures so
they cannot drift. (This module cannot read them from torch: the server never imports torch.)
Left out on purpose: `maximize` (a loss is minimized), and the implementation switches
`foreach`, `fused`, `capturable`, `differentiable`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from trainer.config.base import Frozen

Beta = Annotated[float, Field(ge=0, lt=1)]
Betas = tuple[Beta, Beta]
LR_HELP = "Learning rate."


def lr_field(default: float) -> float:
    return Field(default, gt=0, le=100, description=LR_HELP)


class SGDOptimizer(Frozen):
    """torch.optim.SGD."""

    kind: Literal["sgd"] = "sgd"
    lr: float = lr_field(0.001)
    momentum: float = Field(0.0, ge=0, lt=1)
    dampening: float = Field(0.0, ge=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    nesterov: bool = Field(False, description="Needs momentum > 0 and dampening = 0.")

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGDOptimizer:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening = 0")
        return self


class AdamOptimizer(Frozen):
    """torch.optim.Adam."""

    kind: Literal["adam"] = "adam"
    lr: float = lr_field(0.001)
    betas: Betas = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    amsgrad: bool = False
    decoupled_weight_decay: bool = Field(False, description="True makes it AdamW.")


class AdamWOptimizer(Frozen):
    """torch.optim.AdamW (decoupled weight decay)."""

    kind: Literal["adamw"] = "adamw"
    lr: float = lr_field(0.001)
    betas: Betas = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    amsgrad: bool = False


class AdamaxOptimizer(Frozen):
    """torch.optim.Adamax (Adam with the infinity norm)."""

    kind: Literal["adamax"] = "adamax"
    lr: float = lr_field(0.002)
    betas: Betas = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class AdagradOptimizer(Frozen):
    """torch.optim.Adagrad."""

    kind: Literal["adagrad"] = "adagrad"
    lr: float = lr_field(0.01)
    lr_decay: float = Field(0.0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    initial_accumulator_value: float = Field(0.0, ge=0)
    eps: float = Field(1e-10, gt=0)


class AdadeltaOptimizer(Frozen):
    """torch.optim.Adadelta."""

    kind: Literal["adadelta"] = "adadelta"
    lr: float = lr_field(1.0)
    rho: float = Field(0.9, ge=0, le=1)
    eps: float = Field(1e-6, gt=0)
    weight_decay: float = Field(0.0, ge=0)


class ASGDOptimizer(Frozen):
    """torch.optim.ASGD (averaged SGD)."""

    kind: Literal["asgd"] = "asgd"
    lr: float = lr_field(0.01)
    lambd: float = Field(1e-4, ge=0, description="Decay term.")
    alpha: float = Field(0.75, ge=0, description="Power for the eta update.")
    t0: float = Field(1e6, ge=0, description="Step at which averaging starts.")
    weight_decay: float = Field(0.0, ge=0)


class RMSpropOptimizer(Frozen):
    """torch.optim.RMSprop."""

    kind: Literal["rmsprop"] = "rmsprop"
    lr: float = lr_field(0.01)
    alpha: float = Field(0.99, ge=0, le=1, description="Smoothing constant.")
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    centered: bool = False


class RpropOptimizer(Frozen):
    """torch.optim.Rprop (resilient backpropagation; meant for full batches)."""

    kind: Literal["rprop"] = "rprop"
    lr: float = lr_field(0.01)
    etas: tuple[Annotated[float, Field(gt=0, lt=1)], Annotated[float, Field(gt=1)]] = (0.5, 1.2)
    step_sizes: tuple[Annotated[float, Field(ge=0)], Annotated[float, Field(gt=0)]] = (1e-6, 50)


class NAdamOptimizer(Frozen):
    """torch.optim.NAdam (Adam with Nesterov momentum)."""

    kind: Literal["nadam"] = "nadam"
    lr: float = lr_field(0.002)
    betas: Betas = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum_decay: float = Field(0.004, ge=0)
    decoupled_weight_decay: bool = False


class RAdamOptimizer(Frozen):
    """torch.optim.RAdam (rectified Adam)."""

    kind: Literal["radam"] = "radam"
    lr: float = lr_field(0.001)
    betas: Betas = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    decoupled_weight_decay: bool = False


class LBFGSOptimizer(Frozen):
    """torch.optim.LBFGS; each step re-evaluates the batch through a closure. One param group."""

    kind: Literal["lbfgs"] = "lbfgs"
    lr: float = lr_field(1.0)
    max_iter: int = Field(20, ge=1, le=10000, description="Iterations per optimizer step.")
    max_eval: int | None = Field(None, ge=1, description="Empty: max_iter * 1.25.")
    tolerance_grad: float = Field(1e-7, ge=0)
    tolerance_change: float = Field(1e-9, ge=0)
    history_size: int = Field(100, ge=1, le=10000)
    line_search_fn: Literal["strong_wolfe"] | None = None


class SparseAdamOptimizer(Frozen):
    """torch.optim.SparseAdam; needs a model whose parameters get sparse gradients
    (model kind sparse_embedding with sparse on)."""

    kind: Literal["sparse_adam"] = "sparse_adam"
    lr: float = lr_field(0.001)
    betas: Betas = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)


OptimizerConfig = Annotated[
    SGDOptimizer
    | AdamOptimizer
    | AdamWOptimizer
    | AdamaxOptimizer
    | AdagradOptimizer
    | AdadeltaOptimizer
    | ASGDOptimizer
    | RMSpropOptimizer
    | RpropOptimizer
    | NAdamOptimizer
    | RAdamOptimizer
    | LBFGSOptimizer
    | SparseAdamOptimizer,
    Field(discriminator="kind"),
]

# Which optimizers accept sparse gradients, and which carry a momentum or beta1 that OneCycleLR
# can cycle: checked on submit so the run does not fail in the worker.
SPARSE_GRADIENT_OPTIMIZERS = frozenset({"sgd", "adagrad", "sparse_adam"})
MOMENTUM_OPTIMIZERS = frozenset(
    {"sgd", "adam", "adamw", "adamax", "rmsprop", "nadam", "radam", "sparse_adam"}
)
NO_WEIGHT_DECAY = frozenset({"rprop", "lbfgs", "sparse_adam"})


class ParamGroup(Frozen):
    """Parameters whose names match `match` (a glob such as `head.*`) get their own settings,
    as `optimizer.add_param_group` would; the others stay in the first group."""

    match: str = Field(min_length=1, max_length=200, description="Glob over parameter names.")
    lr: float | None = Field(None, gt=0, le=100, description="Empty: the optimizer's lr.")
    weight_decay: float | None = Field(None, ge=0, description="Empty: the optimizer's.")
