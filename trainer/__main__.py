"""`python -m trainer --config run.json`: train one run without the server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from trainer.config import RunConfig
from trainer.config.tasks import monitor_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="run config JSON file")
    parser.add_argument(
        "--checkpoints", type=Path, default=None, help="folder for checkpoints (none if omitted)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the newest checkpoint in --checkpoints"
    )
    parser.add_argument(
        "--plugins",
        type=Path,
        default=None,
        help="the plugins folder the config's plugin kinds are found in",
    )
    args = parser.parse_args(argv)
    plugins = args.plugins

    try:
        config = RunConfig.model_validate(json.loads(args.config.read_text()))
    except (OSError, json.JSONDecodeError, ValidationError) as error:
        print(f"invalid config {args.config}: {error}", file=sys.stderr)
        return 2

    # Imported here so that `--help` and a config error answer without loading torch.
    from trainer.callbacks import PrintCallbacks
    from trainer.checkpoints.store import latest_checkpoint
    from trainer.loop import fit

    resume_from = None
    if args.resume:
        if args.checkpoints is None or (ref := latest_checkpoint(args.checkpoints)) is None:
            print("--resume needs --checkpoints holding a checkpoint", file=sys.stderr)
            return 2
        resume_from = ref.path
    if config.processes > 1:  # this process is rank 0 and starts the others
        from trainer.distributed.launcher import FitInputs, RankGroup

        inputs = FitInputs(resume_from=resume_from, plugins_dir=plugins)
        with RankGroup(config, inputs) as ranks:
            result = fit(
                config,
                PrintCallbacks(),
                checkpoint_dir=args.checkpoints,
                resume_from=resume_from,
                plugins_dir=plugins,
                ranks=ranks,
            )
    else:
        result = fit(
            config,
            PrintCallbacks(),
            checkpoint_dir=args.checkpoints,
            resume_from=resume_from,
            plugins_dir=plugins,
        )
    progress = result.progress
    best = "none" if progress.best_metric is None else f"{progress.best_metric:.4f}"
    print(
        f"done: epoch {progress.epoch}, best {monitor_of(config)[0]} {best} "
        f"(epoch {progress.best_metric_epoch})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
