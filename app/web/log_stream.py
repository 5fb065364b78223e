"""A run's worker log, read incrementally by byte offset, and streamed as Server-Sent Events."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio

MAX_CHUNK_BYTES = 64 * 1024


# Reads the log from a byte offset: (text, the offset to ask for next).
LogReader = Callable[[int], tuple[str, int]]


def read_log_chunk(path: Path, offset: int, limit: int = MAX_CHUNK_BYTES) -> tuple[str, int]:
    """The log's text from byte `offset` (at most `limit` bytes, ending on a whole line when it
    can) and the offset to ask for next. A missing log reads as empty, and so does one read
    from past its end."""
    try:
        with open(path, "rb") as handle:
            # Not a seek past the end: one past what the file system can address (2^63 - 2,
            # a valid offset to the API) raises EINVAL where a page with no text is the answer.
            if offset >= os.fstat(handle.fileno()).st_size:
                return "", offset
            handle.seek(offset)
            data = handle.read(limit)
    except FileNotFoundError:
        return "", offset
    return _whole_lines(data, offset, limit)


def read_text_chunk(text: str | None, offset: int, limit: int = MAX_CHUNK_BYTES) -> tuple[str, int]:
    """The same of a log held whole in memory (a Ray job's, as the Jobs API returns it)."""
    return _whole_lines((text or "").encode()[offset : offset + limit], offset, limit)


def _whole_lines(data: bytes, offset: int, limit: int) -> tuple[str, int]:
    if len(data) == limit and b"\n" in data:
        data = data[: data.rindex(b"\n") + 1]  # a line cut in two would show as two lines
    return data.decode("utf-8", errors="replace"), offset + len(data)


async def log_stream(
    read: LogReader, offset: int, interval: float
) -> AsyncIterator[dict[str, str]]:
    """`log` events with new text as the log grows; the event id is the next byte offset."""
    while True:
        text, offset_after = await anyio.to_thread.run_sync(read, offset)
        if text:
            offset = offset_after
            yield {"event": "log", "id": str(offset), "data": json.dumps({"text": text})}
            continue  # more may be waiting: read again before sleeping
        await anyio.sleep(interval)
