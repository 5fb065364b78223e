"""What a run minimizes and how: the task's loss, the optimizer with its parameter groups, the
learning-rate schedule, and the inspector that summarizes the optimizer's state each epoch."""

from trainer.optim.losses import build_loss
from trainer.optim.optimizers import build_optimizer
from trainer.optim.schedulers import build_schedule

__all__ = ["build_loss", "build_optimizer", "build_schedule"]
