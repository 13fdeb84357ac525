"""The ``Engines`` bundle and the registry that loads an engine set by name.

Engine sets are imported only when asked for (AnyIO's ``get_async_backend`` pattern), so ``voxpipe serve``
with the test engines never imports a model library, and a missing model package becomes one clear
``EngineUnavailableError`` naming the extra to install instead of an ``ImportError`` deep in a session.

A set's factory is ``module:function``; the function takes keyword options and returns ``Engines``. It
must be cheap (models load lazily, or in ``Engines.warm_up``).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from voxpipe.server.engines.base import (
    EngineUnavailableError,
    LLMEngine,
    STTEngine,
    TTSEngine,
    VADEngine,
)
from voxpipe.server.scheduling import FairShare

__all__ = ["EngineSetSpec", "Engines", "available_engine_sets", "load_engines", "register_engine_set"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Engines:
    """The four engines a server runs its sessions on; owns them and closes them together."""

    vad: VADEngine
    stt: STTEngine
    llm: LLMEngine
    tts: TTSEngine
    fair_share: FairShare | None = None
    """How sessions share the LLM and TTS (``voxpipe.server.scheduling``); None: call them directly."""

    async def warm_up(self) -> None:
        """Load every model now, one after the other (they compete for the same cores)."""
        for engine in (self.vad, self.stt, self.llm, self.tts):
            await engine.warm_up()

    async def aclose(self) -> None:
        """Close every engine, even if one fails; the first failure is raised after all were tried."""
        results = []
        for engine in (self.vad, self.stt, self.llm, self.tts):
            try:
                await engine.aclose()
            except Exception as exc:  # re-raised below once every engine had its chance
                results.append(exc)
        if results:
            raise results[0]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


@dataclass(frozen=True, slots=True)
class EngineSetSpec:
    """Where an engine set lives and what installs it.

    Attributes:
        name: the name users pass (``--engines local``).
        target: ``"package.module:function"`` returning ``Engines``.
        extra: the voxpipe extra that installs its packages, or None if it needs none.
        description: one line for help texts and error messages.
    """

    name: str
    target: str
    extra: str | None
    description: str


_REGISTRY: dict[str, EngineSetSpec] = {}


def register_engine_set(name: str, target: str, *, extra: str | None = None, description: str = "") -> None:
    """Add (or replace) an engine set; ``target`` is ``"module:function"``, imported only when loaded."""
    if ":" not in target:
        raise EngineUnavailableError(f"engine set target must be 'module:function', got {target!r}")
    _REGISTRY[name] = EngineSetSpec(name, target, extra, description)


def available_engine_sets() -> list[str]:
    """The registered names, sorted."""
    return sorted(_REGISTRY)


def load_engines(name: str, **options: Any) -> Engines:
    """Import engine set ``name`` and build it with ``options``.

    Raises:
        EngineUnavailableError: the name is unknown (the message lists the choices), or a package it
            needs is missing (the message names it and the ``pip install 'voxpipe[extra]'`` command).
    """
    spec = _REGISTRY.get(name)
    if spec is None:
        raise EngineUnavailableError(
            f"unknown engine set {name!r}; choose one of: {', '.join(available_engine_sets())}"
        )
    module_name, _, function_name = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise EngineUnavailableError(_missing_message(spec, exc.name)) from exc
    factory: Callable[..., Engines] = getattr(module, function_name)
    try:
        engines = factory(**options)
    except ModuleNotFoundError as exc:
        raise EngineUnavailableError(_missing_message(spec, exc.name)) from exc
    logger.info("loaded engine set %s", name)
    return engines


def _missing_message(spec: EngineSetSpec, missing: str | None) -> str:
    install = f"; install it with: pip install 'voxpipe[{spec.extra}]'" if spec.extra else ""
    return (
        f"engine set {spec.name!r} needs the package {missing or '(unknown)'!r}, which is not installed"
        f"{install} (or choose one of: {', '.join(available_engine_sets())})"
    )


register_engine_set(
    "local",
    "voxpipe.server.engines.local:load_engines",
    extra="local",
    description="offline models on the CPU: Silero VAD, Whisper tiny.en, Qwen2.5 0.5B (llama.cpp), Piper",
)
register_engine_set(
    "test",
    "voxpipe.server.engines.testing:load_engines",
    extra=None,
    description="deterministic fake engines for protocol tests: fast, exact, no models",
)
register_engine_set(
    "http",
    "voxpipe.server.engines.http:load_engines",
    extra="server",
    description="STT, LLM and TTS on OpenAI-compatible servers (VOXPIPE_LLM_BASE_URL ...), VAD in process",
)
