"""The on-disk cache's folder: entries of decoded tensors, their checks, one writer per entry,
and least-recently-used eviction under a size limit. Torch-free, so the `torchdash cache`
command can list and clear it without loading torch (the tensors: trainer/data/disk_cache.py).

    <cache_dir>/entries/<key>/meta.json     what the entry holds (see `Entry`), written last
    <cache_dir>/entries/<key>/<name>.bin    each tensor's raw bytes, C order
    <cache_dir>/tmp/<key>.<pid>/            an entry being written, renamed into entries/ whole
    <cache_dir>/locks/<key>.lock            held by the one process writing that entry
    <cache_dir>/checks/<key>.json           an image folder's check, kept for unchanged files

An entry is never changed once published: a rename of its whole folder makes it appear at
once, so a reader needs no lock. A reader checks the header, each file's length and its CRC-32
before trusting a byte; a changed data file gives a new key rather than a changed entry.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

DIR_ENV = "TORCHDASH_CACHE_DIR"
LIMIT_ENV = "TORCHDASH_CACHE_LIMIT_MB"
DEFAULT_LIMIT_MB = 20_480
FORMAT = 1  # bumped when the layout changes: older entries are then refused, never misread
META = "meta.json"
CHUNK = 64 << 20  # bytes checksummed at a time


class BadEntry(Exception):
    """An entry that cannot be trusted (truncated, a wrong header, a checksum that differs)."""


@dataclass(frozen=True)
class TensorFile:
    """One tensor of an entry: its file `<name>.bin`, dtype (torch's name), shape and checks."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    crc32: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "nbytes": self.nbytes,
            "crc32": self.crc32,
        }


@dataclass(frozen=True)
class Entry:
    """A published entry: what data it decodes (`describe`), its tensors, when last used."""

    key: str
    folder: Path
    describe: str
    tensors: tuple[TensorFile, ...]
    last_used: float

    @property
    def nbytes(self) -> int:
        return sum(tensor.nbytes for tensor in self.tensors)

    def file(self, name: str) -> Path:
        return self.folder / f"{name}.bin"


def file_crc32(path: Path, nbytes: int) -> int:
    """CRC-32 of the first `nbytes` of `path`, read in chunks."""
    crc = 0
    with path.open("rb") as stream:
        left = nbytes
        while left:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            left -= len(chunk)
    return crc


