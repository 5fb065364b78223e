"""Domain errors, and the one place that maps them to HTTP responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import ValidationError


class NotFoundError(LookupError):
    """A run or checkpoint that does not exist (HTTP 404)."""


class ConflictError(RuntimeError):
    """A request the run's current state does not allow (HTTP 409)."""


class UploadTooLarge(ValueError):
    """A body beyond `TORCHDASH_MAX_UPLOAD_BYTES` (HTTP 413)."""


class ConfigError(ValueError):
    """A run config that fails validation (HTTP 422), in FastAPI's error shape."""

    def __init__(
        self,
        error: ValidationError | None = None,
        *,
        prefix: tuple[str, ...] = ("body",),
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.errors: list[dict[str, Any]] = list(errors or [])
        if error is not None:
            for item in error.errors(include_url=False):
                item = {**item, "loc": [*prefix, *item["loc"]]}
                if "ctx" in item:  # may hold the raised exception object: keep its text
                    item["ctx"] = {key: str(value) for key, value in item["ctx"].items()}
                self.errors.append(item)
        super().__init__(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in self.errors)
        )

    @classmethod
    def field(cls, loc: tuple[str, ...], message: str, value: Any = None) -> ConfigError:
        return cls(
            errors=[{"loc": list(loc), "msg": message, "type": "value_error", "input": value}]
        )


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

    @app.exception_handler(ConfigError)
    async def _config(_request: Request, error: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": jsonable_encoder(error.errors)}, status_code=422)
