"""The scripts folder's training scripts, read as text (never imported): what a script run
may start, with the argparse options each declares, for the form."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from app.runs.scripts import list_scripts
from app.web.deps import SettingsDep
from app.web.shape_base import Shape

router = APIRouter(prefix="/api", tags=["scripts"])


class ScriptOptionPublic(Shape):
    flags: list[str]  # e.g. ["--lr"], or ["-e", "--epochs"]
    type: str | None  # the name given as type=, e.g. "float"
    default: Any  # a literal default, else null
    help: str | None
    choices: list[Any] | None
    action: str | None  # e.g. "store_true"


class ScriptPublic(Shape):
    path: str  # relative to the scripts folder: what `script.path` names
    size_bytes: int
    description: str | None  # the first line of its docstring
    options: list[ScriptOptionPublic]
    error: str | None  # why its options could not be read (it can still be started)


class ScriptsPublic(Shape):
    folder: str  # TORCHDASH_SCRIPTS_DIR, resolved
    scripts: list[ScriptPublic]


@router.get("/scripts", summary="The .py files of the scripts folder, with their argparse options")
def read_scripts(settings: SettingsDep) -> ScriptsPublic:
    return ScriptsPublic(
        folder=str(settings.scripts_path),
        scripts=[
            ScriptPublic.model_validate(asdict(info))
            for info in list_scripts(settings.scripts_path)
        ],
    )
