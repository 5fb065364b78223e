"""What each client command does, on the Python client; errors become a message and an exit
code, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

import app.cli.output as output
from app.cli.live_view import LiveView
from app.cli.overrides import apply_sets, parse_grid
from app.client import TERMINAL_STATUSES, ApiError, Client
from app.web.shapes import RunPublic

# `watch` (and `--watch`) exit with the run's final status, so scripts can wait on a run.
EXIT_CODES = {"succeeded": 0, "failed": 1, "cancelled": 3, "interrupted": 4}
EXIT_ERROR = 2  # a refused request, an unreachable server, a bad argument (as argparse's)


def run_command(args: argparse.Namespace) -> int:
    client = Client(args.url, args.token)
    try:
        return COMMANDS[args.client_command](client, args)
    except ApiError as error:
        print(f"torchdash: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except httpx.TransportError as error:
        print(f"torchdash: error: cannot reach {args.url}: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # the reader of our output has gone: app/cli/__init__.py ends quietly
        raise
    except (OSError, ValueError) as error:  # a config file that is missing or not JSON, a --set
        print(f"torchdash: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    finally:
        client.close()


def read_config(path: str | None, sets: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if path:
        try:
            config = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not JSON: {error}") from error
        if not isinstance(config, dict):
            raise ValueError(f"{path} must hold a JSON object (a run config)")
    return apply_sets(with_default_parts(config, sets), sets)


def with_default_parts(config: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """`config` with the default of each part a `--set` reaches into but the config lacks:
    `--set optimizer.lr=0.01` on no file means the default optimizer (adam) with that lr."""
    parts = {text.partition("=")[0].strip().split(".")[0] for text in sets if "." in text}
    missing = parts - config.keys()
    if not missing:
        return config
    from trainer.config import RunConfig  # torch-free; imported only when a default is needed

    defaults = RunConfig().model_dump(mode="json")
    return {**config, **{p: defaults[p] for p in missing if isinstance(defaults.get(p), dict)}}


def submit(client: Client, args: argparse.Namespace) -> int:
    return created(client, args, client.create_run(read_config(args.config, args.sets)))


def script(client: Client, args: argparse.Namespace) -> int:
    """`torchdash script PATH ARGS...`: a script run of the server's scripts folder."""
    env = {}
    for text in args.env:
        name, equals, value = text.partition("=")
        if not equals or not name:
            raise ValueError(f"--env {text!r}: give NAME=VALUE")
        env[name] = value
    script_args = list(args.args)
    if script_args[:1] == ["--"]:
        script_args = script_args[1:]
    body: dict[str, Any] = {
        "name": args.name or Path(args.path).name,
        "script": {"path": args.path, "args": script_args, "env": env},
        "device": args.device,
        "processes": args.processes,
        "tags": args.tags,
    }
    if args.monitor:
        body["monitor"] = args.monitor
    return created(client, args, client.create_run(body))


def sweep(client: Client, args: argparse.Namespace) -> int:
    result = client.create_sweep(
        read_config(args.config, args.sets), parse_grid(args.grid), args.group
    )
    if args.json:
        output.print_json(result)
    else:
        print(f"sweep {result.group_name!r}: {len(result.runs)} runs queued")
        print(output.runs_table([run.model_dump(mode="json") for run in result.runs]))
    return 0


def show(client: Client, args: argparse.Namespace) -> int:
    run = client.run(args.run_id)
    epochs = client.metrics(args.run_id).epochs[-args.epochs :] if args.epochs > 0 else []
    checkpoints = client.checkpoints(args.run_id)
    cost = client.cost(args.run_id)
    if args.json:
        output.print_json(
            {
                "run": run.model_dump(mode="json"),
                "epochs": [e.model_dump(mode="json") for e in epochs],
                "checkpoints": [c.model_dump(mode="json") for c in checkpoints],
                "cost": cost.model_dump(mode="json"),
            }
        )
        return 0
    print(output.run_summary(run, cost))
    if cost.gpus:
        print()
        print(output.gpu_costs_table(cost))
    if epochs:
        print()
        print(output.epochs_table(epochs))
    if checkpoints:
        print()
        print(output.checkpoints_table(checkpoints, run.monitor))
    return 0


