"""The one place that maps the domain's errors (app/errors.py) to HTTP responses, and documents
them: `errors(404, 409)` is a route's `responses=` for its OpenAPI entry."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from app.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    StorageUnavailable,
    UploadTooLarge,
)
from app.web.shapes import ErrorPublic

MEANINGS = {
    400: "The body is not JSON (broken syntax, bytes that are not UTF-8); `detail` says where.",
    401: "No valid token: the server has TORCHDASH_TOKEN set and the request did not carry it.",
    403: "Refused: a cross-site write, or a Host that is not loopback on a server without a token.",
    404: "No such run (or checkpoint, upload, evaluation, image).",
    409: "The run's current status does not allow this.",
    413: "The body is over TORCHDASH_MAX_UPLOAD_BYTES (a report: TORCHDASH_MAX_REPORT_BYTES).",
    422: "A parameter or body field is invalid; `detail[].loc` names it.",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, all with the one error shape."""
    return {code: {"model": ErrorPublic, "description": MEANINGS[code]} for code in codes}


def _json_safe(value: Any) -> Any:
    """`value` with every non-finite number written as JSON text would (`NaN`, `Infinity`):
    an error echoes the input, and a response holding NaN cannot be written as JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def broken_json_detail(error: RequestValidationError) -> str | None:
    """Where the body's JSON is broken, when that is why the request was refused."""
    for item in error.errors():
        if item.get("type") == "json_invalid":
            position = item["loc"][-1]
            document = error.body if isinstance(error.body, str) else ""
            line = document.count("\n", 0, position) + 1
            column = position - document.rfind("\n", 0, position)
            reason = item.get("ctx", {}).get("error", "invalid JSON")
            return f"the body is not valid JSON: {reason} at line {line} column {column}"
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        broken = broken_json_detail(error)
        if broken is not None:
            return JSONResponse({"detail": broken}, status_code=400)
        return JSONResponse({"detail": _json_safe(jsonable_encoder(error.errors()))}, 422)

    @app.exception_handler(NotFoundError)
    async def _not_found(_request: Request, error: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(ConflictError)
    async def _conflict(_request: Request, error: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.exception_handler(UploadTooLarge)
    async def _too_large(_request: Request, error: UploadTooLarge) -> JSONResponse:
        # Connection: close, since the rest of the body was never read.
        return JSONResponse(
            {"detail": str(error)}, status_code=413, headers={"Connection": "close"}
        )

    @app.exception_handler(OperationalError)
    async def _database_away(_request: Request, _error: OperationalError) -> JSONResponse:
        # A database server restarting (PostgreSQL): the next request gets a new connection.
        return JSONResponse(
            {"detail": "the database is unreachable; try again"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(StorageUnavailable)
    async def _storage_away(_request: Request, error: StorageUnavailable) -> JSONResponse:
        # The bucket (or the mounted folder) did not answer: the files are not lost, try again.
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(ConfigError)
    async def _config(_request: Request, error: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": jsonable_encoder(error.errors)}, status_code=422)
