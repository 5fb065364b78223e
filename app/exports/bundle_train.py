"""train.py: rebuild this torchdash run with the trainer shipped beside it.

This file is shipped, as text, inside a run's bundle (GET /api/runs/{id}/bundle), next to the
`trainer/` package that trained the run, its plugin files and its `config.json`; the web server
never imports it. It calls the trainer's own `fit` on the config, so a run rebuilds with
everything the form can set (schedulers, transforms, parameter groups, early stopping, tasks,
plugins, DDP), and prints one JSON line per epoch on stdout (the rest goes to stderr):

    python train.py                                   # config.json, every epoch of the run
    python train.py --epochs 1 --device cpu
    python train.py --init checkpoints/best/model.pt  # start from the saved weights
    python train.py --resume checkpoints/last         # go on from the last checkpoint
    python train.py --data-root /their/data=/my/data  # the data lives elsewhere here
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import typing
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TextIO

BUNDLE = Path(__file__).resolve().parent
# This folder's trainer, before any installed torchdash (an editable install, a checkout).
sys.path.insert(0, str(BUNDLE))

import trainer  # noqa: E402
from trainer.callbacks import Callbacks, EarlyStoppingReport, EpochReport, FitStart  # noqa: E402
from trainer.config import RunConfig  # noqa: E402
from trainer.config.base import PathKind  # noqa: E402


class Refusal(Exception):
    """What this bundle cannot rebuild as asked, said before anything trains."""


class JsonLines(Callbacks):
    """One JSON line per epoch on `out`; what the run is built as, and early stopping, on
    stderr."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def on_fit_start(self, info: FitStart) -> None:
        say(
            f"device {info.device}, {info.parameter_count:,} parameters, "
            f"{info.batches_per_epoch} batches per epoch, from epoch {info.start_epoch}"
        )

    def on_epoch_end(self, report: EpochReport) -> None:
        row = {k: v for k, v in dataclasses.asdict(report).items() if k != "optimizer_summary"}
        print(json.dumps(row), file=self.out, flush=True)

    def on_early_stopping(self, report: EarlyStoppingReport) -> None:
        if report.stop_reason:
            say(report.stop_reason)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python train.py", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--epochs", type=int, help="the run's max_epochs (counted from epoch 1)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, mps or auto (default: the run's)")
    parser.add_argument(
        "--processes", type=int, help="DDP processes (default: the run's; 1: a single process)"
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--init", type=Path, help="a model.pt (state_dict) to start from")
    start.add_argument("--resume", type=Path, help="a checkpoint folder to go on from")
    parser.add_argument(
        "--data-root",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="read the data paths under OLD from NEW instead (repeatable)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=BUNDLE / "output",
        help="folder for the checkpoints (default: output/ here)",
    )
    parser.add_argument("--config", type=Path, default=BUNDLE / "config.json")
    return parser.parse_args(argv)


def load_config(args: argparse.Namespace) -> RunConfig:
    """config.json with the command line's overrides and data roots applied, checked."""
    try:
        raw = json.loads(args.config.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise Refusal(f"no run config to rebuild: {error}") from error
    overrides = {"max_epochs": args.epochs, "device": args.device, "processes": args.processes}
    raw.update({key: value for key, value in overrides.items() if value is not None})
    try:
        config = RunConfig.model_validate(raw)
    except ValueError as error:
        raise Refusal(f"{args.config} is not a run config this trainer accepts: {error}") from error
    moves = [parse_move(text) for text in args.data_root]
    data = config.data.model_dump(mode="json")
    for name in path_fields(config):
        if isinstance(data.get(name), str):
            data[name] = moved(data[name], moves)
    config = RunConfig.model_validate({**config.model_dump(mode="json"), "data": data})
    require_data(config)
    return config


def parse_move(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old or not new:
        raise Refusal(f"--data-root {text!r}: expected OLD=NEW, two folders")
    return old.rstrip("/"), new.rstrip("/")


def moved(path: str, moves: list[tuple[str, str]]) -> str:
    for old, new in moves:
        if path == old or path.startswith(old + "/"):
            return new + path[len(old) :]
    return path


def path_fields(config: RunConfig) -> dict[str, PathKind]:
    """The data config's path fields (they name files on the machine that trained the run)."""
    found = {}
    for name, field in type(config.data).model_fields.items():
        marker = next((m for m in field.metadata if isinstance(m, PathKind)), None)
        found[name] = marker or marker_in(field.annotation)
    return {name: marker for name, marker in found.items() if marker is not None}


def marker_in(annotation: Any) -> PathKind | None:
    """The PathKind inside an annotation such as `DataDir | None`."""
    for item in getattr(annotation, "__metadata__", ()):
        if isinstance(item, PathKind):
            return item
    for arg in typing.get_args(annotation):
        if (found := marker_in(arg)) is not None:
            return found
    return None


def require_data(config: RunConfig) -> None:
    """Refuse, naming the field, when the data the config names is not on this machine."""
    for name, kind in path_fields(config).items():
        value = getattr(config.data, name)
        if value is None:
            continue
        path = Path(value)
        if path.is_dir() if kind.expects == "dir" else path.is_file():
            continue
        raise Refusal(
            f"data.{name}: the {'folder' if kind.expects == 'dir' else 'file'} {value} is not "
            "on this machine; the bundle does not ship data. Copy it here, or pass "
            "--data-root OLD=NEW to read it from where it is."
        )


@dataclasses.dataclass(frozen=True)
class Start:
    resume_from: Path | None = None
    init_weights: Path | None = None
    fork: bool = False


def start_point(args: argparse.Namespace) -> Start:
    """--init or --resume; without them, where the run itself started (start.json)."""
    if args.init is not None:
        return Start(init_weights=existing(args.init, "--init"))
    if args.resume is not None:
        return Start(resume_from=existing(args.resume, "--resume"))
    record_file = BUNDLE / "start.json"
    record: dict[str, Any] = json.loads(record_file.read_text()) if record_file.is_file() else {}
    if "missing" in record:
        raise Refusal(f"{record['missing']}: pass --init or --resume to say where to start")
    if "resume_from" in record:
        say(f"starting from {record['what']} ({record['resume_from']}), as the run did")
        return Start(resume_from=BUNDLE / record["resume_from"], fork=bool(record.get("fork")))
    if "init_weights" in record:
        say(f"starting from {record['what']} ({record['init_weights']}), as the run did")
        return Start(init_weights=BUNDLE / record["init_weights"])
    return Start()


def existing(path: Path, flag: str) -> Path:
    if not path.exists():
        raise Refusal(f"{flag} {path}: no such file or folder")
    return path.resolve()


def require_own_trainer() -> None:
    """The trainer imported must be this folder's: an installed one may be another version."""
    here = Path(trainer.__file__).resolve().parent
    if here != BUNDLE / "trainer":
        raise Refusal(f"imported the trainer at {here}, not this bundle's {BUNDLE / 'trainer'}")
    say(f"trainer: {here}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_own_trainer()
        config = load_config(args)
        start = start_point(args)
    except Refusal as error:
        say(f"train.py: {error}")
        return 2

    from trainer.loop import fit  # here: a refusal answers without loading torch

    plugins_dir = BUNDLE / "plugins"
    epochs = JsonLines(sys.stdout)
    # stdout holds the epochs' JSON lines only: what the trainer prints goes to stderr.
    with contextlib.redirect_stdout(sys.stderr), rank_group(config, start, plugins_dir) as ranks:
        fit(
            config,
            epochs,
            checkpoint_dir=args.output.resolve(),
            plugins_dir=plugins_dir,
            resume_from=start.resume_from,
            init_weights=start.init_weights,
            fork=start.fork,
            ranks=ranks,
        )
    return 0


def rank_group(config: RunConfig, start: Start, plugins_dir: Path) -> AbstractContextManager[Any]:
    """None for one process; with DDP (`processes` > 1), this process is rank 0 and starts the
    others, as the worker does."""
    if config.processes == 1:
        return contextlib.nullcontext()
    # The other ranks are `python -m trainer.distributed.launcher`: they must import this
    # folder's trainer too, whatever their working folder (`-m` would put it first).
    os.environ["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(BUNDLE), os.environ.get("PYTHONPATH")) if part
    )
    os.environ["PYTHONSAFEPATH"] = "1"
    from trainer.distributed.launcher import FitInputs, RankGroup

    inputs = FitInputs(
        resume_from=start.resume_from,
        plugins_dir=plugins_dir,
        init_weights=start.init_weights,
        fork=start.fork,
    )
    return RankGroup(config, inputs, log=say)


if __name__ == "__main__":
    sys.exit(main())
