"""A real torchdash server on loopback for the benchmarks, on a temporary home."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    base: str  # e.g. http://127.0.0.1:PORT
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (all its threads, user and system)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(home: Path, **settings: str) -> Iterator[Server]:
    """Start `python -m app serve` on `home`; yield it once it answers; stop it."""
    port = free_port()
    env = {
        **os.environ,
        "TORCHDASH_HOME": str(home),
        "TORCHDASH_PORT": str(port),
        **{f"TORCHDASH_{key.upper()}": value for key, value in settings.items()},
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.02)
        else:
            raise RuntimeError("the server did not answer within 60 s")
        yield Server(base, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=15)
