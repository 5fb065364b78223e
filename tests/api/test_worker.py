"""A real worker run on digits: metric rows, checkpoint files, downloads, failure reporting."""

from __future__ import annotations

import io
import os

import torch
from fastapi.testclient import TestClient

from app.runs.state_machine import transition
from app.settings import Settings
from app.storage.engine import make_engine, make_session_factory, session_scope
from app.storage.tables import RunStatus
from trainer.config import RunConfig
from trainer.data.datasets import build_datasets
from trainer.models.builtin import build_model
from trainer.optim.optimizers import build_optimizer


def test_worker_trains_and_records_epochs_steps_and_checkpoints(
    client: TestClient, make_run, execute, settings: Settings
) -> None:
    run = make_run(max_epochs=3, report_every_steps=5)
    assert execute(run["id"]) == RunStatus.SUCCEEDED

    finished = client.get(f"/api/runs/{run['id']}").json()
    assert finished["status"] == "succeeded" and finished["epoch"] == 3
    assert finished["device"] == "cpu" and finished["class_names"] == [str(d) for d in range(10)]
    assert finished["parameter_count"] == 64 * 32 + 32 + 32 * 10 + 10
    assert finished["model_summary"].startswith("Classifier(")

    metrics = client.get(f"/api/runs/{run['id']}/metrics").json()
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2, 3]
    assert metrics["epochs"][-1]["val_loss"] < metrics["epochs"][0]["val_loss"]
    assert finished["best_val_accuracy"] == max(row["val_accuracy"] for row in metrics["epochs"])
    batches = -(-1438 // 64)  # 1,797 digits, 20 % held out
    assert [row["step"] for row in metrics["steps"]] == list(range(1, 3 * batches + 1))
    newer = client.get(
        f"/api/runs/{run['id']}/metrics", params={"since_epoch": 2, "since_step": 60}
    )
    assert [row["epoch"] for row in newer.json()["epochs"]] == [3]
    assert newer.json()["steps"][0]["step"] == 61

    checkpoints = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    assert [c["epoch"] for c in checkpoints] == [1, 2, 3]
    assert all(c["complete"] and c["size_bytes"] > 0 for c in checkpoints)
    folder = settings.checkpoint_dir(run["id"])
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0001", "epoch-0002", "epoch-0003"]


def test_downloaded_state_dicts_load_into_a_fresh_model_and_optimizer(
    client: TestClient, make_run, execute
) -> None:
    run = make_run(max_epochs=2)
    execute(run["id"])
    [_, last] = client.get(f"/api/runs/{run['id']}/checkpoints").json()
    model_bytes = client.get(last["model_url"])
    optimizer_bytes = client.get(last["optimizer_url"])
    assert model_bytes.status_code == optimizer_bytes.status_code == 200
    assert "attachment" in model_bytes.headers["content-disposition"]

    # What a user does in a plain Python session with the two downloads.
    model_state = torch.load(io.BytesIO(model_bytes.content), weights_only=True)
    optimizer_state = torch.load(io.BytesIO(optimizer_bytes.content), weights_only=True)
    config = RunConfig.model_validate(run["config"])
    data = build_datasets(config.data)
    model = build_model(config.model, data.input_shape, data.num_classes)
    optimizer = build_optimizer(config.optimizer, model, config.param_groups)
    model.load_state_dict(model_state)
    optimizer.load_state_dict(optimizer_state)
    assert optimizer.state_dict()["state"][0]["step"].item() == 2 * 23  # 23 batches an epoch

    assert client.get(f"/api/runs/{run['id']}/checkpoints/9/model").status_code == 404
    assert client.get(f"/api/runs/{run['id']}/checkpoints/1/weights").status_code == 422


def test_a_failing_run_is_failed_with_the_error_text(
    client: TestClient, make_run, execute, settings: Settings
) -> None:
    folder = settings.allowed_data_roots[0] / "empty"
    folder.mkdir()
    run = make_run(data={"kind": "imagefolder", "train_dir": "empty"})
    assert execute(run["id"]) == RunStatus.FAILED
    failed = client.get(f"/api/runs/{run['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"].startswith("FileNotFoundError")
    assert failed["finished_at"] is not None


def test_imagefolder_run_trains_on_the_demo_pngs(
    client: TestClient, make_run, execute, settings: Settings
) -> None:
    from trainer.data.demo import write_digits_image_folder

    tree = write_digits_image_folder(settings.allowed_data_roots[0], per_class=30)
    data = {
        "kind": "imagefolder",
        "train_dir": str(tree / "train"),
        "val_dir": str(tree / "val"),
        "grayscale": True,
    }
    run = make_run(data=data, max_epochs=2, batch_size=16)
    assert execute(run["id"]) == RunStatus.SUCCEEDED
    finished = client.get(f"/api/runs/{run['id']}").json()
    assert finished["class_names"] == [str(d) for d in range(10)]
    epochs = client.get(f"/api/runs/{run['id']}/metrics").json()["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2]


def test_runs_that_train_side_by_side_share_the_cores_out(settings: Settings) -> None:
    cores = len(os.sched_getaffinity(0))
    one_at_a_time = settings.model_copy(update={"max_concurrent_runs": 1})
    assert one_at_a_time.torch_threads() is None  # torch's own default: every core
    side_by_side = settings.model_copy(update={"max_concurrent_runs": 2})
    assert side_by_side.torch_threads() == max(1, cores // 2)
    crowded = settings.model_copy(update={"max_concurrent_runs": 4 * cores})
    assert crowded.torch_threads() == 1
    chosen = settings.model_copy(update={"max_concurrent_runs": 2, "worker_threads": 3})
    assert chosen.torch_threads() == 3


def test_a_worker_gives_torch_the_threads_of_its_share(
    client: TestClient, make_run, settings: Settings, capfd
) -> None:
    from app.worker.execute import execute_run

    run = make_run(max_epochs=1)
    engine = make_engine(settings.sqlalchemy_url)
    with session_scope(make_session_factory(engine)) as session:
        transition(session, run["id"], RunStatus.RUNNING)
    engine.dispose()
    before = torch.get_num_threads()
    try:
        shared = settings.model_copy(update={"max_concurrent_runs": 2, "worker_threads": 1})
        assert execute_run(run["id"], shared) == RunStatus.SUCCEEDED
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)  # this test process trains more afterwards
    assert "torch trains on 1 CPU thread(s)" in capfd.readouterr().out
