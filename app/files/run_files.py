"""`RunFiles`: a run's checkpoints, evaluation file and uploads, in a folder or an S3 bucket.

Layout under the store's root (TORCHDASH_STORAGE; default `<home>/runs`):

    <root>/<run id>/checkpoints/epoch-NNNN[-partial]/{model,optimizer,state}.pt
    <root>/<run id>/evaluation.json
    <root>/uploads/<hex>.pt                (default storage: `<home>/uploads`, as before)

A checkpoint row records the checkpoint's location: a folder path, or `s3://bucket/...`. Writes
are atomic for a reader. In a folder, the trainer fills a temporary folder and renames it
(trainer/checkpoints/store.py), and files here are written to a temporary name, fsynced and renamed.
In a bucket, one PUT per object is atomic (an object is whole or absent); the trainer writes to a
node-local staging folder, and `publish_checkpoint` uploads its files under a prefix of its own,
never over an older checkpoint, before the worker records the row that points to it: a reader,
who finds checkpoints through rows only, sees a whole checkpoint or none.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property, wraps
from pathlib import Path
from typing import IO, TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from app.errors import NotFoundError, StorageUnavailable
from app.settings import Settings
from trainer.checkpoints.store import MODEL_FILE, OPTIMIZER_FILE, STATE_FILE

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

# state.pt last: a checkpoint folder whose state.pt is there has its two other files too.
CHECKPOINT_FILES = (MODEL_FILE, OPTIMIZER_FILE, STATE_FILE)
EVALUATION_FILE = "evaluation.json"
CHUNK_BYTES = 1 << 20

P = ParamSpec("P")
R = TypeVar("R")


def _reachable(
    method: Callable[Concatenate[RunFiles, P], R],
) -> Callable[Concatenate[RunFiles, P], R]:
    """A failure to reach the bucket (network, credentials) becomes StorageUnavailable, which
    the API answers with 503; a missing file stays FileNotFoundError / NotFoundError."""

    @wraps(method)
    def call(store: RunFiles, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(store, *args, **kwargs)
        except (FileNotFoundError, NotFoundError, StorageUnavailable):
            raise
        except OSError as error:  # s3fs and botocore errors reach here as OSError subclasses
            raise StorageUnavailable(f"storage {store.describe} failed: {error}") from error

    return call


@dataclass(frozen=True)
class StoredFile:
    """A file found in the store: its path there, its size, and its local path if it has one."""

    path: str
    size: int
    local: Path | None


class RunFiles:
    """Where runs' files live, for one set of settings (the server's or a worker's)."""

    def __init__(self, settings: Settings) -> None:
        self.remote = bool(settings.storage and settings.storage.startswith("s3://"))
        self.endpoint = settings.storage_endpoint
        self.describe = repr(settings.storage or str(settings.runs_dir))
        if self.remote:
            self.root = str(settings.storage)[len("s3://") :].rstrip("/")
            self.uploads_root = f"{self.root}/uploads"
        elif settings.storage:
            self.root = str(Path(settings.storage).expanduser().resolve())
            self.uploads_root = f"{self.root}/uploads"
        else:  # unset: exactly the folders of before, so existing rows' paths keep working
            self.root = str(settings.runs_dir)
            self.uploads_root = str(settings.uploads_dir)
        # Node-local: what a worker on S3 storage writes before it uploads, and fetches to load.
        self.staging_root = settings.home_dir / "staging"

    @cached_property
    def fs(self) -> AbstractFileSystem:
        import fsspec  # here: the server starts without it (bench/server_light.py)

        if not self.remote:
            return fsspec.filesystem("file")
        # No listings cache: other processes (workers, the server) write the same bucket.
        return fsspec.filesystem(
            "s3", endpoint_url=self.endpoint, use_listings_cache=False, skip_instance_cache=True
        )

    # ----- locations -------------------------------------------------------------------------

    def _run_prefix(self, run_id: int) -> str:
        return f"{self.root}/{run_id}"

    def _checkpoints_prefix(self, run_id: int) -> str:
        return f"{self.root}/{run_id}/checkpoints"

    def _location(self, path: str) -> str:
        """What a row records: a folder path, or the object prefix as an s3:// URL."""
        return f"s3://{path}" if self.remote else path

    def _inside(self, location: str, prefix: str, what: str) -> str:
        """The store path of a stored `location`, checked to lie inside `prefix`."""
        if self.remote:
            path = posixpath.normpath(location.removeprefix("s3://"))
            inside = path.startswith(prefix + "/") and location.startswith("s3://")
        else:
            resolved = Path(location).resolve()
            path, inside = str(resolved), resolved.is_relative_to(prefix)
        if not inside:  # a stored path is checked before anything is read or deleted
            raise NotFoundError(f"{what} is not inside the storage {self.describe}")
        return path

    def checkpoint_workdir(self, run_id: int) -> Path:
        """The folder the trainer writes this run's checkpoints to, on this node."""
        if self.remote:
            return self.staging_root / str(run_id) / "checkpoints"
        return Path(self._checkpoints_prefix(run_id))

    # ----- checkpoints -----------------------------------------------------------------------

    @_reachable
    def publish_checkpoint(self, run_id: int, folder: Path) -> str:
        """Make a checkpoint the trainer saved in `checkpoint_workdir` readable everywhere and
        return the location its row records. Folder storage: it is already in place."""
        if not self.remote:
            return str(folder)
        # A prefix of its own: a rewritten epoch (a fallback resume) never overwrites the
        # objects an existing row points to; the worker removes the replaced one afterwards.
        target = f"{self._checkpoints_prefix(run_id)}/{folder.name}-{uuid.uuid4().hex[:12]}"
        for name in CHECKPOINT_FILES:
            self.fs.put_file(str(folder / name), f"{target}/{name}")
        shutil.rmtree(folder, ignore_errors=True)  # staging holds nothing once uploaded
        return self._location(target)

    @_reachable
    def store_received_checkpoint(self, run_id: int, epoch: int, parts: dict[str, Path]) -> str:
        """Store checkpoint files received over HTTP (`model.pt`, and `optimizer.pt`,
        `state.pt` when sent) as one new checkpoint of `epoch`; return its location.

        Under a name of its own, never over a stored checkpoint: a folder filled under a
        temporary name then renamed, or one PUT per object under a fresh prefix."""
        name = f"epoch-{epoch:04d}-{uuid.uuid4().hex[:12]}"
        if self.remote:
            target = f"{self._checkpoints_prefix(run_id)}/{name}"
            for file_name, received in parts.items():
                self.fs.put_file(str(received), f"{target}/{file_name}")
            return self._location(target)
        parent = Path(self._checkpoints_prefix(run_id))
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".tmp-{name}"
        staging.mkdir()
        try:
            for file_name, received in parts.items():
                shutil.move(received, staging / file_name)  # fsynced when it was received
            os.replace(staging, parent / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return str(parent / name)

    @_reachable
    def fetch_checkpoint(self, run_id: int, location: str, for_run: int) -> Path:
        """A local folder holding run `run_id`'s checkpoint at `location`, for torch.load.
        Folder storage: the folder itself; a bucket: a copy in `for_run`'s staging folder."""
        path = self._inside(location, self._checkpoints_prefix(run_id), f"checkpoint {location}")
        if not self.remote:
            return Path(path)
        into = self.staging_root / str(for_run) / "fetched" / f"{run_id}-{posixpath.basename(path)}"
        into.mkdir(parents=True, exist_ok=True)
        for name in CHECKPOINT_FILES:
            if not (into / name).is_file():
                self._get_file(f"{path}/{name}", into / name)
        return into

    @_reachable
    def checkpoint_file(self, run_id: int, location: str, name: str) -> StoredFile:
        """One file (`model.pt`, ...) of a recorded checkpoint; NotFoundError if it is gone."""
        path = self._inside(location, self._checkpoints_prefix(run_id), f"checkpoint {location}")
        file = f"{path}/{name}"
        if not self.fs.isfile(file):
            raise NotFoundError(f"checkpoint file {name} of run {run_id} is missing")
        return StoredFile(file, int(self.fs.size(file)), None if self.remote else Path(file))

    def open_file(self, file: StoredFile) -> IO[bytes]:
        return self.fs.open(file.path, "rb")

    def stream(self, file: StoredFile) -> Iterator[bytes]:
        """The file's bytes in chunks, for a streamed download."""
        with self.open_file(file) as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk

    @_reachable
    def remove_checkpoint(self, run_id: int, location: str) -> None:
        """Delete a checkpoint of the run (every object under its prefix); gone is fine."""
        path = self._inside(location, self._checkpoints_prefix(run_id), f"checkpoint {location}")
        self._remove_tree(path)

    @_reachable
    def remove_run(self, run_id: int) -> None:
        """Delete everything the store holds for the run."""
        self._remove_tree(self._run_prefix(run_id))

    def clear_staging(self, run_id: int) -> None:
        """Remove this node's staging copies of the run (S3 storage; nothing otherwise)."""
        shutil.rmtree(self.staging_root / str(run_id), ignore_errors=True)

    # ----- the evaluation file ---------------------------------------------------------------

    @_reachable
    def write_evaluation(self, run_id: int, data: bytes) -> None:
        self._write(f"{self._run_prefix(run_id)}/{EVALUATION_FILE}", data)

    @_reachable
    def read_evaluation(self, run_id: int) -> bytes | None:
        """The run's evaluation file, or None when there is none (yet)."""
        try:
            return self.fs.cat_file(f"{self._run_prefix(run_id)}/{EVALUATION_FILE}")
        except FileNotFoundError:
            return None

    # ----- uploads ---------------------------------------------------------------------------

    def upload_receiving_dir(self) -> Path:
        """The local folder an upload is streamed into before `publish_upload`."""
        return self.staging_root / "uploads" if self.remote else Path(self.uploads_root)

    @_reachable
    def publish_upload(self, received: Path) -> str:
        """Store a fully received (fsynced) upload under a name of ours; return its location."""
        name = f"{uuid.uuid4().hex}.pt"  # the stored name is ours: the client's is only a label
        if not self.remote:
            final = Path(self.uploads_root) / name
            os.replace(received, final)
            return str(final)
        try:
            self.fs.put_file(str(received), f"{self.uploads_root}/{name}")
        finally:
            received.unlink(missing_ok=True)
        return self._location(f"{self.uploads_root}/{name}")

    @_reachable
    def fetch_upload(self, location: str, for_run: int) -> Path:
        """A local copy (or the file itself, in a folder) of an upload, for torch.load."""
        path = self._inside(location, self.uploads_root, f"upload {location}")
        if not self.remote:
            return Path(path)
        into = self.staging_root / str(for_run) / "fetched" / posixpath.basename(path)
        into.parent.mkdir(parents=True, exist_ok=True)
        self._get_file(path, into)
        return into

    def upload_file(self, location: str) -> StoredFile:
        """A stored upload, for reading in place (the bundle); NotFoundError if it is gone."""
        path = self._inside(location, self.uploads_root, f"upload {location}")
        if not self.fs.isfile(path):
            raise NotFoundError(f"upload {location} is missing")
        return StoredFile(path, int(self.fs.size(path)), None if self.remote else Path(path))

    # ----- the store itself ------------------------------------------------------------------

    def check(self) -> None:
        """Raise StorageUnavailable, saying why, when the store cannot be used (at start)."""
        try:
            if self.remote:
                bucket = self.root.split("/", 1)[0]
                self.fs.ls(bucket)  # raises when the endpoint, the credentials or the bucket fail
            else:
                Path(self.root).mkdir(parents=True, exist_ok=True)
        except StorageUnavailable:
            raise
        except Exception as error:  # botocore's and aiohttp's errors are of many types
            raise StorageUnavailable(
                f"storage {self.describe} cannot be reached"
                + (f" at {self.endpoint}" if self.endpoint else "")
                + f": {type(error).__name__}: {error}"
            ) from error

    def _write(self, path: str, data: bytes) -> None:
        if self.remote:
            self.fs.pipe_file(path, data)  # one PUT: the object is whole or absent
            return
        final = Path(path)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = final.with_name(f".tmp-{final.name}-{uuid.uuid4().hex}")
        try:
            with open(staging, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(staging, final)
        finally:
            staging.unlink(missing_ok=True)

    def _get_file(self, path: str, into: Path) -> None:
        """Download one object to `into` atomically (a partial download is never left)."""
        partial = into.with_name(f".part-{into.name}-{uuid.uuid4().hex}")
        try:
            self.fs.get_file(path, str(partial))
            os.replace(partial, into)
        finally:
            partial.unlink(missing_ok=True)

    def _remove_tree(self, path: str) -> None:
        try:
            self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass

    def __repr__(self) -> str:
        return f"RunFiles({self.describe})"
