"""The domain's errors. Each maps to one HTTP status, in one place: app/web/error_handlers.py."""

from __future__ import annotations

from typing import Any

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
            for details in error.errors(include_url=False):
                item: dict[str, Any] = {**details, "loc": [*prefix, *details["loc"]]}
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


class StorageUnavailable(RuntimeError):
    """The run files' storage (TORCHDASH_STORAGE) cannot be reached (HTTP 503)."""
