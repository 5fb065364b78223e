"""The DDP case of bench/gpu_resnet.py: one ResNet-18 run on 1, 2 and all GPUs of the machine.

`python -m bench.gpu_resnet --ddp` runs it. The same synthetic CIFAR-10 and torchdash `fit`
(float32, the bench's batch per rank, 256 at full size: DDP's usual weak scaling) trains with
`processes` 1, 2 and N (every GPU the process sees; the counts are deduplicated), each rank
on its own GPU, through the worker's own launcher (trainer/distributed/launcher.py: rank 0 in this
process, NCCL between GPUs).
Samples/s count every rank's samples: one epoch is the whole training set whatever the count.
Scaling efficiency is samples/s on N GPUs over N times samples/s on one. Each count gets an
equal share of the time budget (at least one warm-up and one timed epoch).
`--ddp --quick --device cpu` checks the script with 1 and 2 gloo ranks on the CPU.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.gpu_resnet import Variant, device_info, fit_config, synced_clock
from bench.synthetic_cifar import write_cifar10
from bench.throughput import EpochClock
from trainer.distributed.launcher import FitInputs, RankGroup
from trainer.loop import fit

DDP_START, DDP_END = "<!-- gpu-ddp:start -->", "<!-- gpu-ddp:end -->"


def process_counts(device: torch.device) -> list[int]:
    """1, 2 and all GPUs (as many as there are); 1 and 2 CPU ranks on the CPU."""
    if device.type != "cuda":
        return [1, 2]
    gpus = torch.cuda.device_count()
    return sorted({count for count in (1, 2, gpus) if count <= gpus})


def measure_count(
    config: Any, train: int, processes: int, warmup: int, deadline: float
) -> dict[str, Any]:
    """One run on `processes` ranks: its median samples/s over the timed epochs."""
    run_config = config.model_copy(update={"processes": processes})
    cuda = run_config.device.startswith("cuda")
    device = torch.device("cuda", 0) if cuda else torch.device("cpu")
    clock = EpochClock(synced_clock(device))

    def should_stop() -> bool:
        return len(clock.trained) > warmup and time.perf_counter() >= deadline

    threads = torch.get_num_threads()
    try:
        if processes == 1:
            fit(run_config, clock, should_stop=should_stop)
        else:
            with RankGroup(run_config, FitInputs(), log=print) as ranks:
                fit(run_config, clock, should_stop=should_stop, ranks=ranks)
    finally:
        torch.set_num_threads(threads)  # the launcher shares the threads out among the ranks
    rates = [train / seconds for seconds in clock.trained[warmup:]]
    return {"processes": processes, "samples_per_s": statistics.median(rates), "epoch_rates": rates}


def measure_ddp(device: torch.device, sizes: Any) -> dict[str, Any]:
    """Every process count, one after the other, each within its share of the budget."""
    started = time.perf_counter()
    end = started + sizes.budget_s
    counts = process_counts(device)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        root = write_cifar10(Path(folder), sizes.train, sizes.val)
        config = fit_config(root, sizes, device, Variant("ddp", "ddp"))
        config = config.model_copy(update={"device": "cuda" if device.type == "cuda" else "cpu"})
        for index, count in enumerate(counts):
            now = time.perf_counter()
            deadline = now + (end - now) / (len(counts) - index)
            results.append(measure_count(config, sizes.train, count, sizes.warmup_epochs, deadline))
            print(f"ddp processes {count}: {results[-1]['samples_per_s']:,.0f} samples/s")
    single = results[0]["samples_per_s"]
    for result in results:
        result["efficiency"] = result["samples_per_s"] / (result["processes"] * single)
    total = time.perf_counter() - started
    return {**device_info(device), "batch": sizes.batch, "total_s": total, "ddp": results}


def ddp_table(report: dict[str, Any]) -> list[str]:
    lines = [
        f"DDP on **{report['card']}** (torch {report['torch']}): ResNet-18, synthetic CIFAR-10, "
        f"batch {report.get('batch', 256)} per rank; the run took "
        f"{report['total_s'] / 60:.1f} minutes.",
        "",
        "| processes (GPUs) | samples/s | scaling efficiency | timed epochs |",
        "|---|---|---|---|",
    ]
    for row in report["ddp"]:
        lines.append(
            f"| {row['processes']} | {row['samples_per_s']:,.0f} | {row['efficiency']:.0%} "
            f"| {len(row['epoch_rates'])} |"
        )
    return lines
