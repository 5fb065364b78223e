"""A ResNet-18 on a GPU through torchdash's trainer, against the classic tutorial loop.

Side by side in one run, on one synthetic CIFAR-10 (50,000 training and 10,000 test images of
3x32x32, 10 classes, seeded noise with a stripe pattern per class) written in torchvision's own
on-disk format, so both sides read it exactly as they would read the real files. The same
torchvision ResNet-18 (random weights), SGD lr 0.001 momentum 0.9, batch 256, and the tutorial's
`Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))` on both sides:

(a) the PyTorch CIFAR-10 tutorial's loop: CIFAR10 + ToTensor + Normalize, a shuffling DataLoader
    with 2 workers, `.to(device)` of each batch, zero_grad, forward, loss, backward, step and
    `loss.item()` on every step;
(b) torchdash's `fit` with a real `RunConfig` (data kind torchvision/cifar10, model
    torchvision/resnet18), float32: the worker's own path, without its database reporting and
    checkpoints (bench/throughput.py measures those);
(c) (b) with `amp`; (d) (b) with `channels_last`; (e) (b) with both;
(f) the tutorial's loop with the classic augmentation, `RandomCrop(32, padding=4)` and
    `RandomHorizontalFlip()` before ToTensor, item by item in its 2 workers;
(g) (e) with the same augmentation as config steps: the data set decoded once (uint8), each batch
    cropped and flipped as a whole on the GPU, each image its own draw. Its ratio is against (f).

Samples/s are the median over the timed epochs, after warm-up epochs that carry the CUDA and
cuDNN start; an epoch's clock stops after `torch.cuda.synchronize()`. For `fit` an epoch's
training steps are timed and its validation pass is not; its one-time decode of the data set
into memory is reported apart as setup. cuDNN's autotuner is left as torch sets it (off), as a
torchdash run has it.

The whole run keeps to a time budget: each variant gets an equal share of what is left, and
starts no new timed epoch once its share is spent (it always finishes one). Run it on the lent
GPU machine with `--out`, then render the README section here from the JSON it returns
(`--from-json ... --write-readme`); bench/README.md, "GPU (target 8)", has both commands.
`--quick --device cpu` checks the whole script in seconds (amp is then off: CUDA only).
`--ddp` measures DDP instead: 1, 2 and all GPUs, samples/s and scaling efficiency
(bench/gpu_ddp.py; its own README section).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from bench.common import README, replace_section
from bench.synthetic_cifar import CLASS_NAMES, write_cifar10
from bench.throughput import EpochClock
from trainer.config import RunConfig
from trainer.data.torchvision_sets import LooseCIFAR10
from trainer.devices.selection import resolve_device
from trainer.loop import fit

GPU_START, GPU_END = "<!-- gpu:start -->", "<!-- gpu:end -->"
LR, MOMENTUM = 0.001, 0.9  # the tutorial's SGD
MEAN = STD = [0.5, 0.5, 0.5]  # the tutorial's Normalize
TUTORIAL_WORKERS = 2  # the tutorial's DataLoader


@dataclass(frozen=True)
class Sizes:
    train: int
    val: int
    batch: int
    warmup_epochs: int
    timed_epochs: int
    budget_s: float  # the whole run from the start of `measure`, data and CUDA start included


# The budget keeps the full sizes under 5 minutes whatever the card: a slow one times fewer epochs.
FULL = Sizes(train=50_000, val=10_000, batch=256, warmup_epochs=1, timed_epochs=5, budget_s=240)
QUICK = Sizes(train=256, val=64, batch=64, warmup_epochs=1, timed_epochs=1, budget_s=120)


@dataclass(frozen=True)
class Variant:
    name: str
    label: str
    amp: bool = False
    channels_last: bool = False
    augment: bool = False  # random crop (padding 4) + horizontal flip on the training images


TUTORIAL = Variant("tutorial", "(a) classic tutorial loop")
TUTORIAL_AUGMENTED = Variant(
    "tutorial_augment", "(f) classic tutorial loop, random crop + flip per item", augment=True
)
TRAINER_VARIANTS = [
    Variant("fit_fp32", "(b) torchdash `fit`, float32"),
    Variant("fit_amp", "(c) torchdash `fit`, amp", amp=True),
    Variant("fit_channels_last", "(d) torchdash `fit`, channels_last", channels_last=True),
    Variant("fit_amp_channels_last", "(e) torchdash `fit`, amp + channels_last", True, True),
]
AUGMENTED_VARIANT = Variant(
    "fit_augment_batched",
    "(g) torchdash `fit`, amp + channels_last, random crop + flip on whole batches",
    True,
    True,
    augment=True,
)
# The config steps of the augmentation; (f) builds the same from torchvision's classic ones.
AUGMENT_STEPS = [{"kind": "random_crop", "size": 32, "padding": 4}, {"kind": "horizontal_flip"}]


@dataclass(frozen=True)
class Measured:
    name: str
    label: str
    samples_per_s: float  # median of the timed epochs
    epoch_rates: list[float]  # every timed epoch's samples/s
    first_epoch_loss: float  # mean training loss of the first (warm-up) epoch
    setup_s: float  # from the variant's start to its first training step
    amp: bool  # as applied: amp runs on CUDA only
    channels_last: bool
    augment: bool = False


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def tutorial_loop(
    root: Path, sizes: Sizes, device: torch.device, deadline: float, variant: Variant = TUTORIAL
) -> Measured:
    """(a) The tutorial's loop, as in pytorch.org's "Training a Classifier" (on GPU); (f) with
    the classic per-item augmentation in front."""
    from torchvision import models, transforms

    started = time.perf_counter()
    augment: list[Any] = []
    if variant.augment:
        augment = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
    transform = transforms.Compose(
        [*augment, transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    )
    # torchvision's CIFAR10 less its MD5 check, which synthetic files cannot pass.
    trainset = LooseCIFAR10(str(root), train=True, download=False, transform=transform)
    trainloader = DataLoader(
        trainset, batch_size=sizes.batch, shuffle=True, num_workers=TUTORIAL_WORKERS
    )
    torch.manual_seed(0)
    net = models.resnet18(num_classes=len(CLASS_NAMES)).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    setup = time.perf_counter() - started
    net.train()
    rates: list[float] = []
    first_loss = float("nan")
    for epoch in range(sizes.warmup_epochs + sizes.timed_epochs):
        if rates and time.perf_counter() >= deadline:
            break
        running_loss, steps = 0.0, 0
        began = time.perf_counter()
        for inputs, labels in trainloader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()  # the tutorial prints it: a device sync every step
            steps += 1
        synchronize(device)
        if epoch >= sizes.warmup_epochs:
            rates.append(len(trainset) / (time.perf_counter() - began))
        if epoch == 0:
            first_loss = running_loss / steps
    return Measured(
        variant.name, variant.label, statistics.median(rates), rates, first_loss, setup,
        amp=False, channels_last=False,
    )  # fmt: skip


def fit_config(root: Path, sizes: Sizes, device: torch.device, variant: Variant) -> RunConfig:
    normalize = [{"kind": "normalize", "mean": MEAN, "std": STD}]
    return RunConfig.model_validate(
        {
            "name": f"gpu-bench {variant.name}",
            "data": {
                "kind": "torchvision",
                "name": "cifar10",
                "root": str(root),
                "train_transforms": [*(AUGMENT_STEPS if variant.augment else []), *normalize],
                "val_transforms": normalize,
            },
            "model": {"kind": "torchvision", "architecture": "resnet18"},
            "optimizer": {"kind": "sgd", "lr": LR, "momentum": MOMENTUM},
            "batch_size": sizes.batch,
            "max_epochs": sizes.warmup_epochs + sizes.timed_epochs,
            "device": str(device),
            "amp": variant.amp and device.type == "cuda",  # refused on an explicit CPU device
            "channels_last": variant.channels_last,
        }
    )


def synced_clock(device: torch.device) -> Callable[[], float]:
    """perf_counter once the device has finished the work queued so far."""

    def now() -> float:
        synchronize(device)
        return time.perf_counter()

    return now


def torchdash_fit(
    root: Path, sizes: Sizes, device: torch.device, variant: Variant, deadline: float
) -> Measured:
    """(b)-(e) `fit` as the worker calls it, stopped between batches once the share is spent."""
    config = fit_config(root, sizes, device, variant)
    clock = EpochClock(synced_clock(device))

    def should_stop() -> bool:
        timed = len(clock.trained) > sizes.warmup_epochs
        return timed and time.perf_counter() >= deadline

    called = time.perf_counter()
    result = fit(config, clock, should_stop=should_stop)
    rates = [sizes.train / seconds for seconds in clock.trained[sizes.warmup_epochs :]]
    return Measured(
        variant.name, variant.label, statistics.median(rates), rates,
        result.history[0].train_loss, clock.started - called, config.amp, config.channels_last,
        variant.augment,
    )  # fmt: skip


def device_info(device: torch.device) -> dict[str, Any]:
    import torchvision

    cuda = device.type == "cuda"
    return {
        "card": torch.cuda.get_device_name(device) if cuda else f"CPU ({platform.machine()})",
        "device": str(device),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }


def measure(device: torch.device, sizes: Sizes) -> dict[str, Any]:
    """Every variant, one after the other, each within its share of the budget."""
    started = time.perf_counter()
    end = started + sizes.budget_s
    if device.type == "cpu":
        # One thread: the CPU run is a check of the script, and this machine's cores are shared.
        torch.set_num_threads(1)
    torch.zeros(1, device=device)
    synchronize(device)
    device_start = time.perf_counter() - started
    measured: list[Measured] = []
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        root = write_cifar10(Path(folder), sizes.train, sizes.val)
        data_written = time.perf_counter() - began
        variants = [TUTORIAL, *TRAINER_VARIANTS, TUTORIAL_AUGMENTED, AUGMENTED_VARIANT]
        for index, variant in enumerate(variants):
            now = time.perf_counter()
            deadline = now + (end - now) / (len(variants) - index)
            if variant.name.startswith("tutorial"):
                measured.append(tutorial_loop(root, sizes, device, deadline, variant))
            else:
                measured.append(torchdash_fit(root, sizes, device, variant, deadline))
            print(f"{variant.name}: {measured[-1].samples_per_s:,.0f} samples/s", flush=True)
    baseline = {False: measured[0], True: measured[variants.index(TUTORIAL_AUGMENTED)]}
    return {
        "measured_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        **device_info(device),
        "sizes": asdict(sizes),
        "device_start_s": device_start,
        "data_written_s": data_written,
        "total_s": time.perf_counter() - started,
        "variants": [
            # Each against its own tutorial loop: the augmented one against (f).
            {**asdict(m), "vs_tutorial": m.samples_per_s / baseline[m.augment].samples_per_s}
            for m in measured
        ],
    }


def table(report: dict[str, Any]) -> list[str]:
    """The README section: what ran where, then one row per variant."""
    sizes = report["sizes"]
    versions = f"torch {report['torch']}, torchvision {report['torchvision']}"
    if report["cuda"]:
        versions += f", CUDA {report['cuda']}, cuDNN {report['cudnn']}"
    lines = [
        f"Measured {report['measured_at']} on **{report['card']}** ({versions}, "
        f"Python {report['python']}); {sizes['train']:,} synthetic CIFAR-shaped training images, "
        f"batch {sizes['batch']}, SGD; median of up to {sizes['timed_epochs']} timed epochs after "
        f"{sizes['warmup_epochs']} warm-up; the whole run took {report['total_s'] / 60:.1f} "
        f"minutes (device start {report['device_start_s']:.1f} s, data written in "
        f"{report['data_written_s']:.1f} s).",
        "",
        "| variant | samples/s | × tutorial loop ((g): × (f)) | timed epochs "
        "| first-epoch train loss | setup before the first step |",
        "|---|---|---|---|---|---|",
    ]
    for variant in report["variants"]:
        label = variant["label"]
        if "amp" in variant["name"] and not variant["amp"]:
            label += " (amp off: CUDA only)"
        lines.append(
            f"| {label} | {variant['samples_per_s']:,.0f} | ×{variant['vs_tutorial']:.2f} "
            f"| {len(variant['epoch_rates'])} | {variant['first_epoch_loss']:.3f} "
            f"| {variant['setup_s']:.1f} s |"
        )
    return lines


def write_readme(report: dict[str, Any], path: Path = README) -> None:
    replace_section(path, GPU_START, GPU_END, table(report))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_resnet", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script")
    parser.add_argument(
        "--device",
        default="cuda" if torch.cuda.is_available() else "cpu",
        help="cuda, cuda:N or cpu (default: cuda when there is one)",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--from-json", type=Path, help="measure nothing: read this JSON instead")
    parser.add_argument(
        "--write-readme", action="store_true", help="replace the GPU section of bench/README.md"
    )
    parser.add_argument(
        "--ddp", action="store_true", help="the DDP case: processes 1, 2 and all GPUs"
    )
    args = parser.parse_args(argv)
    if args.ddp:
        return ddp_main(args)
    if args.from_json:
        report = json.loads(args.from_json.read_text())
    else:
        report = measure(resolve_device(args.device), QUICK if args.quick else FULL)
    for line in table(report):
        print(line)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.write_readme:
        write_readme(report)
        print(f"{README} updated")
    return 0


def ddp_main(args: argparse.Namespace) -> int:
    """`--ddp`: bench/gpu_ddp.py's measurement, with the same --quick, --out and --from-json."""
    from bench.gpu_ddp import DDP_END, DDP_START, ddp_table, measure_ddp

    if args.from_json:
        report = json.loads(args.from_json.read_text())
    else:
        report = measure_ddp(resolve_device(args.device), QUICK if args.quick else FULL)
    for line in ddp_table(report):
        print(line)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    if args.write_readme:
        replace_section(README, DDP_START, DDP_END, ddp_table(report))
        print(f"{README} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
