"""The HTML pages: the runs list with the new-run form, a run's page, compare, and the studies
with a study's page."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.errors import NotFoundError
from app.runs import lifecycle
from app.storage.tables import RunStudy
from app.web.deps import SessionDep, SettingsDep
from app.web.form_schema import schema_with_plugins
from app.web.form_templates import form_templates
from trainer.config import RunConfig, run_config_schema

if TYPE_CHECKING:
    from fastapi.templating import Jinja2Templates


@cache
def templates() -> Jinja2Templates:
    """The page templates, loaded at the first page: a server only the API and the CLI talk to
    never imports Jinja2 (about 2 MB resident)."""
    from fastapi.templating import Jinja2Templates

    return Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates")


router = APIRouter(include_in_schema=False)


def _script_json(value: object) -> str:
    """JSON safe to place inside a <script> element."""
    return json.dumps(value).replace("</", "<\\/")


@router.get("/", response_class=HTMLResponse)
def home_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    return templates().TemplateResponse(
        request,
        "index.html",
        {
            "title": "torchdash",
            "schema_json": _script_json(
                schema_with_plugins(run_config_schema(), settings.plugins_path)
            ),
            "default_config_json": _script_json(RunConfig().model_dump(mode="json")),
            "templates_json": _script_json(form_templates(settings.allowed_data_roots)),
        },
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: int, session: SessionDep) -> HTMLResponse:
    try:
        title, status = f"{lifecycle.get_run(session, run_id).name} · torchdash", 200
    except NotFoundError:
        # The page itself says "run N not found" and links back to the list.
        title, status = "run not found · torchdash", 404
    return templates().TemplateResponse(
        request, "run.html", {"title": title, "run_id": run_id}, status_code=status
    )


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, ids: str = "") -> HTMLResponse:
    """Overlaid curves of several runs; `ids` is a comma-separated list of run ids."""
    run_ids = [int(part) for part in ids.split(",") if part.strip().isdigit()]
    return templates().TemplateResponse(
        request, "compare.html", {"title": "compare", "run_ids_json": _script_json(run_ids)}
    )


@router.get("/studies", response_class=HTMLResponse)
def studies_page(request: Request) -> HTMLResponse:
    """The studies, newest first, with their progress and best value."""
    return templates().TemplateResponse(request, "studies.html", {"title": "studies"})


@router.get("/studies/{study_id}", response_class=HTMLResponse)
def study_page(request: Request, study_id: int, session: SessionDep) -> HTMLResponse:
    """A study's progress, trials and charts, followed live."""
    study = session.get(RunStudy, study_id)
    # A missing study still gets the page: it says so and links back to the list.
    title, status = (f"{study.name} · study", 200) if study else ("study not found", 404)
    return templates().TemplateResponse(
        request, "study.html", {"title": title, "study_id": study_id}, status_code=status
    )
