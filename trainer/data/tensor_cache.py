"""Where batches come from: tensors decoded once, or a DataLoader reading item by item.

The classic DataLoader calls `__getitem__` for every item of every epoch: a PIL decode, the
transform pipeline, a collate, all in Python. When both splits fit `cache_budget_mb`, each item
is decoded once instead, into one tensor of inputs and one of targets, and each batch is a single
`index_select` in the order of the same `EpochShuffleSampler`.

What is cached is each pipeline's *cached stage* (trainer/data/transforms.py `split_steps`):
the decode and the deterministic steps before the first random one, uint8 where that is exact.
The rest, random steps first, runs on every batch on the training device, each sample drawing
its own parameters (trainer/data/batch_augment.py). A pipeline without a random step is cached
whole: its batches are the very tensors the DataLoader would have collated, so a run trains to
the same weights either way, and a mid-epoch resume skips the same indices.

The DataLoader stays for what cannot be batched: a plugin Dataset that does not allow the
cache, items whose cached stage differs in shape (a random crop of images of several sizes),
a split too big for the budget.

With a disk cache folder (trainer/data/disk_cache.py) the decode writes into its files, once
per data set rather than once per run, and splits past the budget stream from those files.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset, default_collate

from trainer.config import RunConfig
from trainer.config.plugins import PluginData
from trainer.data.batch_augment import BatchStage
from trainer.data.datasets import (
    DataSplits,
)
from trainer.data.disk_cache import Allocate, DiskCache
from trainer.data.sampling import EpochShuffleSampler
from trainer.data.transforms import Pipeline, TransformedDataset

Batch = tuple[torch.Tensor, torch.Tensor]
DECODE_BATCH = 1024
# A decode that takes longer than this prints its progress, so a long start is not a silent one.
PROGRESS_SECONDS = 2.0


@dataclass(frozen=True)
class CacheDecision:
    """Whether the splits are decoded into memory, and why (printed to the run's log)."""

    use: bool
    reason: str


@dataclass(frozen=True)
class CachedTensors:
    """A whole split: inputs N x ... and targets N x ... (a class index, or a plugin Dataset's
    label or target vector), as the DataLoader would have collated them."""

    inputs: torch.Tensor
    targets: torch.Tensor


@dataclass(frozen=True)
class Batches:
    """The training and validation batches of a run, one pass per `iter()`."""

    train: Iterable[Batch]
    val: Iterable[Batch]
    cached: bool


def decide_cache(config: RunConfig, data: DataSplits) -> CacheDecision:
    """Cache when the budget allows and both splits' cached stages fit; random steps then run
    per batch."""
    if config.cache_budget_mb == 0:
        return CacheDecision(False, "cache_budget_mb is 0")
    if isinstance(config.data, PluginData) and not config.data.cache:
        # Only its author knows whether a Dataset's items are the same every epoch.
        return CacheDecision(False, "data.cache is off for the plugin Dataset")
    train, val = cached_stages(data)
    needed = estimated_bytes(train) + estimated_bytes(val)
    budget = config.cache_budget_mb * 2**20
    size = f"{needed / 2**20:,.1f} MB"
    if needed > budget:
        return CacheDecision(False, f"{size} do not fit cache_budget_mb {config.cache_budget_mb}")
    reason = f"{size} fit cache_budget_mb {config.cache_budget_mb}"
    random_kinds = sorted({*_random_kinds(data.train), *_random_kinds(data.val)})
    if random_kinds:
        reason += f"; random steps {random_kinds} run on whole batches, each sample its own draw"
    return CacheDecision(True, reason)


def cached_stages(data: DataSplits) -> tuple[Dataset, Dataset]:
    """The datasets whose items the cache holds: each split's base through its cached stage (a
    split without a transform pipeline, such as a plugin's, as it is)."""
    return _cached_stage(data.train), _cached_stage(data.val)


def _cached_stage(dataset: Dataset) -> Dataset:
    if isinstance(dataset, TransformedDataset) and isinstance(dataset.transform, Pipeline):
        return TransformedDataset(dataset.base, dataset.transform.cached_transform())
    return dataset


def _random_kinds(dataset: Dataset) -> list[str]:
    if isinstance(dataset, TransformedDataset) and isinstance(dataset.transform, Pipeline):
        return dataset.transform.split.random_kinds
    return []


def batch_stage(dataset: Dataset, seed: int, stream: str) -> BatchStage | None:
    """What runs per batch after the cache for `dataset` (None: nothing, batches are ready)."""
    if not (isinstance(dataset, TransformedDataset) and isinstance(dataset.transform, Pipeline)):
        return None
    split = dataset.transform.split
    if not split.batched and split.dtype != torch.uint8:
        return None
    return BatchStage(split.batched, seed, stream)


class ShapeMismatch(ValueError):
    """A split's cached items differ in shape: they cannot be stacked into one tensor."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what}: give the data set an image_size or a resize step, or set cache_budget_mb to 0"
        )
        self.what = what


def estimated_bytes(dataset: Dataset) -> int:
    """Memory of a decoded split, judged by its first item (inputs plus target)."""
    sample, target = (torch.as_tensor(part) for part in dataset[0])
    per_item = sample.numel() * sample.element_size() + target.numel() * target.element_size()
    return per_item * len(dataset)  # type: ignore[arg-type]


def _collate_same_shape(name: str, items: list[tuple[Any, Any]]) -> Any:
    """The default collate, with a clear `ShapeMismatch` where items differ in shape."""
    shapes = {tuple(torch.as_tensor(item[0]).shape) for item in items}
    if len(shapes) > 1:
        first, other = sorted(shapes)[:2]
        raise ShapeMismatch(f"{name} items differ in shape ({first} and {other})")
    return default_collate(items)


def decode(
    dataset: Dataset, name: str, num_workers: int = 0, allocate: Allocate | None = None
) -> CachedTensors:
    """Every item of `dataset` through its pipeline once, collated into two tensors (made by
    `allocate` from both shapes and dtypes: files of the disk cache; None: memory)."""
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        # Already two tensors (a table, a text: encoded whole when read): nothing to decode.
        print(f"cache: {name} split already in tensors, {len(dataset):,} items", flush=True)
        return CachedTensors(*dataset.tensors)
    count = len(dataset)  # type: ignore[arg-type]
    # A generator of its own: decoding must not draw on the global RNG, or the dropout masks
    # (and so the weights) would differ from a run without the cache.
    loader = DataLoader(
        dataset,
        batch_size=DECODE_BATCH,
        num_workers=num_workers,
        generator=torch.Generator(),
        collate_fn=functools.partial(_collate_same_shape, name),
    )
    inputs = targets = torch.empty(0)
    filled = 0
    started = time.perf_counter()
    next_report = started + PROGRESS_SECONDS
    for batch_inputs, batch_targets in loader:
        if filled == 0:
            inputs, targets = (allocate or _in_memory)(
                (count, *batch_inputs.shape[1:]), batch_inputs.dtype,
                (count, *batch_targets.shape[1:]), batch_targets.dtype,
            )  # fmt: skip
        if batch_inputs.shape[1:] != inputs.shape[1:]:
            raise ShapeMismatch(
                f"{name} items differ in shape ({tuple(inputs.shape[1:])} and "
                f"{tuple(batch_inputs.shape[1:])})"
            )
        inputs[filled : filled + len(batch_inputs)] = batch_inputs
        targets[filled : filled + len(batch_targets)] = batch_targets
        filled += len(batch_inputs)
        if time.perf_counter() >= next_report:
            print(f"cache: decoded {filled:,} of {count:,} {name} items", flush=True)
            next_report = time.perf_counter() + PROGRESS_SECONDS
    print(
        f"cache: {name} split decoded once, {count:,} items in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return CachedTensors(inputs, targets)


def _in_memory(
    input_shape: tuple[int, ...],
    input_dtype: torch.dtype,
    target_shape: tuple[int, ...],
    target_dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.empty(input_shape, dtype=input_dtype), torch.empty(
        target_shape, dtype=target_dtype
    )


class CachedBatches:
    """Index batches of cached tensors, in the sampler's order: what the DataLoader would yield.

    On CUDA each batch is gathered straight into page-locked memory (PyTorch's caching host
    allocator keeps such blocks alive until their copy is done), so the copy to the device is a
    true asynchronous one. Pinning the cache itself would not help: an index gather makes a new
    tensor, unpinned unless told where to write.

    With a `stage` (the pipeline's batched steps), each batch's inputs go to `device` here and
    the stage runs on them there; its draws are keyed by the batch's place in the run: the
    sampler's epoch, its rank and the batch's number in the epoch (counting the batches a
    resumed epoch skipped).
    """

    def __init__(
        self,
        cache: CachedTensors,
        batch_size: int,
        sampler: EpochShuffleSampler | None = None,
        drop_last: bool = False,
        pin: bool = False,
        stage: BatchStage | None = None,
        device: torch.device | None = None,
    ) -> None:
        self.cache = cache
        self.batch_size = batch_size
        self.sampler = sampler
        self.drop_last = drop_last
        self.pin = pin
        self.stage = stage
        self.device = device or torch.device("cpu")

    def __iter__(self) -> Iterator[Batch]:
        count = len(self.cache.targets)
        sampler = self.sampler
        order = sampler.order() if sampler is not None else torch.arange(count)
        epoch, rank, first = 0, 0, 0
        if sampler is not None:
            epoch, rank = sampler.epoch, sampler.rank
            first = sampler.skip // (self.batch_size * sampler.world)
        for number, indices in enumerate(order.split(self.batch_size), start=first):
            if self.drop_last and len(indices) < self.batch_size:
                return
            inputs = self._gather(self.cache.inputs, indices)
            if self.stage is not None:
                inputs = inputs.to(self.device, non_blocking=True)
                inputs = self.stage(inputs, (epoch, rank, number))
            yield inputs, self._gather(self.cache.targets, indices)

    def _gather(self, source: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        if not self.pin:
            return source.index_select(0, indices)
        out = torch.empty((len(indices), *source.shape[1:]), dtype=source.dtype, pin_memory=True)
        return torch.index_select(source, 0, indices, out=out)


def build_batches(
    config: RunConfig,
    data: DataSplits,
    sampler: EpochShuffleSampler,
    device: torch.device,
    val_sampler: EpochShuffleSampler | None = None,
) -> Batches:
    """Cached batches when `decide_cache` says so, else the DataLoaders; the choice is printed.

    `val_sampler` is a DDP rank's shard of the validation set (None: all of it, in order).
    """
    pin = device.type == "cuda" if config.pin_memory is None else config.pin_memory
    decision = decide_cache(config, data)
    print(f"cache: {'on' if decision.use else 'off'}: {decision.reason}", flush=True)
    try:
        splits = _decoded_splits(config, data, fits=decision.use)
    except ShapeMismatch as error:
        if not (_random_kinds(data.train) or _random_kinds(data.val)):
            raise
        # Random steps may bring items of several sizes to one (a random crop): item by item.
        print(f"cache: off: {error.what} before the random steps", flush=True)
        splits = None
    if splits is not None:
        pin_cached = pin and device.type == "cuda"  # page-locked memory serves CUDA copies only
        train, val = splits
        train_stage = batch_stage(data.train, config.seed, "train")
        val_stage = batch_stage(data.val, config.seed, "val")
        for name, stage, cache in (("train", train_stage, train), ("val", val_stage, val)):
            if stage is not None:
                dtype = str(cache.inputs.dtype).removeprefix("torch.")
                steps = ["to float32"] * (dtype == "uint8") + [s.kind for s in stage.steps]
                print(f"cache: {name} split kept as {dtype}; per batch on {device}: "
                      f"{', '.join(steps)}", flush=True)  # fmt: skip
        return Batches(
            train=CachedBatches(
                train, config.batch_size, sampler, config.drop_last, pin_cached,
                train_stage, device,
            ),
            val=CachedBatches(
                val, config.batch_size, val_sampler, False, pin_cached, val_stage, device
            ),
            cached=True,
        )  # fmt: skip
    train_loader = DataLoader(
        data.train,
        batch_size=config.batch_size,
        sampler=sampler,
        drop_last=config.drop_last,
        num_workers=config.num_workers,
        pin_memory=pin,
        # Generators of their own keep the DataLoaders from drawing on the global RNG, whose
        # state is checkpointed: a resumed run then replays the same dropout masks.
        generator=torch.Generator().manual_seed(config.seed),
    )
    val_loader = DataLoader(
        data.val,
        batch_size=config.batch_size,
        shuffle=False,
        sampler=val_sampler,
        num_workers=config.num_workers,
        pin_memory=pin,
        generator=torch.Generator(),
    )
    return Batches(train=train_loader, val=val_loader, cached=False)


def _only_too_big(config: RunConfig, data: DataSplits) -> bool:
    """Whether the memory budget alone keeps the splits from the cache."""
    if config.cache_budget_mb == 0:
        return False
    return decide_cache(config.model_copy(update={"cache_budget_mb": 2**40}), data).use


def _decoded_splits(
    config: RunConfig, data: DataSplits, fits: bool
) -> tuple[CachedTensors, CachedTensors] | None:
    """Both splits decoded once: into memory when they fit the budget (through the disk cache
    when there is one: trainer/data/disk_cache.py), else streamed from the disk cache's mapped
    files; None: the DataLoaders read them item by item."""
    if not fits and not _only_too_big(config, data):
        return None
    disk = DiskCache.for_run(config)
    if not fits and disk is None:
        return None
    cached_train, cached_val = cached_stages(data)
    train = _decoded(disk, cached_train, "train", config, in_memory=fits)
    val = _decoded(disk, cached_val, "val", config, in_memory=fits) if train is not None else None
    if train is None or val is None:
        return None
    if not fits:
        print("cache: on: the splits stream from the memory-mapped disk cache", flush=True)
    return train, val


def _decoded(
    disk: DiskCache | None, dataset: Dataset, name: str, config: RunConfig, in_memory: bool
) -> CachedTensors | None:
    """A split decoded once: from the disk cache when there is one, else into memory."""
    if disk is None or isinstance(dataset, TensorDataset):
        return decode(dataset, name, config.num_workers)
    pair = disk.load_or_decode(
        name,
        lambda allocate: astuple(decode(dataset, name, config.num_workers, allocate)),
        in_memory,
    )
    return None if pair is None else CachedTensors(*pair)
