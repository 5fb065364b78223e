"""Fast with many runs: a page of 50 runs and one run, with 10,000 runs in the database, side by
side with 100 runs; the queries' plans use an index (no sort of the whole table).

Each database holds finished runs with 10 epoch rows each (the list's sparklines read them).
The requests go through the real app in this process (FastAPI's TestClient: no network noise).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from app.main import create_app
from app.settings import Settings
from app.storage.engine import make_engine
from app.storage.tables import EpochMetric, Run
from bench.common import Result

SIZES = (100, 10_000)
EPOCHS = 10
REPEATS = 30
CONFIG = {"name": "bench", "max_epochs": EPOCHS}
PAGES = {
    "newest first": "/api/runs?limit=50",
    "sorted by best val accuracy": "/api/runs?limit=50&sort=best_val_accuracy&order=desc",
    "status filter, sorted by name": "/api/runs?limit=50&status=succeeded&sort=name&order=asc",
}
LAST_PAGE = "/api/runs?limit=50&offset={offset}"  # OFFSET walks past every row before it


def fill(home: Path, count: int) -> None:
    """`count` finished runs with their epoch rows, written in bulk."""
    create_app(Settings(home=home), dispatch=False)  # creates the database at the head revision
    engine = make_engine(Settings(home=home).sqlalchemy_url)
    start = datetime(2026, 1, 1)
    with engine.begin() as connection:
        connection.execute(
            insert(Run),
            [
                {
                    "id": i,
                    "name": f"run-{i % 97:02d}-{i}",
                    "status": "succeeded" if i % 3 else "failed",
                    "config": CONFIG,
                    "epoch": EPOCHS,
                    "max_epochs": EPOCHS,
                    "created_at": start + timedelta(seconds=i),
                    "updated_at": start + timedelta(seconds=i),
                    "finished_at": start + timedelta(seconds=i + 60),
                    "best_val_accuracy": (i * 7919 % 1000) / 1000,
                }
                for i in range(1, count + 1)
            ],
        )
        connection.execute(
            insert(EpochMetric),
            [
                {
                    "run_id": i,
                    "epoch": e,
                    "train_loss": 1 / e,
                    "train_accuracy": 0.9,
                    "val_loss": 1 / e,
                    "val_accuracy": 0.9,
                    "lr": 0.001,
                    "seconds": 1.0,
                }
                for i in range(1, count + 1)
                for e in range(1, EPOCHS + 1)
            ],
        )
    engine.dispose()


def median_ms(client: TestClient, url: str) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        assert client.get(url).status_code == 200, url
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def sorts_in_memory(home: Path) -> list[str]:
    """The list queries whose plan sorts rows instead of walking an index."""
    engine = make_engine(Settings(home=home).sqlalchemy_url)
    queries = {
        "sort=id": "SELECT id FROM runs ORDER BY id DESC LIMIT 50",
        "sort=best_val_accuracy": "SELECT id FROM runs ORDER BY best_val_accuracy DESC, id DESC "
        "LIMIT 50",
        "status + sort=name": "SELECT id FROM runs WHERE status = 'succeeded' "
        "ORDER BY name ASC, id ASC LIMIT 50",
        "status + sort=id": "SELECT id FROM runs WHERE status = 'succeeded' ORDER BY id DESC "
        "LIMIT 50",
    }
    with engine.connect() as connection:
        found = [
            name
            for name, sql in queries.items()
            if any(
                "TEMP B-TREE" in row[-1]
                for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
            )
        ]
    engine.dispose()
    return found


def run() -> list[Result]:
    figures: dict[int, dict[str, float]] = {}
    sorting: list[str] = []
    for size in SIZES:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder)
            fill(home, size)
            if size == SIZES[-1]:
                sorting = sorts_in_memory(home)
            app = create_app(Settings(home=home), dispatch=False)
            with TestClient(app, base_url="http://127.0.0.1") as client:
                figures[size] = {name: median_ms(client, url) for name, url in PAGES.items()}
                figures[size]["last page"] = median_ms(client, LAST_PAGE.format(offset=size - 50))
                figures[size]["one run"] = median_ms(client, f"/api/runs/{size // 2}")
                figures[size]["home page"] = median_ms(client, "/")
    small, large = figures[SIZES[0]], figures[SIZES[-1]]
    slowest = max(large[name] for name in PAGES)
    worst_ratio = max(large[name] / small[name] for name in PAGES)
    pages = "; ".join(f"{name} {large[name]:.1f} ms" for name in PAGES)
    return [
        Result(
            "15. a page of 50 runs with 10,000 in the database: a few ms (≤ 10 ms), ≤ 2× 100 runs",
            f"{pages} (medians of {REPEATS}); worst ratio to 100 runs {worst_ratio:.2f}×; the last"
            f" page (offset 9,950) {large['last page']:.1f} ms",
            "100 runs: " + "; ".join(f"{name} {small[name]:.1f} ms" for name in PAGES),
            slowest <= 10 and worst_ratio <= 2,
        ),
        Result(
            "15. GET /api/runs/{id} and the home page with 10,000 runs as fast as with 100",
            f"one run {large['one run']:.1f} ms, home page {large['home page']:.1f} ms; "
            f"list queries sorting in memory: {', '.join(sorting) or 'none'}",
            f"100 runs: one run {small['one run']:.1f} ms, home page {small['home page']:.1f} ms",
            large["one run"] <= 2 * small["one run"] + 1
            and large["home page"] <= 2 * small["home page"] + 1
            and not sorting,
        ),
    ]


if __name__ == "__main__":
    for result in run():
        print(result.row())
