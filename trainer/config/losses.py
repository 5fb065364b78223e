"""Loss kinds. Each takes the model's raw outputs and the targets. For classification the targets
are class indices, and the trainer adapts them (log-softmax, sigmoid, one-hot targets) to what the
torch criterion expects; for multi-label (0/1 targets) and regression (real targets) the criterion
takes the outputs and targets as they are. trainer/config/tasks.py says which kinds serve a task."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from trainer.config.base import Frozen
from trainer.config.plugins import PluginLoss

Reduction = Literal["mean", "sum"]
ClassWeights = list[Annotated[float, Field(ge=0)]] | None


class CrossEntropyLoss(Frozen):
    """torch.nn.CrossEntropyLoss on the logits."""

    kind: Literal["cross_entropy"] = "cross_entropy"
    weight: ClassWeights = Field(None, description="One weight per class; empty: all equal.")
    ignore_index: int = Field(-100, description="Targets of this class add nothing to the loss.")
    label_smoothing: float = Field(0.0, ge=0, le=1)
    reduction: Reduction = "mean"


class NLLLoss(Frozen):
    """torch.nn.NLLLoss on log_softmax(logits)."""

    kind: Literal["nll"] = "nll"
    weight: ClassWeights = Field(None, description="One weight per class; empty: all equal.")
    ignore_index: int = -100
    reduction: Reduction = "mean"


BinaryTargets = Literal["one_hot", "binary"]
TARGETS_HELP = (
    "one_hot: one output per class, the class index as a multi-label target; "
    "binary: one output, for a data set of exactly 2 classes."
)


class BCELoss(Frozen):
    """torch.nn.BCELoss on sigmoid(logits)."""

    kind: Literal["bce"] = "bce"
    targets: BinaryTargets = Field("one_hot", description=TARGETS_HELP)
    reduction: Reduction = "mean"


class BCEWithLogitsLoss(Frozen):
    """torch.nn.BCEWithLogitsLoss on the logits."""

    kind: Literal["bce_with_logits"] = "bce_with_logits"
    targets: BinaryTargets = Field("one_hot", description=TARGETS_HELP)
    pos_weight: ClassWeights = Field(
        None, description="Weight of positive examples, one per output; empty: 1."
    )
    reduction: Reduction = "mean"


ONE_HOT_HELP = "Regresses the raw outputs on one-hot targets."


class MSELoss(Frozen):
    """torch.nn.MSELoss; regresses the raw outputs on one-hot targets."""

    kind: Literal["mse"] = "mse"
    reduction: Reduction = "mean"


class L1Loss(Frozen):
    """torch.nn.L1Loss; regresses the raw outputs on one-hot targets."""

    kind: Literal["l1"] = "l1"
    reduction: Reduction = "mean"


class SmoothL1Loss(Frozen):
    """torch.nn.SmoothL1Loss; regresses the raw outputs on one-hot targets."""

    kind: Literal["smooth_l1"] = "smooth_l1"
    beta: float = Field(1.0, ge=0)
    reduction: Reduction = "mean"


class HuberLoss(Frozen):
    """torch.nn.HuberLoss; regresses the raw outputs on one-hot targets."""

    kind: Literal["huber"] = "huber"
    delta: float = Field(1.0, gt=0)
    reduction: Reduction = "mean"


class KLDivLoss(Frozen):
    """torch.nn.KLDivLoss of log_softmax(logits) from the one-hot target distribution."""

    kind: Literal["kl_div"] = "kl_div"
    reduction: Literal["mean", "batchmean", "sum"] = Field(
        "mean", description="batchmean is the mathematically right KL; mean is torch's default."
    )
    log_target: bool = False


class MultiMarginLoss(Frozen):
    """torch.nn.MultiMarginLoss (multi-class hinge) on the logits."""

    kind: Literal["multi_margin"] = "multi_margin"
    p: Literal[1, 2] = 1
    margin: float = Field(1.0, ge=0)
    weight: ClassWeights = Field(None, description="One weight per class; empty: all equal.")
    reduction: Reduction = "mean"


LossConfig = Annotated[
    CrossEntropyLoss
    | NLLLoss
    | BCELoss
    | BCEWithLogitsLoss
    | MSELoss
    | L1Loss
    | SmoothL1Loss
    | HuberLoss
    | KLDivLoss
    | MultiMarginLoss
    | PluginLoss,
    Field(discriminator="kind"),
]
