"""The runs list sorts and filters on the server (GET /api/runs?sort=&order=&status=), pages
never overlap, and each sorted query walks an index instead of sorting the table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text, update

from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import Run
from tests.support.database import sqlite_only


def _set(settings: Settings, run_id: int, **values: Any) -> None:
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        session.execute(update(Run).where(Run.id == run_id).values(**values))
    engine.dispose()


def test_sort_order_status_filter_and_pages(
    client: TestClient, make_run: Callable[..., dict[str, Any]], settings: Settings
) -> None:
    accuracies = {"bravo": 0.5, "alpha": 0.9, "delta": None, "charlie": 0.7}
    ids = {}
    for name, accuracy in accuracies.items():
        ids[name] = make_run(name=name)["id"]
        _set(settings, ids[name], best_val_accuracy=accuracy, status="succeeded")
    _set(settings, ids["charlie"], status="failed")

    def names(**params: Any) -> list[str]:
        response = client.get("/api/runs", params=params)
        assert response.status_code == 200, response.text
        return [run["name"] for run in response.json()["runs"]]

    assert names() == ["charlie", "delta", "alpha", "bravo"]  # newest first, as before
    assert names(sort="name", order="asc") == ["alpha", "bravo", "charlie", "delta"]
    # A run with no accuracy sorts as the smallest, on SQLite and PostgreSQL alike.
    assert names(sort="best_val_accuracy", order="desc") == ["alpha", "charlie", "bravo", "delta"]
    assert names(sort="best_val_accuracy", order="asc") == ["delta", "bravo", "charlie", "alpha"]
    assert names(sort="name", order="desc", status="succeeded") == ["delta", "bravo", "alpha"]
    pages = [names(sort="name", order="asc", limit=1, offset=k) for k in range(4)]
    assert pages == [["alpha"], ["bravo"], ["charlie"], ["delta"]]

    bad = client.get("/api/runs", params={"sort": "config"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "sort"]
    beyond = client.get("/api/runs", params={"offset": 2**63})
    assert beyond.status_code == 422 and beyond.json()["detail"][0]["loc"] == ["query", "offset"]
    assert client.get(f"/api/runs/{2**64}").status_code == 422  # was a 500 (OverflowError)


@sqlite_only("reads SQLite's query plans")
def test_every_sorted_page_walks_an_index(client: TestClient, settings: Settings) -> None:
    from app.runs.lifecycle import SORT_COLUMNS

    engine = make_engine(settings.sqlalchemy_url)
    sorting = []
    with engine.connect() as connection:
        for column in SORT_COLUMNS:
            for where in ("", "WHERE status = 'succeeded'"):
                sql = f"SELECT id FROM runs {where} ORDER BY {column} DESC, id DESC LIMIT 50"
                plan = connection.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
                if any("TEMP B-TREE" in row[-1] for row in plan):
                    sorting.append(sql)
    engine.dispose()
    assert sorting == []
