"""Dependencies point inward (STYLE.md practice 11): a test reads every module's imports and checks them.

Imports made only for type checking (under ``if TYPE_CHECKING:``) do not count: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "voxpipe"

CORE = ("frames", "processors", "pipeline", "observers", "metrics", "utils")

# package -> voxpipe packages it may import (besides itself and voxpipe.errors)
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "frames": {"metrics"},
    "metrics": {"frames"},
    "utils": set(),
    "observers": {"frames", "utils"},
    # processors may use audio: a leaf package (numpy, soxr) that imports nothing of voxpipe
    "processors": {"frames", "metrics", "observers", "utils", "adapters", "audio"},
    "pipeline": {"frames", "metrics", "observers", "processors", "utils"},
    "audio": set(),
    "realtime": set(),
    "adapters": set(),
    "services": {"frames", "metrics", "processors", "utils", "adapters", "realtime", "audio"},
    "transports": {"frames", "processors", "audio", "serializers", "utils"},
    "serializers": {"frames", "audio", "utils"},
    "server": {"realtime", "audio", "utils"},
    "testing": {"frames", "metrics", "observers", "processors", "pipeline", "utils", "realtime"},
}


def _runtime_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(child) for body in node.body for child in ast.walk(body))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name == "voxpipe" or name.startswith("voxpipe.")}


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


MODULES = sorted(p for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_module_imports_only_what_its_layer_allows(path: Path) -> None:
    relative = path.relative_to(SRC)
    package = relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem
    if package not in ALLOWED:
        return  # top-level entry points (cli, demo, __init__) may use everything
    allowed = ALLOWED[package] | {package, "errors", ""}
    wrong = sorted(m for m in _runtime_imports(path) if _package_of(m) not in allowed)
    assert not wrong, f"{relative} ({package}) imports {wrong}; allowed: {sorted(allowed - {''})}"


def test_core_never_imports_the_outer_layers() -> None:
    outer = {"services", "transports", "server", "realtime", "cli", "demo", "testing"}
    for path in MODULES:
        relative = path.relative_to(SRC)
        if relative.parts[0] in CORE:
            bad = {m for m in _runtime_imports(path) if _package_of(m) in outer}
            assert not bad, f"{relative} imports {bad}"


def _imported_names(path: Path) -> set[str]:
    """Every voxpipe name a module imports, as a dotted path: ``from a.b import c`` gives ``a.b.c``."""
    package = ".".join(("voxpipe", *path.relative_to(SRC).parent.parts))
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("voxpipe.")}


def _owner_of_private(name: str) -> str | None:
    """The package that owns the first private (``_x``) part of ``name``, or None if nothing is private.

    A private module belongs to the package it sits in; a private name in a module belongs to that
    module's package.
    """
    parts = name.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            owner = parts[:index]
            if not SRC.parent.joinpath(*owner).is_dir():
                owner = owner[:-1]  # a private name inside a module: owned by the module's package
            return ".".join(owner)
    return None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_another_packages_private_module(path: Path) -> None:
    """``_x`` modules and names are their package's own (and its subpackages'): others use the public ones."""
    package = ".".join(("voxpipe", *path.relative_to(SRC).parent.parts))
    wrong = []
    for name in sorted(_imported_names(path)):
        owner = _owner_of_private(name)
        if owner is not None and package != owner and not package.startswith(owner + "."):
            wrong.append(name)
    assert not wrong, f"{path.relative_to(SRC)} imports private names of other packages: {wrong}"
