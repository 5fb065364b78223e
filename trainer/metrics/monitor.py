"""Which metric a watcher follows, and in which direction it improves.

The run monitors one metric (`monitor_of`: its best epoch, the best checkpoint); early stopping
and the plateau scheduler follow the run's unless they name another.
"""

from __future__ import annotations

from trainer.config import RunConfig
from trainer.config.tasks import Mode, metric_mode, monitor_of


def watched_metric(
    config: RunConfig, name: str | None = None, mode: Mode | None = None
) -> tuple[str, Mode]:
    """The metric `name` (None: the run's monitored metric) and its mode (None: the metric's
    own direction; for the run's monitor, the run's `monitor_mode`)."""
    if name is None:
        name, run_mode = monitor_of(config)
        return name, mode or run_mode
    return name, mode or metric_mode(config, name)
