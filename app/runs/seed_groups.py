"""Seed groups: the same config trained with several seeds, in one group, so its spread across
seeds can be told apart from the effect of a change (the compare page draws mean ± std)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.errors import ConfigError, ConflictError
from app.runs import lifecycle
from app.runs.cluster_placement import ClusterGpus
from app.runs.config_checks import gpu_problems
from app.runs.data_paths import check_data_paths
from app.storage.tables import Run
from trainer.config import RunConfig

MAX_SEEDS = 64
SEED_LIMIT = 2**32 - 1  # RunConfig.seed's own upper bound


def with_seeds(config: dict[str, Any], seeds: list[int], label: str = "") -> list[dict[str, Any]]:
    """One copy of `config` per seed, named after the seed (and `label`, what else it changes)."""
    copies = []
    for seed in seeds:
        name = f"{config.get('name', 'run')} [{label + ', ' if label else ''}seed={seed}]"
        copies.append(lifecycle.with_overrides(config, {"seed": seed, "name": name[:200]}))
    return copies


def seed_range(first: int, count: int) -> list[int]:
    """`count` consecutive seeds from `first`, wrapping below the seed's upper bound."""
    return [(first + i) % (SEED_LIMIT + 1) for i in range(count)]


def queue_group(
    session: Session,
    configs: list[dict[str, Any]],
    group: str,
    data_roots: list[Path],
    tags: list[str] | None = None,
    notes: str = "",
    gpus: list[int] | ClusterGpus | None = None,
) -> list[Run]:
    """Check every config (data paths; `gpus`: the server's GPU set, to check the device
    against) before queueing any, then queue them all in `group`."""
    checked = [check_data_paths(RunConfig.model_validate(config), data_roots) for config in configs]
    if gpus is not None:
        for config in checked:
            problems = gpu_problems(config.model_dump(mode="json"), gpus)
            if problems:
                (loc, why), *_ = problems
                raise ConfigError.field(("body", "config", *loc), why, None)
    return [
        lifecycle.create_run(session, config, group_name=group, tags=list(tags or []), notes=notes)
        for config in checked
    ]


def repeat_run(
    session: Session,
    run_id: int,
    seeds: int,
    data_roots: list[Path],
    gpus: list[int] | ClusterGpus | None = None,
) -> tuple[str, list[Run]]:
    """Queue `seeds` copies of a run's config with the seeds that follow its own, in a new group
    (with the run's tags and notes)."""
    source = lifecycle.get_run(session, run_id)
    if source.kind != "loop":
        raise ConflictError(
            f"run {run_id} is a {source.kind} run; only a loop run's config can be repeated"
        )
    try:
        base = RunConfig.model_validate(source.config).model_dump(mode="json")
    except ValidationError as error:
        raise ConflictError(f"run {run_id}'s stored config no longer validates: {error}") from error
    configs = with_seeds(base, seed_range(base["seed"] + 1, seeds))
    group = f"{source.name} ×{seeds} seeds {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"[:200]
    created = queue_group(
        session, configs, group, data_roots, list(source.tags or []), source.notes, gpus
    )
    return group, created
