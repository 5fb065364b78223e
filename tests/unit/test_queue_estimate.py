"""When each queued run should start (app/runs/queue.py `replay_starts`): the dispatcher's own
allocator replayed over the running runs' remaining times, on GPU sets written as TORCHDASH_GPUS
would give them, and on a Ray cluster's nodes as the executor describes them. Pure decisions;
tests/api/test_run_controls.py reads the estimates through the API."""

from __future__ import annotations

from typing import Any

from app.runs.cluster_placement import ClusterAllocator, ClusterSnapshot, NodeRoom
from app.runs.placement import Allocator, Held
from app.runs.queue import Holding, replay_starts

FOUR_GPUS = [int(gpu) for gpu in "0,1,2,3".split(",")]  # TORCHDASH_GPUS=0,1,2,3


def gpu_run(processes: int = 1, device: str = "auto") -> dict[str, Any]:
    return {"device": device, "processes": processes}


def holding(run_id: int, gpus: tuple[int, ...], ends: float | None) -> Holding:
    return Holding(Held(run_id, gpus), ends)


def test_a_one_gpu_run_behind_a_reserving_four_gpu_run_starts_after_it() -> None:
    running = [holding(1, (0, 1), ends=10.0), holding(2, (2,), ends=4.0)]  # GPU 3 is free
    queued = [(3, gpu_run(4), 5.0), (4, gpu_run(1), 1.0), (5, gpu_run(1), 2.0)]
    starts = replay_starts(Allocator(FOUR_GPUS, cpu_slots=1), running, queued)
    # Run 3 reserves GPU 3 at once and GPU 2 at 4 s, so the 1-GPU runs cannot take them: it
    # starts when run 1 frees GPUs 0 and 1, and they start when it ends.
    assert starts == {3: 10.0, 4: 15.0, 5: 15.0}


def test_one_gpu_runs_share_the_lanes_by_their_remaining_time() -> None:
    running = [holding(1, (0,), ends=3.0), holding(2, (1,), ends=1.0)]
    queued = [(3, gpu_run(), 4.0), (4, gpu_run(), 1.0), (5, gpu_run(), 1.0)]
    starts = replay_starts(Allocator([0, 1], cpu_slots=1), running, queued)
    # GPU 1 frees at 1 s (run 3 takes it till 5 s), GPU 0 at 3 s (run 4 till 4 s, then run 5).
    assert starts == {3: 1.0, 4: 3.0, 5: 4.0}


def test_a_run_waiting_for_its_pinned_gpu_lets_a_later_run_take_another() -> None:
    running = [holding(1, (1,), ends=8.0)]
    queued = [(2, gpu_run(device="cuda:1"), 2.0), (3, gpu_run(), 3.0)]
    starts = replay_starts(Allocator([0, 1], cpu_slots=1), running, queued)
    assert starts == {2: 8.0, 3: 0.0}


def test_a_lane_held_for_an_unknown_time_hides_only_the_runs_that_need_it() -> None:
    running = [holding(1, (0,), ends=None)]  # no finished epoch, no preflight estimate
    queued = [
        (2, gpu_run(), None),  # takes GPU 1 now, for a time nobody can tell
        (3, gpu_run(), 1.0),  # needs a GPU: both are held for unknown times
        (4, gpu_run(device="cpu"), 1.0),  # a CPU slot is free
        (5, gpu_run(2), 1.0),
    ]
    starts = replay_starts(Allocator([0, 1], cpu_slots=1), running, queued)
    assert starts == {2: 0.0, 4: 0.0}


def test_a_run_this_server_can_never_place_has_no_start() -> None:
    queued = [(1, gpu_run(device="cuda:7"), 1.0), (2, gpu_run(8), 1.0), (3, gpu_run(), 1.0)]
    starts = replay_starts(Allocator(FOUR_GPUS, cpu_slots=1), [], queued)
    assert starts == {3: 0.0}


def test_without_gpu_lanes_every_run_is_one_slot() -> None:
    # A server with no GPU: configs are read as slot runs ({}).
    running = [holding(1, (), ends=3.0), holding(2, (), ends=5.0)]
    queued = [(3, {}, 4.0), (4, {}, 1.0), (5, {}, 1.0)]
    starts = replay_starts(Allocator([], cpu_slots=2), running, queued)
    assert starts == {3: 3.0, 4: 5.0, 5: 6.0}


def node(node_id: str, gpus_total: int, gpus_free: int) -> NodeRoom:
    return NodeRoom(node_id * 40, f"10.0.0.{gpus_total}", True, False, gpus_total, gpus_free, 4, 4)


def test_on_a_cluster_each_node_is_a_lane_set_and_the_reservation_is_replayed() -> None:
    # Node a has 2 GPUs, node b 1; run 1 holds a GPU of a for 10 s, run 2 b's for 5 s.
    a, b = node("a", 2, gpus_free=1), node("b", 1, gpus_free=0)
    jobs = {1: Held(1, (), a.node_id, 1), 2: Held(2, (), b.node_id, 1)}
    snapshot = ClusterSnapshot((a, b), jobs)
    running = [Holding(jobs[1], 10.0), Holding(jobs[2], 5.0)]
    queued = [
        (3, gpu_run(2), 50.0),
        (4, gpu_run(), 100.0),
        (5, gpu_run(), 100.0),
        (6, gpu_run(3), 1.0),  # more GPUs than any node has
        (7, gpu_run(device="cpu"), 1.0),
    ]
    starts = replay_starts(snapshot.allocator(), running, queued)
    # Run 3 reserves node a's free GPU. When b frees at 5 s, run 4 still waits: Ray could put it
    # on a, so the dispatcher submits it only once no reserved node has room. At 10 s run 3 takes
    # node a whole and run 4 node b; run 5 waits for run 3's end. A CPU run is not held back.
    assert starts == {3: 10.0, 4: 10.0, 5: 60.0, 7: 0.0}

    # The replay's first look is the dispatcher's look now (its allocator: the nodes' free room,
    # which already counts the running runs), reasons included.
    now = snapshot.allocator().plan([(r, config) for r, config, _ in queued], jobs.values())
    dispatcher = ClusterAllocator([a, b]).plan([(r, config) for r, config, _ in queued])
    assert now == dispatcher
    waiting = {d.run_id: d.waiting_reason for d in dispatcher}
    assert waiting[4] == f"reserved 1 free GPU on {a.label} for run 3"
    assert waiting[6] == "waiting for a node with 3 GPUs (the largest node of the cluster has 2)"


def test_on_a_cluster_another_users_gpu_never_frees_and_an_unread_one_tells_nothing() -> None:
    # Node a's second GPU is used by a job that is not torchdash's: its time cannot be told.
    a = node("a", 2, gpus_free=0)
    jobs = {1: Held(1, (), a.node_id, 1)}
    starts = replay_starts(
        ClusterSnapshot((a,), jobs).allocator(),
        [Holding(jobs[1], 4.0)],
        [(2, gpu_run(), 3.0), (3, gpu_run(2), 1.0), (4, gpu_run(), 1.0)],
    )
    assert starts == {2: 4.0}  # run 3 reserves what frees after: run 4 waits for it, forever
    unread = ClusterSnapshot(unreachable="connection refused").allocator()
    assert replay_starts(unread, [], [(5, gpu_run(device="cpu"), 1.0)]) == {}
