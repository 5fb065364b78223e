"""Training scripts of the kind users bring, in plain PyTorch, written by tests into a scripts
folder: each trains a small linear model on the real digits (scikit-learn's copy)."""

from __future__ import annotations

from pathlib import Path

# The digits, a linear model and one epoch of plain SGD: what every script below shares.
_SETUP = """
import argparse, json, os, sys, time
import torch
from sklearn.datasets import load_digits

torch.manual_seed(0)
digits = load_digits()
x = torch.tensor(digits.data, dtype=torch.float32) / 16
y = torch.tensor(digits.target)
train_x, train_y, val_x, val_y = x[:1400], y[:1400], x[1400:], y[1400:]
model = torch.nn.Linear(64, 10)
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)


def train_epoch(epoch, on_step=None):
    model.train()
    total = 0.0
    for batch, start in enumerate(range(0, len(train_x), 200), start=1):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(train_x[start:start + 200]),
                                                 train_y[start:start + 200])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(train_x[start:start + 200])
        if on_step is not None:
            on_step((epoch - 1) * 7 + batch, loss.item())
    return total / len(train_x)


def evaluate():
    model.eval()
    with torch.no_grad():
        logits = model(val_x)
        loss = torch.nn.functional.cross_entropy(logits, val_y).item()
        accuracy = (logits.argmax(1) == val_y).float().mean().item()
    return loss, accuracy
"""

# Unmodified: prints JSON lines, and some lines the capture must leave as text.
JSON_LINES = (
    '"""Prints its metrics as JSON lines."""\n'
    + _SETUP
    + """
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3, help="how many epochs")
parser.add_argument("--lr", type=float, default=0.5)
args = parser.parse_args()
for group in optimizer.param_groups:
    group["lr"] = args.lr
print("starting, lr", args.lr, "in", os.getcwd())
for epoch in range(1, args.epochs + 1):
    train_loss = train_epoch(
        epoch, lambda step, loss: print(json.dumps({"step": step, "loss": loss}))
    )
    val_loss, val_accuracy = evaluate()
    row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
           "val_accuracy": val_accuracy, "lr": args.lr}
    if epoch == 2:
        row["grad_norm"] = float("nan")  # a real signal: stored, a gap in the chart
    if epoch == 3:
        del row["lr"]  # a column the script does not report: null, never a made-up 0
    print(json.dumps(row), flush=True)
    if epoch == 1:
        print(json.dumps({"epoch": 99, "phase": "not a number"}))  # text: a non-numeric value
        print("{" + '"epoch": 98, "pad": "' + "x" * 10_000_000 + '"}')  # text: a 10 MB line
# A diverged step after the last epoch's 7: kept, as a gap.
print(json.dumps({"step": args.epochs * 7 + 1, "loss": float("inf")}))
print(json.dumps({"message": "done"}))
"""
)

# Uses the tracking module: checkpoints every epoch, resumes from one, stops when asked; the
# first time (no checkpoint to resume from) it crashes at --crash-at.
TRACKED = (
    '"""Trains with the tracking module."""\n'
    + _SETUP
    + """
import torchdash_track as track

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=4)
parser.add_argument("--crash-at", type=int, default=0)
args = parser.parse_args()
run = track.init()
start = 0
resume = run.resume_checkpoint()
if resume is not None:
    state = track.load_checkpoint(resume)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    start = state["epoch"]
    run.note(f"resumed from epoch {start}")
for epoch in range(start + 1, args.epochs + 1):
    if epoch == args.crash_at and resume is None:
        print("about to fail", file=sys.stderr)
        raise RuntimeError(f"deliberate crash at epoch {epoch}")
    train_loss = train_epoch(epoch, lambda step, loss: run.log_step(step, loss))
    val_loss, val_accuracy = evaluate()
    run.log(epoch, train_loss=train_loss, val_loss=val_loss, val_accuracy=val_accuracy)
    run.save_checkpoint(epoch, model=model, optimizer=optimizer, note="plain")
    if run.should_stop():
        break
run.finish()
"""
)

# Ignores Cancel and SIGTERM, and leaves a child of its own running: only SIGKILL on its process
# group ends them. Writes both pids into its working folder.
STUBBORN = """
import json, os, signal, subprocess, sys, time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open("pids", "w") as handle:
    handle.write(f"{os.getpid()} {child.pid}")
epoch = 0
while True:
    epoch += 1
    print(json.dumps({"epoch": epoch, "val_loss": 1.0 / epoch}), flush=True)
    time.sleep(0.2)
"""

# torchrun with 2 processes on the CPU: every rank prints its rows; only rank 0's count.
DISTRIBUTED = (
    '"""Data-parallel over gloo."""\n'
    + _SETUP
    + """
import torch.distributed as dist

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
for epoch in range(1, 3):
    train_loss = torch.tensor(train_epoch(epoch))
    dist.all_reduce(train_loss)
    val_loss, val_accuracy = evaluate()
    print(json.dumps({"epoch": epoch, "train_loss": train_loss.item() / world,
                      "val_loss": val_loss, "rank": rank, "world": world}), flush=True)
dist.destroy_process_group()
"""
)


def write_script(scripts_dir: Path, name: str, source: str) -> str:
    """Write `source` as `name` in the scripts folder; the path a run names it by."""
    path = scripts_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return name
