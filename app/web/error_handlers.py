"""The one place that maps the domain's errors (app/errors.py) to HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from app.errors import ConfigError, ConflictError, NotFoundError, UploadTooLarge


def install_error_handlers(app: FastAPI) -> None:
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

    @app.exception_handler(ConfigError)
    async def _config(_request: Request, error: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": jsonable_encoder(error.errors)}, status_code=422)