def logs(client: Client, args: argparse.Namespace) -> int:
    for chunk in client.log_chunks(args.run_id, follow=args.follow):
        sys.stdout.write(chunk.model_dump_json() + "\n" if args.json else chunk.text)
        sys.stdout.flush()
    return 0


def watch(client: Client, args: argparse.Namespace) -> int:
    return watch_run(client, args.run_id, as_json=args.json)


def watch_run(client: Client, run_id: int, as_json: bool = False) -> int:
    """Follow the run's events until it finishes; its final status as the exit code.
    `as_json`: each event as one JSON line, `{"event", "id", "data"}`, instead of the view."""
    view = LiveView(sys.stdout, sys.stdout.isatty())
    for event in client.events(run_id):
        if as_json:
            print(json.dumps(output.event_json(event)), flush=True)
        else:
            if event.run is not None and event.run.status == "queued":
                # The stream's run events may lack the queue's place (computed per listing):
                # the run's own page has it.
                if event.run.queue_position is None:
                    event.run = client.run(run_id)
            view.update(event)
        if event.run is not None and event.run.status in TERMINAL_STATUSES:
            return EXIT_CODES[event.run.status]
    return EXIT_ERROR


def cancel(client: Client, args: argparse.Namespace) -> int:
    cancelled = [client.cancel(run_id) for run_id in args.run_ids]
    if args.json:
        output.print_json(cancelled)
    for run in cancelled if not args.json else []:
        state = "stopping at the next batch" if run.status == "running" else run.status
        print(f"run {run.id}: {state}")
    return 0


def resume(client: Client, args: argparse.Namespace) -> int:
    return created(client, args, client.resume(args.run_id, args.max_epochs, args.fallback))


def fork(client: Client, args: argparse.Namespace) -> int:
    overrides = apply_sets({}, args.sets)
    return created(client, args, client.fork(args.run_id, args.epoch, overrides))


def created(client: Client, args: argparse.Namespace, run: RunPublic) -> int:
    """Print a queued run; with --watch, watch it and exit with its final status."""
    if args.json:
        output.print_json(run)
    else:
        print(f"run {run.id} {run.name}: {run.status}")
    return watch_run(client, run.id) if args.watch else 0


def download(client: Client, args: argparse.Namespace) -> int:
    if args.bundle:
        print(client.download_bundle(args.run_id, args.out))
        return 0
    epoch = args.epoch
    if epoch is None:  # the same pick as the page's Fork and the bundle
        epoch = client.default_checkpoint(args.run_id).epoch
    for part in ("model", "optimizer"):
        print(client.download_checkpoint(args.run_id, epoch, part, args.out))
    return 0


def studies(client: Client, args: argparse.Namespace) -> int:
    found = client.studies().studies
    if args.json:
        output.print_json(found)
    else:
        print(output.studies_table(found) if found else "no studies")
    return 0


def study(client: Client, args: argparse.Namespace) -> int:
    action = args.study_command
    if action == "create":
        space = json.loads(Path(args.space).read_text())
        body = {
            "config": read_config(args.config, args.sets),
            "space": space,
            "objective": args.objective,
            "direction": args.direction,
            "n_trials": args.trials,
            "parallelism": args.parallelism,
            "sampler": args.sampler,
            "pruner": args.pruner,
            "seeds": args.seeds,
            "name": args.name,
        }
        result: Any = client.create_study(body)
    elif action == "show":
        result = client.study(args.study_id)
    elif action == "stop":
        body = {"cancel_running": args.cancel_running}
        result = client.steer_study(args.study_id, "stop", body)
    elif action == "resume":
        result = client.steer_study(args.study_id, "resume", {})
    else:
        point = apply_sets({}, args.point) if args.point else None
        params = _flat(point) if point else None
        result = client.steer_study(args.study_id, "trials", {"n": args.n, "params": params})
    if args.json:
        output.print_json(result)
    else:
        print(output.study_summary(result))
    return 0


def _flat(nested: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"optimizer": {"lr": 0.01}} -> {"optimizer.lr": 0.01}: a point's field paths."""
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


COMMANDS: dict[str, Callable[[Client, argparse.Namespace], int]] = {
    "studies": studies,
    "study": study,
    "submit": submit,
    "script": script,
    "sweep": sweep,
    "show": show,
    "logs": logs,
    "watch": watch,
    "cancel": cancel,
    "resume": resume,
    "fork": fork,
    "download": download,
}
