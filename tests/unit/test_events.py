"""A batch of new rows is encoded once for all the clients in step, and right for each cursor."""

from __future__ import annotations

from datetime import UTC, datetime

from app.web.event_stream import Batch, Cursor

VERSION = datetime(2026, 1, 1, tzinfo=UTC)


def _batch() -> Batch:
    return Batch(
        run_version=VERSION,
        run='{"id": 1}',
        epochs=[(1, '{"epoch": 1}')],
        steps=[(1, '{"step": 1}'), (2, '{"step": 2}'), (3, '{"step": 3}')],
    )


def test_clients_at_the_same_cursor_share_one_encoding_and_move_to_the_head() -> None:
    batch = _batch()
    first, second = Cursor(), Cursor()
    chunk = batch.sse_for(first)
    assert batch.sse_for(second) is chunk  # built once, sent to both
    assert chunk == (
        b'id: 0:0\r\nevent: run\r\ndata: {"id": 1}\r\n\r\n'
        b'id: 1:0\r\nevent: epoch\r\ndata: {"epoch": 1}\r\n\r\n'
        b'id: 1:3\r\nevent: steps\r\ndata: [{"step": 1},{"step": 2},{"step": 3}]\r\n\r\n'
    )
    assert (first.epoch, first.step, first.run_version) == (1, 3, VERSION)
    assert (second.epoch, second.step, second.run_version) == (1, 3, VERSION)
    assert batch.sse_for(first) == b""  # nothing new for a client at the head


def test_a_client_further_on_gets_only_what_it_has_not_seen() -> None:
    batch = _batch()
    behind, ahead = Cursor(), Cursor(epoch=1, step=2, run_version=VERSION)
    batch.sse_for(behind)
    assert batch.sse_for(ahead) == b'id: 1:3\r\nevent: steps\r\ndata: [{"step": 3}]\r\n\r\n'
    assert (ahead.epoch, ahead.step) == (1, 3)
