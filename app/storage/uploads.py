"""Checkpoint uploads: streamed to disk within a size limit, never unpickled by the server.

The server only stores bytes. A worker reads an upload as a model state_dict with
`torch.load(..., weights_only=True)` (`trainer.checkpoints.training_state.load_weights`), which
refuses any pickle that would build arbitrary objects or call functions.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.orm import Session

from app.errors import NotFoundError, UploadTooLarge
from app.storage.tables import Upload


async def receive_upload(
    chunks: AsyncIterator[bytes], folder: Path, limit: int, declared_length: int | None
) -> tuple[Path, int]:
    """Write the streamed body to a partial file in `folder`, fsynced; (its path, its size).

    UploadTooLarge past `limit` bytes, and no file is left. The caller stores the file where
    uploads live (`RunFiles.publish_upload`), then records it (`record_upload`)."""
    if declared_length is not None and declared_length > limit:
        raise UploadTooLarge(f"upload of {declared_length} bytes exceeds the {limit}-byte limit")
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".part-{uuid.uuid4().hex}.pt"
    size = 0
    try:
        with open(partial, "wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:  # stop reading at once: the rest of the body is never read
                    raise UploadTooLarge(f"upload exceeds the {limit}-byte limit")
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return partial, size


def record_upload(session: Session, filename: str, location: str, size: int) -> Upload:
    """Record a stored upload (a folder path or an s3:// URL), labelled with the client's name."""
    upload = Upload(filename=filename[:255], path=location, size_bytes=size)
    session.add(upload)
    session.flush()
    return upload


def get_upload(session: Session, upload_id: int) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFoundError(f"upload {upload_id} not found")
    return upload
