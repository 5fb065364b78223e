"""The plugins folder's Dataset, model, loss and metric plugins, read as text (never imported)."""

from __future__ import annotations

from fastapi import APIRouter

from app.web.deps import SettingsDep
from app.web.shapes import PluginErrorPublic, PluginPublic, PluginsPublic
from trainer.plugins.catalog import PluginSpec, args_schema, read_catalog

router = APIRouter(prefix="/api", tags=["plugins"])


def _public(specs: dict[str, PluginSpec]) -> list[PluginPublic]:
    return [
        PluginPublic(
            name=spec.name,
            file=spec.file.name,
            line=spec.line,
            doc=spec.doc,
            function=spec.is_function,
            args_schema=args_schema(spec),
        )
        for _, spec in sorted(specs.items())
    ]


@router.get(
    "/plugins",
    summary="The plugins found in the plugins folder, each with the JSON Schema of its args, "
    "and the files that could not be read",
)
def read_plugins(settings: SettingsDep) -> PluginsPublic:
    catalog = read_catalog(settings.plugins_path)
    return PluginsPublic(
        datasets=_public(catalog.datasets),
        models=_public(catalog.models),
        losses=_public(catalog.losses),
        metrics=_public(catalog.metrics),
        errors=[
            PluginErrorPublic(file=file, error=error)
            for file, error in sorted(catalog.errors.items())
        ],
    )