class CacheStore:
    """The cache folder `root`, holding at most `limit_bytes` of entries."""

    def __init__(self, root: Path, limit_bytes: int) -> None:
        self.root = root
        self.limit_bytes = limit_bytes
        self.entries_dir = root / "entries"
        self.temp_dir = root / "tmp"
        self.locks_dir = root / "locks"
        self.checks_dir = root / "checks"

    @classmethod
    def from_environment(cls) -> CacheStore | None:
        """The store `TORCHDASH_CACHE_DIR` names (the worker sets it from its settings); None
        when unset or when the limit is 0: the trainer used on its own keeps no disk cache."""
        folder = os.environ.get(DIR_ENV)
        limit_mb = int(os.environ.get(LIMIT_ENV) or DEFAULT_LIMIT_MB)
        if not folder or limit_mb <= 0:
            return None
        return cls(Path(folder), limit_mb << 20)

    # Reading ------------------------------------------------------------------------------

    def entry(self, key: str, verify: bool = True) -> Entry:
        """The published entry `key`: FileNotFoundError when absent, BadEntry when it cannot be
        trusted. `verify` reads every byte for its checksum."""
        folder = self.entries_dir / key
        meta_path = folder / META
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("format") != FORMAT or meta.get("key") != key:
                raise BadEntry(f"header of format {meta.get('format')!r}, not {FORMAT}")
            tensors = tuple(
                TensorFile(t["name"], t["dtype"], tuple(t["shape"]), t["nbytes"], t["crc32"])
                for t in meta["tensors"]
            )
            entry = Entry(key, folder, str(meta["describe"]), tensors, meta_path.stat().st_mtime)
        except FileNotFoundError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise BadEntry(f"unreadable header {meta_path}: {error}") from error
        for tensor in entry.tensors:
            path = entry.file(tensor.name)
            size = path.stat().st_size if path.exists() else -1
            if size != tensor.nbytes:
                raise BadEntry(f"{path} holds {size} bytes, its header says {tensor.nbytes}")
            if verify and file_crc32(path, tensor.nbytes) != tensor.crc32:
                raise BadEntry(f"{path} fails its checksum")
        return entry

    def entries(self) -> list[tuple[str, Entry | BadEntry]]:
        """Every entry folder, most recently used first; an unreadable one as its BadEntry."""
        found: list[tuple[str, Entry | BadEntry]] = []
        if not self.entries_dir.is_dir():
            return found
        for folder in self.entries_dir.iterdir():
            try:
                found.append((folder.name, self.entry(folder.name, verify=False)))
            except FileNotFoundError:
                found.append((folder.name, BadEntry(f"{folder} has no {META}")))
            except BadEntry as error:
                found.append((folder.name, error))
        found.sort(key=lambda item: -item[1].last_used if isinstance(item[1], Entry) else 0)
        return found

    def total_bytes(self) -> int:
        return sum(_folder_bytes(self.entries_dir / key) for key, _ in self.entries())

    def touch(self, entry: Entry) -> None:
        """Mark `entry` used now (its header's time orders eviction); a read-only folder keeps
        the old time, which only makes it an earlier candidate."""
        try:
            os.utime(entry.folder / META)
        except OSError:
            pass

    # Writing ------------------------------------------------------------------------------

    @contextmanager
    def writer_lock(self, key: str, waiting_note: str) -> Iterator[None]:
        """Be the one process that writes `key`; `waiting_note` is printed once if another
        holds it (the lock is released when its process ends, however it ends)."""
        self.locks_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.locks_dir / f"{key}.lock")
        try:
            lock.acquire(timeout=0)
        except TimeoutError:
            print(waiting_note, flush=True)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def new_temp(self, key: str) -> Path:
        """A fresh folder to write entry `key` into; the caller holds the key's lock, so any
        other temp folder of the key was left by a writer that died."""
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.temp_dir.glob(f"{key}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        folder = self.temp_dir / f"{key}.{os.getpid()}"
        folder.mkdir()
        return folder

    def publish(self, temp: Path, key: str, describe: str, tensors: list[TensorFile]) -> Entry:
        """Make the tensors written in `temp` entry `key`: header, fsync, one rename."""
        meta = {
            "format": FORMAT,
            "key": key,
            "describe": describe,
            "created": time.time(),
            "tensors": [tensor.as_dict() for tensor in tensors],
        }
        (temp / META).write_text(json.dumps(meta, indent=1))
        for path in temp.iterdir():
            _fsync(path)
        _fsync(temp)
        self.entries_dir.mkdir(parents=True, exist_ok=True)
        target = self.entries_dir / key
        if target.exists():  # a bad entry the reader could not remove before
            shutil.rmtree(target)
        os.rename(temp, target)
        _fsync(self.entries_dir)
        return self.entry(key, verify=False)

    def make_room(self, needed: int, keep: str = "") -> bool:
        """Evict least recently used entries until `needed` more bytes fit the limit; False
        when they never can. Entries being read stay readable: their files are unlinked, and
        a mapping keeps an unlinked file alive."""
        if needed > self.limit_bytes:
            return False
        used = [(key, item) for key, item in self.entries() if key != keep]
        total = sum(_folder_bytes(self.entries_dir / key) for key, _ in used)
        for key, item in sorted(used, key=lambda kv: _last_used(kv[1])):
            if total + needed <= self.limit_bytes:
                break
            total -= _folder_bytes(self.entries_dir / key)
            self.remove(key)
            label = item.describe if isinstance(item, Entry) else "an unreadable entry"
            print(f"cache: evicted {label} from the disk cache (least recently used)", flush=True)
        return total + needed <= self.limit_bytes

    def remove(self, key: str) -> None:
        shutil.rmtree(self.entries_dir / key, ignore_errors=True)

    def clear(self) -> int:
        """Remove every entry and check; the number of entries removed."""
        count = len(self.entries())
        for folder in (self.entries_dir, self.temp_dir, self.checks_dir):
            shutil.rmtree(folder, ignore_errors=True)
        return count


def _last_used(item: Entry | BadEntry) -> float:
    return item.last_used if isinstance(item, Entry) else 0.0  # unreadable: evicted first


def _folder_bytes(folder: Path) -> int:
    try:
        return sum(path.stat().st_size for path in folder.iterdir())
    except OSError:
        return 0


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
