"""The data a run trains on: each data kind read into train and validation splits, the image
checks and transform pipelines applied to it, the per-epoch sampling order, and the caches of
decoded tensors that batches are drawn from (in memory per run, on disk per data set).

`build_datasets` is importable from here; it is loaded on first use, since the web server imports
the torch-free modules of this package (the demo images) and never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainer.data.datasets import DataSplits, build_datasets

__all__ = ["DataSplits", "build_datasets"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from trainer.data import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
