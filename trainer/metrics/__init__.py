"""Named metrics: what each epoch records beside the losses, computed with torchmetrics.

`builtin.py` holds the task's own metrics (accuracy and F1 for classification, F1 for
multi-label, MAE, RMSE and R² for regression); `validation.py` gathers them with the user's
metric plugins into the set that `evaluate` updates and computes (synced across DDP ranks);
`monitor.py` says which metric a watcher (the run, early stopping, the plateau scheduler) follows.
"""
