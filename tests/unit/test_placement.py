"""The allocator (app/runs/placement.py): which GPUs or CPU slot each queued run gets, from what
the database says is held. Pure decisions, no process: the live placement is in
tests/system/test_gpu_placement.py."""

from __future__ import annotations

from typing import Any

from app.runs.placement import Allocator, Held, gpus_needed


def run(device: str, processes: int | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"device": device}
    if processes is not None:
        config["processes"] = processes
    return config


def outcome(allocator: Allocator, queued: list[dict[str, Any]], held: list[Held] = ()) -> list:
    decisions = allocator.plan(list(enumerate(queued, start=1)), held)
    return [d.gpus if d.starts else (d.waiting_reason or d.impossible) for d in decisions]


def test_gpus_needed_follows_the_device_and_processes() -> None:
    assert gpus_needed(run("auto"), have_gpus=True) == 1
    assert gpus_needed(run("auto"), have_gpus=False) == 0
    assert gpus_needed(run("cuda", 2), have_gpus=True) == 2
    assert gpus_needed(run("cuda:1"), have_gpus=True) == 1
    assert gpus_needed(run("cpu", 2), have_gpus=True) == 0  # DDP on the CPU takes no GPU
    assert gpus_needed(run("mps"), have_gpus=True) == 0
    assert gpus_needed({}, have_gpus=True) == 1  # the config's default device is auto


def test_auto_runs_take_disjoint_gpus_and_the_third_waits() -> None:
    allocator = Allocator([0, 1], cpu_slots=1)
    assert outcome(allocator, [run("auto")] * 3) == [(0,), (1,), "waiting for a free GPU"]


def test_a_pinned_run_waits_for_its_gpu_and_does_not_hold_up_later_runs() -> None:
    allocator = Allocator([0, 1], cpu_slots=1)
    held = [Held(run_id=9, gpus=(1,))]
    assert outcome(allocator, [run("cuda:1"), run("auto")], held) == ["waiting for GPU 1", (0,)]


def test_held_gpus_come_from_the_runs_that_hold_them() -> None:
    allocator = Allocator([0, 1, 2, 3], cpu_slots=1)
    held = [Held(7, (0, 2))]  # a 2-GPU run adopted after a restart, say
    assert outcome(allocator, [run("cuda", 2), run("auto")], held) == [
        (1, 3),
        "waiting for a free GPU",
    ]
    assert allocator.holders(held) == {0: 7, 2: 7}


def test_a_multi_gpu_run_reserves_free_gpus_and_later_runs_wait_for_it() -> None:
    allocator = Allocator([0, 1], cpu_slots=1)
    held = [Held(5, (0,))]
    assert outcome(allocator, [run("cuda", 2)], [Held(5, (0,)), Held(6, (1,))]) == [
        "waiting for 2 free GPUs"  # nothing free: nothing to reserve, the reason is unchanged
    ]
    # GPU 1 is free: run 1 keeps it, and neither a later auto run nor one pinned to it takes it.
    assert outcome(allocator, [run("cuda", 2), run("auto"), run("cuda:1")], held) == [
        "waiting for 2 free GPUs (GPU 1 reserved)",
        "reserved GPU 1 for run 1",
        "reserved GPU 1 for run 1",
    ]
    # A pinned run waiting for a busy GPU still does not hold up anything, nor is it held up.
    assert outcome(allocator, [run("cuda:0"), run("auto")], held) == ["waiting for GPU 0", (1,)]


def test_reservations_follow_queue_order_and_name_every_run_they_are_kept_for() -> None:
    allocator = Allocator([0, 1, 2, 3], cpu_slots=1)
    held = [Held(8, (1, 3))]
    queued = [run("cuda", 4), run("cuda", 3), run("cuda", 2), run("auto"), run("cpu")]
    assert outcome(allocator, queued, held) == [
        "waiting for 4 free GPUs (GPUs 0,2 reserved)",
        "waiting for 3 free GPUs",  # behind run 1: no GPU left to reserve
        "reserved GPUs 0,2 for run 1",
        "reserved GPUs 0,2 for run 1",
        (),  # CPU runs take CPU slots, untouched by GPU reservations
    ]
    # Two waiting runs each keep what was free when they were looked at.
    allocator = Allocator([0, 1, 2], cpu_slots=1)
    held = [Held(8, (1,))]
    assert outcome(allocator, [run("cuda", 3), run("auto")], [Held(8, (1,)), Held(9, (2,))]) == [
        "waiting for 3 free GPUs (GPU 0 reserved)",
        "reserved GPU 0 for run 1",
    ]
    assert outcome(allocator, [run("cuda", 3), run("auto")], held) == [
        "waiting for 3 free GPUs (GPUs 0,2 reserved)",
        "reserved GPUs 0,2 for run 1",
    ]


def test_a_4_gpu_run_behind_a_stream_of_1_gpu_runs_starts_once_the_running_ones_end() -> None:
    """Looks as the dispatcher makes them: each look, one running run ends and a new 1-GPU run is
    queued. The 4-GPU run must start after at most the 4 runs that held GPUs when it queued."""
    allocator = Allocator([0, 1, 2, 3], cpu_slots=1)
    held = [Held(run_id, (gpu,)) for run_id, gpu in zip(range(101, 105), range(4), strict=True)]
    big = 1
    queue: list[tuple[int, dict[str, Any]]] = [(big, run("cuda", 4))]
    next_id = 2
    for look in range(1, 20):
        held.pop(0)  # the oldest running run ends
        queue.append((next_id, run("auto")))  # ...and another 1-GPU run is queued behind
        next_id += 1
        decisions = allocator.plan(queue, held)
        started = [d for d in decisions if d.starts]
        held += [Held(d.run_id, d.gpus) for d in started]
        queue = [(r, c) for r, c in queue if r not in {d.run_id for d in started}]
        if any(d.run_id == big for d in started):
            break
        assert started == [], f"look {look}: a later run took a GPU kept for run {big}"
    assert look == 4 and held[-1] == Held(big, (0, 1, 2, 3))


def test_cpu_runs_keep_their_slots_and_gpu_runs_do_not_take_one() -> None:
    allocator = Allocator([0], cpu_slots=1)
    held = [Held(3, (0,))]  # a GPU run trains: the CPU slot is still free
    assert outcome(allocator, [run("cpu"), run("cpu"), run("auto")], held) == [
        (),
        "waiting for a free slot",
        "waiting for a free GPU",
    ]
    assert outcome(allocator, [run("cpu")], [Held(4, ())]) == ["waiting for a free slot"]


def test_without_gpus_auto_is_a_cpu_run() -> None:
    allocator = Allocator([], cpu_slots=2)
    assert outcome(allocator, [run("auto"), run("auto"), run("auto")]) == [
        (),
        (),
        "waiting for a free slot",
    ]


def test_a_run_the_set_can_never_hold_is_impossible_not_waiting() -> None:
    # Queued before the server restarted with a smaller TORCHDASH_GPUS.
    allocator = Allocator([0, 1], cpu_slots=1)
    first, second = outcome(allocator, [run("cuda:3"), run("cuda", 3)])
    assert "needs GPU 3" in first and "TORCHDASH_GPUS" in first
    assert "needs 3 GPUs" in second


def test_room_counts_free_slots_and_free_gpus() -> None:
    allocator = Allocator([0, 1], cpu_slots=2)
    assert allocator.room([]) == 4
    assert allocator.room([Held(1, (0,)), Held(2, ())]) == 2
    assert allocator.room([Held(1, (0, 1)), Held(2, ()), Held(3, ())]) == 0
