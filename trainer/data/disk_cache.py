"""Decoded splits kept on disk, memory-mapped: a data set is decoded once for all its runs.

The in-memory cache (trainer/data/tensor_cache.py) decodes each split once per run. With a
cache folder (`TORCHDASH_CACHE_DIR`, which the worker sets from its settings), the decode
writes straight into files of that folder, and every later run, trial or resume of the same
data maps those files instead of decoding: the page cache serves the bytes, a split larger than
the memory budget included (its batches are index gathers over the mapping, paged in on
demand). An entry is keyed by the files' identity (trainer/data/data_identity.py), the split and
the pipeline key; the folder's rules (one writer, atomic publish, checks, eviction) are
trainer/data/cache_store.py's.

Nothing here may fail a run: a folder that is read-only, full or holds a damaged entry prints
one line and the split is decoded as if there were no disk cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from trainer.config import RunConfig
from trainer.data.cache_store import BadEntry, CacheStore, Entry, TensorFile, file_crc32
from trainer.data.data_identity import describe, source_identity
from trainer.data.datasets import decodes_to_eight_bit, pipeline_steps
from trainer.data.transforms import split_steps
from trainer.faults import fault_point

Pair = tuple[torch.Tensor, torch.Tensor]
# Where `decode` puts a split: (inputs shape, inputs dtype, targets shape, targets dtype).
Allocate = Callable[[tuple[int, ...], torch.dtype, tuple[int, ...], torch.dtype], Pair]
TENSOR_NAMES = ("inputs", "targets")
DTYPES = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (
        torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.uint8, torch.int8,
        torch.int16, torch.int32, torch.int64, torch.bool,
    )
}  # fmt: skip


def cached_stage_key(config: RunConfig) -> str:
    """A stable text naming what the cache holds for `config`'s data: per split, the steps of
    its cached stage (as JSON) and their dtype. Two configs with the same key and the same files
    cache the same tensors (a normalize step without mean/std is measured on those files)."""
    eight_bit = decodes_to_eight_bit(config.data)
    stages = {}
    for split in ("train", "val"):
        stage = split_steps(pipeline_steps(config.data, split), eight_bit)
        stages[split] = {
            "steps": [step.model_dump(mode="json") for step in stage.cached],
            "dtype": str(stage.dtype).removeprefix("torch."),
        }
    return json.dumps({"data": config.data.kind, **stages}, sort_keys=True, separators=(",", ":"))


class DiskCache:
    """The disk cache of one run's data: its splits' entries in `store`."""

    def __init__(self, store: CacheStore, source: str, pipeline: str, label: str) -> None:
        self.store = store
        self.source = source
        self.pipeline = pipeline
        self.label = label

    @classmethod
    def for_run(cls, config: RunConfig) -> DiskCache | None:
        """The disk cache for `config`'s data; None when there is no cache folder or the data's
        files cannot be named (a plugin Dataset, a table or a text: said in the log)."""
        store = CacheStore.from_environment()
        if store is None:
            return None
        try:
            source = source_identity(config.data)
        except OSError as error:  # a data folder the run itself will report missing
            print(f"cache: disk cache off: {error}", flush=True)
            return None
        if source is None:
            print(f"cache: disk cache off: {config.data.kind} data is not decoded", flush=True)
            return None
        return cls(store, source, cached_stage_key(config), describe(config.data))

    def key(self, split: str) -> str:
        text = json.dumps({"source": self.source, "split": split, "pipeline": self.pipeline})
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def load_or_decode(
        self, split: str, decode: Callable[[Allocate | None], Pair], in_memory: bool
    ) -> Pair | None:
        """The split's tensors from the cache, else decoded by `decode` into it; when the folder
        fails, decoded into memory (`in_memory`), or None: the caller reads it item by item."""
        key = self.key(split)
        hit = self.read(key, split)
        if hit is not None:
            return hit
        try:
            note = f"cache: waiting for another process decoding the {split} split to disk"
            with self.store.writer_lock(key, note):
                hit = self.read(key, split)  # published while this process waited
                if hit is not None:
                    return hit
                return self._decode_to_disk(key, split, decode)
        except OSError as error:
            then = "decoding into memory" if in_memory else "reading it item by item"
            print(
                f"cache: disk cache folder {self.store.root} cannot take the {split} split "
                f"({error}); {then}",
                flush=True,
            )
            return decode(None) if in_memory else None

    def read(self, key: str, split: str) -> Pair | None:
        """The entry `key` mapped, when present and sound; a damaged one is removed."""
        started = time.perf_counter()
        try:
            entry = self.store.entry(key)
            tensors = [_map(entry, tensor) for tensor in entry.tensors]
        except FileNotFoundError:
            return None
        except (BadEntry, OSError, RuntimeError, ValueError) as error:
            print(
                f"cache: disk cache entry of the {split} split is unusable ({error}); "
                "decoding it again",
                flush=True,
            )
            self.store.remove(key)  # gone with a read-only folder too: the decode says so
            return None
        self.store.touch(entry)
        inputs, targets = tensors
        print(
            f"cache: read {split} split from disk cache, {len(targets):,} items, "
            f"{entry.nbytes / 2**20:,.1f} MB in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        return inputs, targets

    def _decode_to_disk(
        self, key: str, split: str, decode: Callable[[Allocate | None], Pair]
    ) -> Pair:
        temp = self.store.new_temp(key)
        files: list[TensorFile] = []
        mapped: list[np.memmap] = []

        def allocate(*layout: object) -> Pair:
            ishape, idtype, tshape, tdtype = layout
            needed = _nbytes(ishape, idtype) + _nbytes(tshape, tdtype)  # type: ignore[arg-type]
            fault_point("cache")  # test seam: a folder that fills up here
            if not self.store.make_room(needed, keep=key):
                raise OSError(
                    f"{needed / 2**20:,.0f} MB do not fit the limit of "
                    f"{self.store.limit_bytes >> 20:,} MB (TORCHDASH_CACHE_LIMIT_MB)"
                )
            made = []
            for name, shape, dtype in (("inputs", ishape, idtype), ("targets", tshape, tdtype)):
                array, tensor = _new_file(temp / f"{name}.bin", shape, dtype)  # type: ignore[arg-type]
                mapped.append(array)
                made.append(tensor)
                nbytes = _nbytes(shape, dtype)  # type: ignore[arg-type]
                files.append(TensorFile(name, _dtype_name(dtype), shape, nbytes, 0))  # type: ignore[arg-type]
            return made[0], made[1]

        try:
            decode(allocate)
            for array in mapped:
                array.flush()
            checked = [
                TensorFile(
                    f.name, f.dtype, f.shape, f.nbytes, file_crc32(temp / f"{f.name}.bin", f.nbytes)
                )
                for f in files
            ]
            del mapped[:]
            entry = self.store.publish(temp, key, f"{self.label} ({split})", checked)
        except BaseException:  # an error, or a signal mid-decode: no half-written folder stays
            shutil.rmtree(temp, ignore_errors=True)
            raise
        print(
            f"cache: wrote {split} split to disk cache {self.store.root} "
            f"({entry.nbytes / 2**20:,.1f} MB)",
            flush=True,
        )
        inputs, targets = (_map(entry, tensor) for tensor in entry.tensors)
        return inputs, targets


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _nbytes(shape: tuple[int, ...], dtype: torch.dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * torch.empty((), dtype=dtype).element_size()


def _new_file(
    path: Path, shape: tuple[int, ...], dtype: torch.dtype
) -> tuple[np.memmap, torch.Tensor]:
    """A file of the tensor's size, its blocks reserved first: a full disk is an OSError here,
    where writes into a mapping of a sparse file would kill the process with SIGBUS."""
    nbytes = max(_nbytes(shape, dtype), 1)
    with path.open("wb") as stream:
        os.posix_fallocate(stream.fileno(), 0, nbytes)
    array = np.memmap(path, dtype=np.uint8, mode="r+", shape=(nbytes,))
    return array, _as_tensor(array, shape, dtype)


def _map(entry: Entry, tensor: TensorFile) -> torch.Tensor:
    """The entry's tensor file, mapped copy-on-write: read from the page cache, never written
    back (nothing writes to cached tensors; a stray write stays in this process)."""
    if tensor.dtype not in DTYPES:
        raise BadEntry(f"unknown dtype {tensor.dtype!r}")
    dtype = DTYPES[tensor.dtype]
    if tensor.nbytes != _nbytes(tensor.shape, dtype):
        raise BadEntry(f"{tensor.name}: {tensor.nbytes} bytes for shape {tensor.shape}")
    if tensor.nbytes == 0:
        return torch.empty(tensor.shape, dtype=dtype)
    array = np.memmap(entry.file(tensor.name), dtype=np.uint8, mode="c", shape=(tensor.nbytes,))
    return _as_tensor(array, tensor.shape, dtype)


def _as_tensor(array: np.memmap, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    count = int(np.prod(shape, dtype=np.int64))
    return torch.from_numpy(array).view(dtype)[:count].view(shape)
