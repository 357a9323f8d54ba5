"""Imports point one way (DESIGN.md, "Layout"): `studies` is the ground and imports no other
app; `surveys` and `coding` build on `studies` and not on each other; `exports` builds on all
three. A lower app that imports a higher one can no longer be used, tested or reasoned about
without it, and sooner or later the two import each other.

Every module is read as source (nothing is imported), imports inside functions and
`importlib.import_module("...")` with a literal name included; migrations are Django's record
of the schema and are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# app -> the apps it must not import
FORBIDDEN = {
    "studies": {"coding", "exports", "surveys"},
    "coding": {"exports", "surveys"},
    "surveys": {"coding", "exports"},
}
PRESENT = [app for app in FORBIDDEN if (ROOT / app).is_dir()]


def modules(app: str) -> Iterator[Path]:
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" not in path.relative_to(ROOT).parts:
            yield path


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything the module imports, wherever the import sits."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Relative: from the module's own package, `level - 1` steps up (it cannot
                # leave the app, but resolved it reads like the rest).
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            yield node.lineno, name
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


@pytest.mark.parametrize("app", PRESENT)
def test_an_app_imports_no_app_above_it(app: str) -> None:
    files = list(modules(app))
    assert files, f"no Python files found in {app}/"
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path in files
        for line, name in imported(path)
        if name.split(".")[0] in FORBIDDEN[app]
    ]
    assert not offenders, (
        f"{app} may not import {', '.join(sorted(FORBIDDEN[app]))} (DESIGN.md, Layout):\n"
        + "\n".join(offenders)
    )
