"""Engines that count their load: requests in flight (the queue depth) and busy time, per role.

``metered_engines`` wraps each engine of an ``Engines`` bundle in a proxy of the same interface that
updates an ``EngineLoad`` around every request and otherwise forwards to the engine it wraps:

* LLM and TTS: a request is one ``stream`` call, from its start until the generator is closed;
* STT: a request is one ``transcribe``, ``partial`` or ``finish`` call (feeding audio is not work that
  waits: the engine does it in the background, inside ``finish``'s time);
* VAD: runs synchronously per audio chunk on the event loop; its time is added as busy time.

For a local model that serves one request at a time, a queue depth above 1 means sessions wait for it.
Closing the bundle closes the wrapped engines (the proxies own nothing of their own).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from voxpipe.server.engines.base import (
    LLMEngine,
    STTEngine,
    STTStream,
    TTSEngine,
    VADEngine,
    VADStream,
)
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.types import (
    LLMChunk,
    LLMRequest,
    Transcript,
    TranscriptionOptions,
    VADConfig,
    VADEvent,
)
from voxpipe.server.metrics._server import EngineLoad, ServerMetrics

__all__ = ["metered_engines"]


@contextlib.contextmanager
def _request(load: EngineLoad) -> Any:
    load.enter()
    try:
        yield
    finally:
        load.leave()


class _Forwarding:
    """Forwards ``warm_up``, ``aclose`` and what the proxy does not define to the wrapped object."""

    _inner: Any

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":  # not set yet: never recurse
            raise AttributeError(name)
        return getattr(self._inner, name)

    async def warm_up(self) -> None:
        await self._inner.warm_up()

    async def aclose(self) -> None:
        await self._inner.aclose()



class _MeteredVADStream(_Forwarding, VADStream):
    def __init__(self, inner: VADStream, load: EngineLoad) -> None:
        self._inner = inner
        self._load = load
        self.sample_rate = inner.sample_rate

    def process(self, pcm16: bytes) -> list[VADEvent]:
        started = time.perf_counter()
        try:
            return self._inner.process(pcm16)
        finally:
            self._load.add_busy(time.perf_counter() - started)

    def reset(self) -> None:
        self._inner.reset()

    @property
    def trailing_silence_ms(self) -> int | None:
        return self._inner.trailing_silence_ms


class _MeteredVAD(_Forwarding, VADEngine):
    def __init__(self, inner: VADEngine, load: EngineLoad) -> None:
        self._inner = inner
        self._load = load
        self.sample_rate = inner.sample_rate

    def create_stream(self, config: VADConfig) -> VADStream:
        return _MeteredVADStream(self._inner.create_stream(config), self._load)



class _MeteredSTTStream(_Forwarding, STTStream):
    def __init__(self, inner: STTStream, load: EngineLoad) -> None:
        self._inner = inner
        self._load = load
        self.sample_rate = inner.sample_rate

    def feed(self, pcm16: bytes) -> None:
        self._inner.feed(pcm16)

    async def partial(self) -> str | None:
        with _request(self._load):
            return await self._inner.partial()

    async def snapshot(self) -> str | None:
        with _request(self._load):
            return await self._inner.snapshot()

    async def finish(self) -> Transcript:
        with _request(self._load):
            return await self._inner.finish()


class _MeteredSTT(_Forwarding, STTEngine):
    def __init__(self, inner: STTEngine, load: EngineLoad) -> None:
        self._inner = inner
        self._load = load
        self.capabilities = inner.capabilities

    def create_stream(self, options: TranscriptionOptions) -> STTStream:
        return _MeteredSTTStream(self._inner.create_stream(options), self._load)

    async def transcribe(self, pcm16: bytes, options: TranscriptionOptions) -> Transcript:
        with _request(self._load):
            return await self._inner.transcribe(pcm16, options)



class _MeteredLLM(_Forwarding, LLMEngine):
    def __init__(self, inner: LLMEngine, load: EngineLoad) -> None:
        self._inner = inner
        self._load = load
        self.capabilities = inner.capabilities

    async def end_of_turn(self, request: LLMRequest, *, answer_next: bool = True) -> float | None:
        with _request(self._load):
            return await self._inner.end_of_turn(request, answer_next=answer_next)

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMChunk]:
        with _request(self._load):
            async with contextlib.aclosing(self._inner.stream(request)) as chunks:
                async for chunk in chunks:
                    yield chunk

    async def prefill(self, request: LLMRequest) -> AsyncIterator[int]:
        with _request(self._load):
            async with contextlib.aclosing(self._inner.prefill(request)) as steps:
                async for cached in steps:
                    yield cached



class _MeteredTTS(_Forwarding, TTSEngine):
    def __init__(self, inner: TTSEngine, load: EngineLoad) -> None:
        self._inner = inner
        self._load = load
        self.capabilities = inner.capabilities

    async def stream(self, text: str, voice: str, speed: float = 1.0) -> AsyncIterator[bytes]:
        with _request(self._load):
            async with contextlib.aclosing(self._inner.stream(text, voice, speed)) as chunks:
                async for pcm in chunks:
                    yield pcm



def metered_engines(engines: Engines, metrics: ServerMetrics) -> Engines:
    """Return a bundle whose engines count their load into ``metrics`` and forward to ``engines``."""
    load = metrics.engines
    return Engines(
        vad=_MeteredVAD(engines.vad, load["vad"]),
        stt=_MeteredSTT(engines.stt, load["stt"]),
        llm=_MeteredLLM(engines.llm, load["llm"]),
        tts=_MeteredTTS(engines.tts, load["tts"]),
        fair_share=engines.fair_share,
    )
