"""train.py: reproduce a torchdash run with plain PyTorch, no torchdash needed.

This file is shipped, as text, inside a run's bundle (GET /api/runs/{id}/bundle) next to the
run's `config.json`; the web server never imports it. It rebuilds exactly what torchdash's
trainer builds (same seeded weight init, same train/validation split, same per-epoch shuffling
order, same loop), so on a CPU it prints the same losses as the run did:

    python train.py                      # reads ./config.json, trains max_epochs
    python train.py --epochs 1 --device cpu
    python train.py --init model.pt      # start from the bundle's weights instead

It trains in a single process, always: a run trained with DDP (`processes` > 1 in its config)
is retrained here on one device, with the whole training set per epoch (so N times the steps of
an epoch of the run, and other losses); its checkpoints, plain state_dicts, load here as usual.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn, optim
from torch.utils.data import DataLoader, Sampler, Subset, TensorDataset

if TYPE_CHECKING:
    from typing import TypeAlias

    from torchvision.datasets import ImageFolder

    # Every data set this script builds has a length (torch's `Dataset` promises none).
    SizedData: TypeAlias = TensorDataset | Subset | ImageFolder

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class EpochShuffleSampler(Sampler[int]):
    """Epoch e's order is randperm(n) seeded with seed * 1_000_003 + e (as in torchdash)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = n, seed, 1

    def __iter__(self):  # type: ignore[no-untyped-def]
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=generator).tolist())

    def __len__(self) -> int:
        return self.n


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    return order[n_val:], order[:n_val]


def build_data(data: dict) -> tuple[SizedData, SizedData, int, int]:
    """(train, val, input features, classes) for the run's data config."""
    train: SizedData
    val: SizedData
    if data["kind"] == "digits":
        from sklearn.datasets import load_digits  # the 1,797 digits ship inside scikit-learn

        bunch = load_digits()
        images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
        labels = torch.tensor(bunch.target, dtype=torch.long)
        train_idx, val_idx = split_indices(len(labels), data["val_fraction"], data["split_seed"])
        train = TensorDataset(images[train_idx], labels[train_idx])
        val = TensorDataset(images[val_idx], labels[val_idx])
        return train, val, math.prod(images.shape[1:]), len(bunch.target_names)
    if data["kind"] == "imagefolder":
        from torchvision import datasets, transforms

        steps: list = []
        if data.get("grayscale"):
            steps.append(transforms.Grayscale(num_output_channels=1))
        if data.get("image_size"):
            steps.append(transforms.Resize((data["image_size"], data["image_size"])))
        steps.append(transforms.ToTensor())
        transform = transforms.Compose(steps)
        full = datasets.ImageFolder(data["train_dir"], transform=transform)
        if data.get("val_dir"):
            train, val = full, datasets.ImageFolder(data["val_dir"], transform=transform)
        else:
            train_idx, val_idx = split_indices(len(full), data["val_fraction"], data["split_seed"])
            train, val = Subset(full, train_idx), Subset(full, val_idx)
        return train, val, math.prod(full[0][0].shape), len(full.classes)
    raise SystemExit(f"data kind {data['kind']!r} is not supported by this script")


def build_model(model: dict, in_features: int, classes: int) -> nn.Module:
    if model["kind"] != "mlp":
        raise SystemExit(f"model kind {model['kind']!r} is not supported by this script")
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for hidden in model["hidden_sizes"]:
        layers += [nn.Linear(width, hidden), ACTIVATIONS[model["activation"]]()]
        if model["dropout"] > 0:
            layers.append(nn.Dropout(model["dropout"]))
        width = hidden
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def build_optimizer(config: dict, params) -> optim.Optimizer:  # type: ignore[no-untyped-def]
    kwargs = {key: value for key, value in config.items() if key != "kind"}
    if config["kind"] == "sgd":
        return optim.SGD(params, **kwargs)
    if config["kind"] == "adam":
        return optim.Adam(params, **{**kwargs, "betas": tuple(kwargs["betas"])})
    raise SystemExit(f"optimizer kind {config['kind']!r} is not supported by this script")


def build_loss(config: dict) -> nn.Module:
    if config["kind"] != "cross_entropy":
        raise SystemExit(f"loss kind {config['kind']!r} is not supported by this script")
    return nn.CrossEntropyLoss(label_smoothing=config["label_smoothing"])


def train_one_epoch(model, loader, loss_fn, optimizer, device) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        output = model(inputs)
        loss = loss_fn(output, targets)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(targets)
        correct += (output.argmax(dim=1) == targets).sum()
        seen += len(targets)
    return loss_sum.item() / seen, correct.item() / seen


@torch.no_grad()
def evaluate(model, loader, loss_fn, device) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        output = model(inputs)
        loss_sum += loss_fn(output, targets) * len(targets)
        correct += (output.argmax(dim=1) == targets).sum()
        seen += len(targets)
    return loss_sum.item() / seen, correct.item() / seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(Path(__file__).with_name("config.json")))
    parser.add_argument("--epochs", type=int, help="default: the run's max_epochs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--init", help="a model.pt (state_dict) to start from")
    args = parser.parse_args()
    config = json.loads(Path(args.config).read_text())
    device = torch.device(args.device)
    if config.get("processes", 1) > 1:
        processes = config["processes"]
        print(f"note: the run trained on {processes} DDP processes; this script trains in one")

    torch.manual_seed(config["seed"])  # before the model is built: it seeds the weights
    train, val, in_features, classes = build_data(config["data"])
    model = build_model(config["model"], in_features, classes).to(device)
    if args.init:
        model.load_state_dict(torch.load(args.init, map_location=device, weights_only=True))
    optimizer = build_optimizer(config["optimizer"], model.parameters())
    loss_fn = build_loss(config["loss"])
    sampler = EpochShuffleSampler(len(train), config["seed"])
    train_loader: DataLoader = DataLoader(
        train,
        batch_size=config["batch_size"],
        sampler=sampler,
        generator=torch.Generator().manual_seed(config["seed"]),
    )
    val_loader: DataLoader = DataLoader(val, batch_size=config["batch_size"], shuffle=False)

    for epoch in range(1, (args.epochs or config["max_epochs"]) + 1):
        sampler.epoch = epoch
        train_loss, train_accuracy = train_one_epoch(
            model, train_loader, loss_fn, optimizer, device
        )
        val_loss, val_accuracy = evaluate(model, val_loader, loss_fn, device)
        print(
            json.dumps(
                {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "train_accuracy": train_accuracy,
                    "val_loss": val_loss,
                    "val_accuracy": val_accuracy,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
