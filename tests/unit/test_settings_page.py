"""docs/settings.md is exactly what the settings' own descriptions generate."""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings
from app.settings_reference import settings_reference_markdown


def _repo_root() -> Path:
    here = Path(__file__).resolve()
    return next(folder for folder in here.parents if (folder / "pyproject.toml").is_file())


def test_the_settings_page_is_what_the_settings_generate() -> None:
    page = _repo_root() / "docs" / "settings.md"
    assert page.is_file(), "docs/settings.md is missing: run `make docs`"
    assert page.read_text() == settings_reference_markdown(), (
        "docs/settings.md differs from the settings' descriptions in app/settings.py: "
        "run `make docs` to regenerate it"
    )


def test_every_setting_has_a_description_and_a_row() -> None:
    page = settings_reference_markdown()
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} has no description"
        assert f"| `TORCHDASH_{name.upper()}` |" in page
