"""The queue order a real dispatcher follows: a real server with one slot, real worker
processes, a queued run moved to the top."""

from __future__ import annotations

import httpx

from app.settings import Settings
from tests.support.runs import TINY_CONFIG, get_run
from tests.support.servers import free_port, spawn_server, stop_workers, wait_for_server
from tests.support.waiting import wait_for_status


def test_a_run_moved_to_the_top_starts_first_and_a_running_one_cannot_move(
    settings: Settings,
) -> None:
    port = free_port()
    server = spawn_server(
        settings, port, TORCHDASH_MAX_CONCURRENT_RUNS="1", TORCHDASH_WARM_WORKERS="0"
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base)
        slow = {**TINY_CONFIG, "max_epochs": 50, "batch_size": 1, "report_every_steps": 1}
        blocker = httpx.post(f"{base}/api/runs", json={**slow, "name": "blocker"}).json()
        wait_for_status(base, blocker["id"], "running")
        first = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "name": "first"}).json()
        later = httpx.post(f"{base}/api/runs", json={**TINY_CONFIG, "name": "later"}).json()
        assert get_run(base, later["id"])["queue_position"] == 2

        moving_running = httpx.post(
            f"{base}/api/runs/{blocker['id']}/queue", json={"position": "top"}
        )
        assert moving_running.status_code == 409
        moved = httpx.post(f"{base}/api/runs/{later['id']}/queue", json={"position": "top"})
        assert moved.status_code == 200 and moved.json()["queue_position"] == 1
        assert get_run(base, first["id"])["queue_position"] == 2

        httpx.post(f"{base}/api/runs/{blocker['id']}/cancel")
        wait_for_status(base, later["id"], "running")
        # The one slot is taken by the run moved up: the other still waits.
        assert get_run(base, first["id"])["status"] == "queued"
        done = wait_for_status(base, later["id"], "succeeded")
        started_first = wait_for_status(base, first["id"], "succeeded")
        assert done["started_at"] < started_first["started_at"]
    finally:
        server.terminate()
        server.wait(timeout=15)
        stop_workers(settings)
