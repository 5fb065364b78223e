"""Step-loss rollups: kept exact across uneven flushes and resumes, and used for chart reads."""

from __future__ import annotations

import random
from itertools import groupby

from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from app.settings import Settings
from app.storage import metrics
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.rollups import WIDTHS
from app.storage.tables import StepRollup


def write_in_flushes(factory, run_id: int, steps: range, rng: random.Random) -> None:
    # A null loss (a step whose loss was not finite) here and there, and a stretch of them that
    # fills whole buckets of 16 and 256 steps.
    rows = [
        {"step": s, "epoch": 1 + s // 1000, "loss": None if _diverged(s, rng) else rng.random()}
        for s in steps
    ]
    start = 0
    while start < len(rows):
        size = rng.choice([1, 7, 300, 5000])
        with session_scope(factory) as session:
            metrics.write_steps(session, run_id, rows[start : start + size])
        start += size


def _diverged(step: int, rng: random.Random) -> bool:
    return 2049 <= step <= 2304 or rng.random() < 0.02


def expected_buckets(factory, run_id: int) -> dict:
    with session_scope(factory) as session:
        points = metrics.read_step_points(session, run_id)
    expected = {}
    for width in WIDTHS:
        for bucket, members in groupby(points, key=lambda p: (p[0] - 1) // width):
            group = list(members)
            # A null loss is never the lowest nor the highest; a bucket of nulls only keeps
            # its first step, with null.
            finite = [p for p in group if p[1] is not None] or group[:1]
            low = min(finite, key=lambda p: p[1] if p[1] is not None else 0)
            high = max(finite, key=lambda p: p[1] if p[1] is not None else 0)
            expected[(width, bucket)] = (low[0], low[1], high[0], high[1])
    return expected


def stored_buckets(factory, run_id: int) -> dict:
    with session_scope(factory) as session:
        rows = session.scalars(select(StepRollup).where(StepRollup.run_id == run_id)).all()
        return {(r.width, r.bucket): (r.min_step, r.min_loss, r.max_step, r.max_loss) for r in rows}


def test_rollups_match_the_step_rows_across_flushes_and_a_resume(
    client: TestClient, make_run, settings: Settings
) -> None:
    run_id = make_run()["id"]
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    rng = random.Random(0)
    write_in_flushes(factory, run_id, range(1, 9001), rng)
    assert stored_buckets(factory, run_id) == expected_buckets(factory, run_id)

    # A resume from step 5000 drops later rows, then writes them again (other values).
    with session_scope(factory) as session:
        metrics.trim_after(session, run_id, epoch=5, step=5000)
    assert stored_buckets(factory, run_id) == expected_buckets(factory, run_id)
    write_in_flushes(factory, run_id, range(5001, 12001), rng)
    assert stored_buckets(factory, run_id) == expected_buckets(factory, run_id)
    engine.dispose()


def test_chart_of_100000_steps_is_read_from_rollups_and_keeps_extremes(
    client: TestClient, make_run, settings: Settings
) -> None:
    run_id = make_run()["id"]
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    rng = random.Random(1)
    rows = [{"step": s, "epoch": 1, "loss": rng.random()} for s in range(1, 100_001)]
    rows[31_337]["loss"], rows[77_777]["loss"] = -5.0, 9.0  # a dip and a spike
    for row in rows[61_440:69_632]:  # a diverged stretch: two whole buckets of 4096 steps
        row["loss"] = None
    with session_scope(factory) as session:
        metrics.write_steps(session, run_id, rows)

    steps = client.get(f"/api/runs/{run_id}/metrics", params={"max_points": 2000}).json()["steps"]
    assert 1000 <= len(steps) <= 2000  # at least half of what the chart asks for
    assert [p["step"] for p in steps] == sorted(p["step"] for p in steps)
    losses = {p["step"]: p["loss"] for p in steps}
    assert losses[31_338] == -5.0 and losses[77_778] == 9.0
    gaps = [step for step, loss in losses.items() if loss is None]
    assert gaps and all(61_441 <= step <= 69_632 for step in gaps)  # the chart's gap

    # A run recorded before rollups existed is downsampled from its rows, to the same bound.
    with session_scope(factory) as session:
        session.execute(delete(StepRollup).where(StepRollup.run_id == run_id))
    old = client.get(f"/api/runs/{run_id}/metrics", params={"max_points": 2000}).json()["steps"]
    assert len(old) == 2000 and {-5.0, 9.0, None} <= {p["loss"] for p in old}
    engine.dispose()


def test_a_chart_gets_at_least_half_the_points_it_asks_for(
    client: TestClient, make_run, settings: Settings
) -> None:
    run_id = make_run()["id"]
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    rng = random.Random(2)
    rows = [{"step": s, "epoch": 1 + s // 1000, "loss": rng.random()} for s in range(1, 10_001)]
    rows[4_321]["loss"] = 7.0  # a spike the chart must keep
    with session_scope(factory) as session:
        metrics.write_steps(session, run_id, rows)
    for asked in (320, 700, 2500, 6000):
        url = f"/api/runs/{run_id}/metrics"
        steps = client.get(url, params={"max_points": asked}).json()["steps"]
        assert asked / 2 <= len(steps) <= asked, asked
        assert 7.0 in {p["loss"] for p in steps}
    engine.dispose()
