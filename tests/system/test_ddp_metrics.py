"""Named metrics under DDP (`processes: 2`, gloo between two CPU ranks on loopback): each rank
validates its shard, and the epoch's metrics are those of the whole validation set, the same as
one process computes with the same weights.

Rank 1 is a second interpreter (python -m trainer.distributed.launcher), as in a worker's run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.plugins import copy_example_plugins
from trainer.checkpoints.store import load_checkpoint
from trainer.config import RunConfig
from trainer.distributed.launcher import FitInputs, RankGroup
from trainer.distributed.ranks import Ranks
from trainer.loop import evaluate, fit
from trainer.setup import epoch_batches, setup_run

BASE = {"batch_size": 64, "max_epochs": 2, "device": "cpu", "seed": 2, "processes": 2}

RUNS = {
    "classification": {"model": {"kind": "mlp", "hidden_sizes": [32]}},
    "regression": {
        "task": "regression",
        "data": {"kind": "plugin", "name": "Diabetes"},
        "model": {"kind": "plugin", "name": "TabularMLP", "args": {"width": 16}},
        "loss": {"kind": "huber"},
        "metrics": [
            {"kind": "plugin", "name": "WithinTolerance"},
            {"kind": "plugin", "name": "mean_squared_error", "mode": "min"},
        ],
    },
}


@pytest.mark.parametrize("task", list(RUNS))
def test_two_ranks_record_the_validation_metrics_of_one_process(tmp_path: Path, task: str) -> None:
    plugins = copy_example_plugins(tmp_path / "plugins")
    config = RunConfig.model_validate({**BASE, **RUNS[task]})
    with RankGroup(config, FitInputs(plugins_dir=plugins)) as ranks:
        result = fit(config, checkpoint_dir=tmp_path / "run", plugins_dir=plugins, ranks=ranks)
    last = result.history[-1]
    assert list(last.metrics)[:2] == ["train_loss", "train_accuracy" if task == "classification"
                                      else "val_loss"]  # fmt: skip

    # One process, the same weights, the whole validation set in one pass.
    single = config.model_copy(update={"processes": 1})
    setup = setup_run(single, plugins_dir=plugins)
    setup.model.load_state_dict(load_checkpoint(tmp_path / "run" / "epoch-0002")["model"])
    _, batches = epoch_batches(setup, Ranks())
    alone = evaluate(setup, batches.val)

    validated = {name: value for name, value in last.metrics.items() if name.startswith("val_")}
    assert validated.keys() == alone.keys()
    for name, value in alone.items():
        assert validated[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    if task == "classification":  # counts summed over the ranks: the very same share
        assert last.val_accuracy == alone["val_accuracy"]
