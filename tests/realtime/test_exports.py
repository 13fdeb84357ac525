"""The public surface of ``voxpipe.realtime`` stays whole, and the package depends only on what it may."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

import voxpipe.realtime as realtime
from voxpipe.realtime import beta, ga
from voxpipe.realtime.beta import events as beta_events
from voxpipe.realtime.ga import events as ga_events

# What the session-client and service engineers import by name (issue 4).
REQUIRED = {
    "parse_server_event",
    "parse_client_event",
    "serialize_event",
    "EventParseError",
    "EventValidationError",
    "UnknownServerEvent",
    "UnknownClientEvent",
    "ServerEvent",
    "ClientEvent",
    "SessionProperties",
    "TurnDetection",
    "SemanticTurnDetection",
    "InputAudioTranscription",
    "InputAudioNoiseReduction",
    "ConversationItem",
    "ItemContent",
    "ErrorEvent",
    "SessionUpdateEvent",
    "InputAudioBufferAppendEvent",
    "ResponseAudioDeltaEvent",
    "ResponseDoneEvent",
}


@pytest.mark.parametrize("module", [realtime, beta, ga], ids=lambda m: m.__name__)
def test_all_names_exist_once(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(module, name), name


def test_required_names_are_exported() -> None:
    assert set(realtime.__all__) >= REQUIRED


def test_every_event_class_is_exported_under_its_own_name() -> None:
    for table in (beta_events.CLIENT_EVENT_TYPES, beta_events.SERVER_EVENT_TYPES):
        for cls in table.values():
            assert getattr(realtime, cls.__name__) is cls
            assert cls.__name__ in realtime.__all__
    for table in (ga_events.CLIENT_EVENT_TYPES, ga_events.SERVER_EVENT_TYPES):
        for cls in table.values():
            assert getattr(ga, cls.__name__) is cls
            assert cls.__name__ in ga.__all__


def test_errors_sit_under_the_voxpipe_root() -> None:
    from voxpipe.errors import VoxpipeUsageError

    assert issubclass(realtime.EventParseError, VoxpipeUsageError)
    assert issubclass(realtime.EventValidationError, realtime.EventParseError)


ALLOWED_ROOTS = {"pydantic", "voxpipe"}
ALLOWED_VOXPIPE = ("voxpipe.errors", "voxpipe.realtime")


def _protocol_modules() -> list[Path]:
    root = Path(realtime.__file__).parent
    return [
        path
        for path in sorted(root.rglob("*.py"))
        if "client" not in path.relative_to(root).parts[:-1]  # the session client has its own deps
    ]


@pytest.mark.parametrize("path", _protocol_modules(), ids=lambda p: p.name)
def test_protocol_modules_import_only_pydantic_stdlib_and_errors(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            assert top in ALLOWED_ROOTS, f"{path.name} imports {module}"
            if top == "voxpipe":
                assert module.startswith(ALLOWED_VOXPIPE), f"{path.name} imports {module}"
                assert not module.startswith("voxpipe.realtime.client"), f"{path.name} imports the client"


def test_ga_models_load_lazily() -> None:
    """``import voxpipe.realtime`` does not build the GA models (import time of the beta service)."""
    code = "import sys, voxpipe.realtime; print('voxpipe.realtime.ga' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "False"
    assert importlib.import_module("voxpipe.realtime.ga") is ga
