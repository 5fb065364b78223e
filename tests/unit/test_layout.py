"""The code's layout holds: no import cycle, packages import downwards only, `trainer/` stands
alone and its config imports no torch, module names tell apart, and every page script is a small
ES module."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# What each package of app/ may import from the others (settings and errors: everyone).
ALLOWED = {
    "storage": set(),
    # Where run files live (a folder or a bucket): below everything that reads or writes them.
    "files": set(),
    "hardware": set(),
    "runs": {"storage", "hardware", "files"},
    "exports": {"storage", "files"},
    # Studies steer runs: they queue trials and read their rows (Optuna keeps the rest).
    "studies": {"runs", "storage", "hardware"},
    "worker": {"runs", "storage", "exports", "hardware", "files", "studies"},
    "web": {"runs", "storage", "exports", "hardware", "files", "studies"},
    # HTTP only: the client reads the API's shapes, the CLI is built on the client.
    "client": {"web"},
    "cli": {"client", "web"},
}
SHARED = {"settings", "errors"}
TORCH = {"torch", "torchvision"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for top in ("app", "trainer")
        for path in (ROOT / top).rglob("*.py")
        if "versions" not in path.parts  # Alembic loads revisions as files
    }


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def test_no_module_of_app_or_trainer_is_part_of_an_import_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    cycles = []

    def visit(name: str, stack: list[str], done: set[str]) -> None:
        for imported in graph[name]:
            if imported in stack:
                cycles.append(stack[stack.index(imported) :] + [imported])
            elif imported not in done:
                visit(imported, [*stack, imported], done)
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name], done)
    assert not cycles, f"import cycles: {cycles}"


def test_packages_import_downwards_and_trainer_imports_nothing_of_app() -> None:
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        parts = name.split(".")
        for imported in _imports(path, modules):
            target = imported.split(".")
            if parts[0] == "trainer" and target[0] == "app":
                wrong.append(f"{name} imports {imported}")
            if target[0] == "app" and len(parts) > 2 and parts[1] in ALLOWED:
                other = target[1] if len(target) > 1 else ""
                if other != parts[1] and other not in ALLOWED[parts[1]] | SHARED:
                    wrong.append(f"{name} imports {imported}")
    assert not wrong


def _imported_tops(path: Path) -> set[str]:
    """The top-level names of every module `path` imports (project or not), anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_the_trainer_config_imports_no_torch_even_through_other_modules() -> None:
    """The web server imports `trainer.config` and the plugins catalog and never torch: neither
    may anything they load."""
    modules = _modules()
    todo = [name for name in modules if name.split(".")[:2] == ["trainer", "config"]]
    todo.append("trainer.plugins.catalog")
    assert "trainer.config.run" in todo
    seen: set[str] = set()
    wrong = []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = modules[name]
        wrong += [f"{name} imports {top}" for top in _imported_tops(path) & TORCH]
        parts = name.split(".")
        parents = {".".join(parts[:end]) for end in range(1, len(parts))}  # their __init__ runs
        todo += sorted((_imports(path, modules) | parents) & modules.keys())
    assert not wrong


def test_trainer_is_a_few_modules_and_packages_that_say_what_they_hold() -> None:
    top = [path.stem for path in (ROOT / "trainer").glob("*.py") if not path.stem.startswith("__")]
    assert len(top) <= 12, sorted(top)
    packages = [path.parent for path in (ROOT / "trainer").rglob("__init__.py")]
    assert len(packages) > 5
    for package in packages:
        assert ast.get_docstring(ast.parse((package / "__init__.py").read_text())), package
    # One `models` module name in the project: the app's storage rows (trainer's is a package).
    assert not [p for p in (ROOT / "trainer").rglob("models.py")]


def test_no_utils_module_and_no_two_module_names_one_letter_apart() -> None:
    names = {
        path.stem
        for path in (ROOT / "app").rglob("*.py")
        if "versions" not in path.parts and not path.stem.startswith("__")
    }
    assert "utils" not in names

    def one_edit_apart(a: str, b: str) -> bool:
        if abs(len(a) - len(b)) > 1 or a == b:
            return False
        if len(a) == len(b):
            return sum(x != y for x, y in zip(a, b, strict=True)) == 1
        short, long = sorted((a, b), key=len)
        return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))

    close = [(a, b) for a, b in itertools.combinations(sorted(names), 2) if one_edit_apart(a, b)]
    assert not close


def test_page_scripts_are_small_es_modules() -> None:
    scripts = [p for p in (ROOT / "static").rglob("*.js") if "vendor" not in p.parts]
    assert scripts
    too_long = {p.name: n for p in scripts if (n := len(p.read_text().splitlines())) >= 300}
    assert not too_long
    for page in (ROOT / "templates").glob("*.html"):
        for tag in script_tags(page.read_text()):
            assert "vendor/" in tag or 'type="module"' in tag, f"{page.name}: {tag}"


def script_tags(html: str) -> list[str]:
    """The `<script src=...>` tags of a template (inline JSON data blocks are not scripts)."""
    return [
        "<script" + chunk.split(">", 1)[0] + ">"
        for chunk in html.split("<script")[1:]
        if "src=" in chunk.split(">", 1)[0]
    ]


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    """Tests share helpers through tests/support and fixtures through conftest.py files."""

    def shared_module(name: str) -> bool:
        last = name.rsplit(".", 1)[-1]
        return last.startswith("test_") or last == "conftest"

    offenders = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                names = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                for name in names
                if shared_module(name)
            ]
    assert not offenders, offenders
