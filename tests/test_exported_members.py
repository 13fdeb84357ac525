"""Every name a public module lists in ``__all__`` exists, and the spec's import paths work."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import voxpipe

SKIP_PREFIXES = ("voxpipe.server.engines.local", "voxpipe.server.engines.http")  # optional extras


def _public_modules() -> list[str]:
    names = ["voxpipe"]
    for info in pkgutil.walk_packages(voxpipe.__path__, "voxpipe."):
        if any(part.startswith("_") for part in info.name.split(".")) or info.name.startswith(SKIP_PREFIXES):
            continue
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _public_modules())
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    for exported in getattr(module, "__all__", ()):
        assert hasattr(module, exported), f"{name}.__all__ lists {exported!r}, which it does not define"


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("voxpipe.services.openai_realtime_beta", ["OpenAIRealtimeBetaLLMService", "SessionProperties"]),
        (
            "voxpipe.services.openai_realtime_beta.events",
            [
                "SessionProperties",
                "TurnDetection",
                "SemanticTurnDetection",
                "InputAudioTranscription",
                "InputAudioNoiseReduction",
            ],
        ),
        ("voxpipe.adapters.schemas.function_schema", ["FunctionSchema"]),
        ("voxpipe.adapters.schemas.tools_schema", ["ToolsSchema"]),
        ("voxpipe.pipeline.pipeline", ["Pipeline"]),
        ("voxpipe.pipeline.task", ["PipelineTask", "PipelineParams"]),
        ("voxpipe.pipeline.runner", ["PipelineRunner"]),
        ("voxpipe.frames.frames", ["InputAudioRawFrame", "TTSAudioRawFrame", "LLMMessagesAppendFrame"]),
        ("voxpipe.processors.frame_processor", ["FrameProcessor", "FrameDirection"]),
        ("voxpipe.testing", ["run_test"]),
    ],
)
def test_documented_import_paths(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    for name in names:
        assert hasattr(imported, name), f"{module}.{name}"
