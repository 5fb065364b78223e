"""The cluster level's fixtures: one real Ray cluster for every Ray test module, and settings
on a PostgreSQL database that every node's workers reach."""

from __future__ import annotations

from collections.abc import Iterator

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
def ray_settings(settings: Settings, postgres_url: str) -> Settings:
    return Settings(home=settings.home, data_roots=settings.data_roots, database_url=postgres_url)
