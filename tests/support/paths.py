"""Where the tests find the repository."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent  # the repository's root
DOCS = ROOT / "docs"  # where TORCHDASH_SCREENSHOTS=1 writes the README's pictures
