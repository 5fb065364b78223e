"""The `torchdash` command line's client commands: submit, script, sweep, runs, show, logs,
watch, cancel, resume, fork, download, study (create, show, stop, resume, add), studies. They
talk to a server over HTTP through the Python client (app/client/), `runs` through the standard
library alone (reads.py: it must answer at once), and never import torch.

`register(commands)` adds them to the `torchdash` parser (app/__main__.py); `run(args)` runs
the one that was parsed and returns the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_URL = "http://127.0.0.1:8000"
EXIT_BROKEN_PIPE = 141  # what a shell reports for a command ended by SIGPIPE (128 + 13)
STATUSES = ["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
SORT_KEYS = [
    "id", "name", "status", "created_at", "started_at", "finished_at", "epoch",
    "best_val_accuracy", "best_metric",
]  # fmt: skip


def register(commands: argparse._SubParsersAction) -> None:
    """Add the client commands to `commands`, the `torchdash` parser's subcommands."""
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument(
        "--url",
        default=os.environ.get("TORCHDASH_URL", DEFAULT_URL),
        help=f"the server (default: TORCHDASH_URL, else {DEFAULT_URL})",
    )
    server.add_argument(
        "--token",
        default=os.environ.get("TORCHDASH_TOKEN"),
        help="the server's access token (default: TORCHDASH_TOKEN)",
    )
    reads = argparse.ArgumentParser(add_help=False)
    reads.add_argument("--json", action="store_true", help="print the API's JSON")
    sets = argparse.ArgumentParser(add_help=False)
    sets.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="set a config field by its dotted path, e.g. optimizer.lr=0.01 (repeatable)",
    )
    watches = argparse.ArgumentParser(add_help=False)
    watches.add_argument(
        "--watch", action="store_true", help="then watch it; the exit code is its final status"
    )

    def add(name: str, help: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help, parents=[server, *parents])
        parser.set_defaults(client_command=name)
        return parser

    submit = add("submit", "queue a run from a config file (or the defaults)", sets, watches, reads)
    submit.add_argument("config", nargs="?", help="a run config JSON file (default: {})")

    script = add("script", "queue a script run: a .py file of the scripts folder", watches, reads)
    script.add_argument("path", help="the script, relative to the server's scripts folder")
    script.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="the script's own arguments: everything after the path (a leading -- is dropped)",
    )
    script.add_argument("--name", help="the run's name (default: the script's file name)")
    script.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    script.add_argument(
        "--processes", type=int, default=1, help="more than 1: torchrun, one GPU each on CUDA"
    )
    script.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the script (repeatable)",
    )
    script.add_argument("--monitor", help="the metric its best epoch is judged by")
    script.add_argument("--tag", dest="tags", action="append", default=[], help="(repeatable)")

    sweep = add("sweep", "queue one run per combination of --grid values", sets, reads)
    sweep.add_argument("config", nargs="?", help="the base run config JSON file (default: {})")
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        required=True,
        metavar="PATH=V1,V2",
        help="a field's values, e.g. optimizer.lr=0.01,0.001 (repeatable)",
    )
    sweep.add_argument("--group", help="the sweep's group name (default: 'sweep <time>')")

    runs = add("runs", "list runs (a table)", reads)
    runs.add_argument("--status", choices=STATUSES)
    runs.add_argument("--tag", help="only runs with this tag")
    runs.add_argument("--text", "-q", help="text in the run's name or sweep group")
    runs.add_argument("--sort", choices=SORT_KEYS, help="column to sort on (default: id)")
    runs.add_argument("--order", choices=["asc", "desc"], help="default: desc")
    runs.add_argument("--limit", type=int, default=50)
    runs.add_argument("--offset", type=int, default=0)

    show = add("show", "a run and its last epochs", reads)
    show.add_argument("run_id", type=int)
    show.add_argument("--epochs", type=int, default=5, help="how many last epochs (default 5)")

    logs = add("logs", "a run's worker log (--json: one LogChunk per line)", reads)
    logs.add_argument("run_id", type=int)
    logs.add_argument("-f", "--follow", action="store_true", help="until the run has finished")

    watch = add(
        "watch", "live view of a run; exit code 0 when it succeeded (--json: events)", reads
    )
    watch.add_argument("run_id", type=int)

    cancel = add("cancel", "cancel runs (queued at once, running at the next batch)", reads)
    cancel.add_argument("run_ids", type=int, nargs="+", metavar="run_id")

    resume = add("resume", "continue a run from its newest checkpoint", watches, reads)
    resume.add_argument("run_id", type=int)
    resume.add_argument("--max-epochs", type=int, help="a new epoch limit")
    resume.add_argument("--fallback", action="store_true", help="skip unreadable checkpoints")

    fork = add("fork", "a new run from one of a run's epoch checkpoints", sets, watches, reads)
    fork.add_argument("run_id", type=int)
    fork.add_argument("--epoch", type=int, required=True, help="the finished epoch to start from")

    download = add("download", "a run's model and optimizer state_dicts, or its bundle")
    download.add_argument("run_id", type=int)
    download.add_argument(
        "--epoch",
        type=int,
        help="default: the run's best checkpoint (what early stopping kept), else the newest "
        "complete one",
    )
    download.add_argument("--out", default=".", help="folder to save into (default: .)")
    download.add_argument("--bundle", action="store_true", help="the bundle zip instead")

    add("studies", "list studies (a table)", reads)
    # The server options go on each action (`torchdash study show 3 --url ...`).
    study = commands.add_parser(
        "study", help="start, show and steer a study (Optuna search, each trial a run)"
    )
    study.set_defaults(client_command="study")
    actions = study.add_subparsers(dest="study_command", required=True)
    create = actions.add_parser("create", help="start a study", parents=[server, sets, reads])
    create.add_argument("--config", help="the base run config JSON file (default: {})")
    create.add_argument("--space", required=True, help="a JSON file: a list of space entries")
    create.add_argument("--objective", default="val_loss", help="a metric (default: val_loss)")
    create.add_argument("--direction", choices=["min", "max"], help="default: the metric's own")
    create.add_argument("--trials", type=int, default=20, help="how many trials (default 20)")
    create.add_argument("--parallelism", type=int, help="trials at once (default: every slot)")
    create.add_argument("--sampler", choices=["tpe", "random", "grid"], default="tpe")
    create.add_argument("--pruner", choices=["asha", "median", "none"], default="asha")
    create.add_argument("--seeds", type=int, default=1, help="runs per trial; objective: mean")
    create.add_argument("--name", help="default: the config's name")
    for name, help in (("show", "a study and its trials"), ("resume", "resume a stopped study")):
        action = actions.add_parser(name, help=help, parents=[server, reads])
        action.add_argument("study_id", type=int)
    stop = actions.add_parser("stop", help="stop asking for trials", parents=[server, reads])
    stop.add_argument("study_id", type=int)
    stop.add_argument("--cancel-running", action="store_true", help="cancel running trials too")
    more = actions.add_parser("add", help="add trials, or a point to try", parents=[server, reads])
    more.add_argument("study_id", type=int)
    more.add_argument("-n", type=int, default=0, help="how many more trials")
    more.add_argument(
        "--point", action="append", default=[], metavar="PATH=VALUE", help="enqueue a point"
    )


def run(args: argparse.Namespace) -> int:
    """Run the parsed client command; its exit code. Output piped into a reader that has gone
    (`torchdash runs | head -1`) ends the command quietly, as `ls | head` does."""
    try:
        if args.client_command == "runs":  # the listing skips the client's imports (reads.py)
            from app.cli.reads import runs

            code = runs(args)
        else:
            from app.cli.commands import run_command

            code = run_command(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code
