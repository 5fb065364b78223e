"""`python -m app`: serve the dashboard, prepare the demo data, or talk to a server (app/cli/)."""

from __future__ import annotations

import argparse
import gc
import logging

from app import cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="torchdash", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve the dashboard (TORCHDASH_HOST, TORCHDASH_PORT)")
    commands.add_parser("prepare-data", help="write the demo data under the first data root")
    copying = commands.add_parser(
        "copy-database",
        help="copy every row of a database into an empty one (SQLite -> PostgreSQL)",
    )
    copying.add_argument("--from", dest="source", required=True, help="source SQLAlchemy URL")
    copying.add_argument("--to", dest="target", required=True, help="empty target SQLAlchemy URL")
    caching = commands.add_parser(
        "cache",
        help="list the on-disk cache of decoded data (TORCHDASH_CACHE_DIR); 'clear' empties it",
    )
    caching.add_argument("action", nargs="?", choices=["show", "clear"], default="show")
    caching.add_argument("--json", action="store_true", help="print the listing as JSON")
    cli.register(commands)
    args = parser.parse_args(argv)
    if getattr(args, "client_command", None):
        raise SystemExit(cli.run(args))
    if args.command == "copy-database":
        from app.storage.copy import run_copy_command

        parser.exit(run_copy_command(args.source, args.target))
    if args.command == "serve":
        # Importing the server and building its routes allocates objects that live as long as
        # the process: the cyclic collector, walking them again and again meanwhile, would take
        # a tenth of the start. It waits until the app is built; they are then frozen out of its
        # walks.
        gc.disable()
    # Here, not at the top: a client command starts without pydantic and pydantic-settings.
    from pydantic import ValidationError

    from app.settings import Settings

    try:
        settings = Settings()
    except ValidationError as error:  # a malformed TORCHDASH_* variable: say which, and stop
        parser.exit(2, f"torchdash: invalid settings: {error}\n")

    if args.command == "prepare-data":
        from trainer.data.demo import write_digits_image_folder

        root = settings.allowed_data_roots[0]
        print(f"demo ImageFolder ready at {write_digits_image_folder(root)}")
        return

    if args.command == "cache":
        from app.cli.cache_listing import cache_command

        parser.exit(cache_command(settings, args.action, args.json))

    from app.web.auth import check_bind

    try:
        check_bind(settings)
    except ValueError as error:
        parser.exit(2, f"torchdash: {error}\n")

    from app.errors import StorageUnavailable
    from app.files import RunFiles

    try:  # an unreachable bucket (or an unwritable folder) is one clear line, not a traceback
        RunFiles(settings).check()
    except StorageUnavailable as error:
        parser.exit(2, f"torchdash: TORCHDASH_STORAGE: {error}\n")

    import uvicorn

    from app.main import create_app

    application = create_app(settings)
    gc.freeze()
    gc.enable()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(f"torchdash serving on http://{settings.host}:{settings.port}", flush=True)
    uvicorn.run(application, host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
