"""Nobody in, with real processes: a real worker trains a run named like a shell payload and
runs nothing; a real server refuses an upload past its size limit before reading the body."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from app.settings import Settings
from tests.support.runs import TINY_CONFIG
from tests.support.servers import free_port, spawn_server, wait_for_server


def test_shell_text_in_a_run_config_is_never_run(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    """A real worker process trains a run whose name is a shell payload; nothing runs it."""
    from app.runs.dispatcher import Dispatcher
    from app.runs.executors.local import LocalProcessExecutor
    from app.storage.engine import make_engine, make_session_factory
    from tests.support.waiting import wait_until

    marker = tmp_path / "pwned"
    payload = f"x; touch {marker}; $(touch {marker})"
    assert len(payload) <= 200
    run = client.post("/api/runs", json={**TINY_CONFIG, "name": payload, "max_epochs": 1}).json()
    engine = make_engine(settings.sqlalchemy_url)
    dispatcher = Dispatcher(settings, make_session_factory(engine), LocalProcessExecutor(settings))

    def finished() -> bool:
        dispatcher.tick()
        return client.get(f"/api/runs/{run['id']}").json()["status"] == "succeeded"

    try:
        wait_until(finished, 120, "the run named like a shell payload to finish")
    finally:
        engine.dispose()
    assert not marker.exists()


def _raw_post(port: int, headers: str, chunks: list[bytes]) -> str:
    """Send a request's head and some body over a socket, leave it unfinished, read the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode()
        )
        for chunk in chunks:
            sock.sendall(chunk)
        reply = b""
        while part := sock.recv(4096):  # the server closes the connection after its answer
            reply += part
        return reply.decode("latin-1")


def test_an_upload_past_the_limit_is_413_before_the_body_is_read(settings: Settings) -> None:
    port = free_port()
    server = spawn_server(settings, port, TORCHDASH_MAX_UPLOAD_BYTES="4096")
    try:
        wait_for_server(f"http://127.0.0.1:{port}")
        # A terabyte announced, nothing sent: refused on the Content-Length alone.
        declared = _raw_post(port, "Content-Length: 1000000000000\r\n", [])
        assert declared.startswith("HTTP/1.1 413")
        # Chunked, no length: 8 KiB sent of a body that never ends; the answer comes anyway.
        chunk = b"400\r\n" + b"\0" * 1024 + b"\r\n"
        streamed = _raw_post(port, "Transfer-Encoding: chunked\r\n", [chunk] * 8)
        assert streamed.startswith("HTTP/1.1 413") and "4096-byte limit" in streamed
        fits = httpx.post(f"http://127.0.0.1:{port}/api/uploads", content=b"\0" * 4096)
        assert fits.status_code == 201 and fits.json()["size_bytes"] == 4096
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert [p.name.startswith(".part-") for p in settings.uploads_dir.iterdir()] == [False]
