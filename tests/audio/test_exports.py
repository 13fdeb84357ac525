"""The public surface of voxpipe.audio stays whole, and the package imports only what it may."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import voxpipe.audio

PUBLIC_MODULES = ["chunking", "g711", "pcm", "resample", "wav"]


def test_all_names_exist_and_are_sorted() -> None:
    for name in voxpipe.audio.__all__:
        assert hasattr(voxpipe.audio, name), name
    assert voxpipe.audio.__all__ == sorted(voxpipe.audio.__all__, key=lambda n: (not n[0].isupper(), n))


def test_every_public_name_of_every_module_is_re_exported() -> None:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"voxpipe.audio.{module_name}")
        for name in module.__all__:
            assert name in voxpipe.audio.__all__, f"{module_name}.{name}"
            assert getattr(voxpipe.audio, name) is getattr(module, name)


def test_audio_imports_only_numpy_soxr_stdlib_and_errors() -> None:
    allowed_third_party = {"numpy", "soxr"}
    package_dir = Path(voxpipe.audio.__file__).parent
    for path in package_dir.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = (
                    top in allowed_third_party
                    or top in sys.stdlib_module_names
                    or name == "voxpipe.errors"
                    or name.startswith("voxpipe.audio")
                )
                assert ok, f"{path.name} imports {name}"
