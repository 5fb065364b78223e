"""The end-of-run evaluation of a checkpoint: `evaluate_checkpoint` predicts the validation split
(checkpoint.py) and reports on it per task (reports.py)."""

from trainer.evaluation.checkpoint import Evaluation, evaluate_checkpoint

__all__ = ["Evaluation", "evaluate_checkpoint"]
