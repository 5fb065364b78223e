"""The cluster level's fixtures: one real Ray cluster for every Ray test module, and settings
on a PostgreSQL database that every node's workers reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import Settings
from tests.support.ray_cluster import RayTestCluster


@pytest.fixture(scope="package")
def ray_cluster() -> Iterator[RayTestCluster]:
    """A head and one more node, two logical GPUs each (a cluster takes seconds to start)."""
    cluster = RayTestCluster(nodes=2).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def ray_settings(tmp_path: Path, postgres_url: str) -> Settings:
    """Always PostgreSQL: a worker on another node cannot reach a SQLite file of this one."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    return Settings(home=home, data_roots=[home / "data"], database_url=postgres_url)
