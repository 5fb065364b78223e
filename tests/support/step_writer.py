"""A process that writes step rows the way a worker does (for tests/api/test_storage.py)."""

from __future__ import annotations

import sys

from app.storage import metrics
from app.storage.engine import make_engine, make_session_factory, session_scope


def main(url: str, run_id: int, rows: int, per_transaction: int) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    for start in range(1, rows + 1, per_transaction):
        batch = [
            {"step": step, "epoch": 1, "loss": 1.0 / step}
            for step in range(start, min(start + per_transaction, rows + 1))
        ]
        with session_scope(factory) as session:
            metrics.write_steps(session, run_id, batch)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
