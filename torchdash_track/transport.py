"""The tracking module's HTTP: one kept-alive connection to the server, JSON and multipart bodies.

The standard library only (`http.client`), so the module installs anywhere with nothing else.
"""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

REQUEST_TIMEOUT = 60.0


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status


class Connection:
    """One kept-alive HTTP(S) connection to the server, reopened after an error."""

    def __init__(self, server: str, token: str | None) -> None:
        parts = urlsplit(server if "://" in server else f"http://{server}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port
        self.prefix = parts.path.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None, content_type: str) -> Any:
        """The decoded JSON answer; HttpError for a 4xx/5xx; OSError for the network."""
        data = self.raw(method, path, body, content_type)
        return json.loads(data) if data else None

    def raw(self, method: str, path: str, body: bytes | None, content_type: str) -> bytes:
        """The answer's bytes (a downloaded file); HttpError and OSError as `request`."""
        if self.connection is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self.connection = kind(self.host, self.port, timeout=REQUEST_TIMEOUT)
        headers = {**self.headers, "Content-Type": content_type, "Accept": "application/json"}
        try:
            self.connection.request(method, self.prefix + path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise OSError(f"{type(error).__name__}: {error}") from error
        if response.getheader("connection", "").lower() == "close":
            self.close()
        if response.status >= 400:
            raise HttpError(response.status, data.decode("utf-8", "replace")[:500])
        return data

    def get_json(self, path: str) -> Any:
        return self.request("GET", path, None, "application/json")

    def post_json(self, path: str, payload: Any) -> Any:
        body = json.dumps(payload, allow_nan=False).encode()
        return self.request("POST", path, body, "application/json")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def multipart(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    """A multipart/form-data body of text `fields` and binary `files`, and its content type."""
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for name, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        chunks.append(f"{head}{value}\r\n".encode())
    for name, data in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{name}.pt"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        chunks += [head.encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
