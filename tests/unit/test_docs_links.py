"""Every relative link of README.md and docs/*.md points at a file that exists, and every
`#anchor` at a heading of the page it names."""

from __future__ import annotations

import re
from pathlib import Path

# [text](target) and ![alt](target), the target up to the first space or closing parenthesis.
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _repo_root() -> Path:
    here = Path(__file__).resolve()
    return next(folder for folder in here.parents if (folder / "pyproject.toml").is_file())


def _pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _outside_fences(text: str) -> list[str]:
    """The page's lines outside fenced code blocks."""
    kept, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return kept


def _prose(text: str) -> str:
    """The page without code blocks and inline code spans, where no link lives."""
    return "\n".join(re.sub(r"`[^`]*`", "", line) for line in _outside_fences(text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    headings = [
        line.lstrip("#").strip()
        for line in _outside_fences(page.read_text())
        if re.match(r"#{1,6} ", line)
    ]
    return {slug(heading) for heading in headings}


def relative_links(page: Path) -> list[str]:
    return [
        target
        for target in _LINK.findall(_prose(page.read_text()))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def test_the_docs_are_there() -> None:
    root = _repo_root()
    assert (root / "README.md").is_file()
    assert len(_pages(root)) > 5


def test_every_relative_link_resolves() -> None:
    root = _repo_root()
    broken = []
    for page in _pages(root):
        for target in relative_links(page):
            path_part, _, fragment = target.partition("#")
            destination = (page.parent / path_part).resolve() if path_part else page
            name = f"{page.relative_to(root)}: {target}"
            if not destination.exists():
                broken.append(f"{name} (no such file)")
            elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
                broken.append(f"{name} (no heading #{fragment})")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_link_checker_sees_links_and_anchors() -> None:
    assert slug("DDP: `processes`") == "ddp-processes"
    assert slug("Security: keep Ray's dashboard private") == "security-keep-rays-dashboard-private"
    page = _repo_root() / "README.md"
    assert "docs/settings.md" in relative_links(page)
