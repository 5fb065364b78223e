"""The example plugins (examples/plugins) copied into a test's plugins folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.paths import ROOT

EXAMPLE_PLUGINS = ROOT / "examples" / "plugins"


def copy_example_plugins(dest: Path) -> Path:
    """Copy every example plugin file into `dest` (created if needed); returns `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for file in sorted(EXAMPLE_PLUGINS.glob("*.py")):
        shutil.copy2(file, dest / file.name)
    return dest
