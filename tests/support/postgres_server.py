"""A real, throw-away PostgreSQL server for the tests and the benches (Debian's `postgresql`).

`initdb` and `postgres` refuse to run as root, so when this process is root they run as the
`postgres` user the Debian package creates, in a temporary folder owned by it. The server listens
on 127.0.0.1 on a free port, trusts local connections (it holds nothing but test data) and is
stopped, its folder removed, by `stop`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "postgres"


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs, or None when none is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> int:
    return int(Path(path).parent.parent.name)


def unavailable_reason() -> str | None:
    """Why no server can be started here, or None when one can."""
    if bin_dir() is None:
        return "PostgreSQL is not installed (`apt-get install postgresql`, or `make postgres`)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without `runuser` to start PostgreSQL as the postgres user"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster: `start`, `url(database)`, `create_database`, `restart`, `stop`."""

    def __init__(self, max_connections: int = 300) -> None:
        self.bin = bin_dir()
        if self.bin is None:
            raise RuntimeError(unavailable_reason())
        self.max_connections = max_connections
        self.folder = Path(tempfile.mkdtemp(prefix="torchdash-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()

    def _as_owner(self, *command: str | Path) -> list[str]:
        """`command`, run as the postgres user when this process is root (initdb refuses root)."""
        args = [str(part) for part in command]
        return ["runuser", "-u", SUPERUSER, "--", *args] if os.geteuid() == 0 else args

    def _run(self, *command: str | Path) -> None:
        # The server's own output goes to its log (`-l`), so these pipes close when pg_ctl ends.
        subprocess.run(
            self._as_owner(*command), check=True, capture_output=True, stdin=subprocess.DEVNULL
        )

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.folder, SUPERUSER, SUPERUSER)
        self._run(
            self.bin / "initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        self.options = options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories="
            f"{self.folder} -c max_connections={self.max_connections} -c fsync=off"
            " -c full_page_writes=off"
        )
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w",
                  "start")  # fmt: skip
        return self

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server is back when it returns."""
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-m", "fast", "-w",
                  "restart")  # fmt: skip

    def pause(self) -> None:
        """`pg_ctl stop -m fast`, keeping the data: the server is down until `resume`."""
        self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        """Start a paused server again, as it was; back when this returns."""
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.log, "-o", self.options, "-w",
                  "start")  # fmt: skip

    def stop(self) -> None:
        try:
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # never started, or already stopped
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` on this server (psycopg 3)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE `name` (a copy of `template`, which is fast), returning its URL."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        for attempt in range(50):
            try:
                with psycopg.connect(self.conninfo(), autocommit=True) as connection:
                    connection.execute(statement)
                break
            except psycopg.errors.ObjectInUse:  # the template still had a closing connection
                if attempt == 49:
                    raise
                time.sleep(0.1)
        return self.url(name)

    def connection_count(self, database: str) -> int:
        """Client connections open to `database` now (pg_stat_activity)."""
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid()",
                (database,),
            ).fetchone()
        return int(row[0]) if row else 0

    def transactions(self, database: str) -> int:
        """Transactions committed in `database` so far (pg_stat_database.xact_commit).

        Each of torchdash's reads is one transaction; the counter lags by up to half a second
        (statistics are flushed that often), which is why a caller measures a long interval."""
        with psycopg.connect(self.conninfo(database), autocommit=True) as connection:
            connection.execute("SELECT pg_stat_clear_snapshot()")
            row = connection.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (database,)
            ).fetchone()
        return int(row[0]) if row else 0
