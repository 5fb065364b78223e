"""Checkpoint uploads: streamed to disk within a size limit, never unpickled by the server.

The server only stores bytes. A worker reads an upload as a model state_dict with
`torch.load(..., weights_only=True)` (`trainer.loop._load_weights`), which refuses any pickle
that would build arbitrary objects or call functions.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.orm import Session

from app.errors import NotFoundError, UploadTooLarge
from app.storage.models import Upload


async def store_upload(
    session: Session,
    chunks: AsyncIterator[bytes],
    folder: Path,
    filename: str,
    limit: int,
    declared_length: int | None,
) -> Upload:
    """Write the streamed body to `folder` and record it; UploadTooLarge past `limit` bytes."""
    if declared_length is not None and declared_length > limit:
        raise UploadTooLarge(f"upload of {declared_length} bytes exceeds the {limit}-byte limit")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.pt"  # the stored name is ours: the client's is only a label
    partial = folder / f".part-{name}"
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
        final = folder / name
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    upload = Upload(filename=filename[:255], path=str(final), size_bytes=size)
    session.add(upload)
    session.flush()
    return upload


def get_upload(session: Session, upload_id: int) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFoundError(f"upload {upload_id} not found")
    return upload
