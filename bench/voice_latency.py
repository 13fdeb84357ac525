"""Voice latency of the local server with the default local models: spoken fixtures in, first audio out.

Run: ``.venv/bin/python bench/voice_latency.py [--rounds 3] [--silence-ms 500]``. Needs the ``local`` extra,
the LLM weights and the speech fixtures (``tests/fixtures/speech``). Prints figures
and a PASS/FAIL line per DESIGN.md section 8 target; always exits 0 (STYLE.md practice 17).

How it measures:

* **The server** runs in a child process (this script with ``--serve``): the default local engine set
  (``load_engines("local")``), warmed up as ``voxpipe serve`` does, behind ``LocalRealtimeServer`` on a free
  loopback port. Each engine is wrapped in a thin timing proxy that prints one JSON line per model call
  (the server has no per-stage hook); the proxies add microseconds. Peak RSS is the child's ``VmHWM``
  from ``/proc/<pid>/status``, so the client's memory is not counted.
* **The client** (this process) opens one beta-shape WebSocket session per turn with plain ``websockets``:
  server VAD with ``silence_duration_ms`` (500 by default: the protocol default; threshold 0.5, prefix
  padding 300 ms), transcription on. It streams each English fixture, resampled to 24 kHz PCM16 and padded
  with 0.3 s of silence before and 1 s after, in real time: 40 ms chunks, each sent when a microphone would
  have delivered it. Silence keeps flowing (a live microphone) until ``response.done``.
* **Latencies**: ``input_audio_buffer.speech_stopped`` received -> first ``response.audio.delta`` received;
  and the end of the user's audio (the send time of the chunk holding the last sample above -40 dBFS) ->
  first audio delta. The second includes the VAD's silence window.
* **Stalls**: the answer's audio is played on the client's clock from its first delta on; a delta that
  arrives after the audio before it ran out (by more than 20 ms) is a stall the listener hears as a gap
  inside the answer (a first piece cut short must be followed by the rest in time).
* **Stages**: CLOCK_MONOTONIC is shared by both processes, so the child's records are placed on each turn's
  timeline relative to ``speech_stopped``: STT done, LLM called, LLM first token, first TTS call (the first
  piece of text is cut), first TTS chunk, first delta at the client. Every record names the session whose
  call it timed (a context variable set in each session's handler task; a Whisper pass carries the one of
  the call that queued it), and a turn keeps its own session's records: with ``--sessions N`` the turns of
  a batch run at once. Each hold of a fair-share gate is a record too (``gate``: the priority asked and
  granted, when it was asked, granted, let go).
* **Who holds the cores**: each LLM and TTS record carries the CPU time of every thread of the child so far
  (``/proc/self/task/*/schedstat``), grouped by thread name: the engines' worker threads are named at the
  OS level (``prctl``) before the models load, so the threads their libraries start (OpenMP, ONNX Runtime)
  inherit the name; threads started before that (at import: numpy's OpenBLAS pool) are ``at-import``. The
  report gives each group's CPU time while the answers' heads were made (LLM called -> first token -> first
  text piece to TTS -> its first chunk), in cores (CPU time over wall time). ``--dump FILE`` writes every
  turn's records.
* **Questions apart**: DESIGN.md's semantic VAD target is set on complete questions, and an end-of-turn
  detector may rightly wait longer after a statement ("Front left.", which a speaker often goes on from).
  ``tests/fixtures/speech/kinds.json`` (see that folder's README) says which fixtures are questions; every
  English fixture must be listed there. Per mode the figures of all turns come first, then those of the
  questions and of the statements; for semantic VAD the TARGET line is on the questions (for server VAD,
  whose window waits the same after any words, on all turns).
* **The chain**, per mode: from the end of the user's audio, when each link that made the first audio
  ended (p50), and each link's own time: the Whisper pass at the pause, semantic VAD's judgement (the
  LLM's ``end_of_turn``, stage ``judge``), the answer's LLM call, its first token, the first TTS call and
  chunk, the first delta; and ``speech_stopped``, which the first delta cannot precede.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import contextvars
import json
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from _machine import machine_line  # bench/ is on sys.path when a bench runs as a script
from voxpipe.audio import read_wav

SPEECH = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "speech"
KINDS = SPEECH / "kinds.json"  # fixture -> "question" | "statement" (see that folder's README)
RATE, CHUNK_MS = 24_000, 40  # client audio: PCM16 24 kHz in 40 ms appends
LEAD_S, TAIL_S = 0.3, 1.0
VOICED = 10 ** (-40 / 20) * 32768  # -40 dBFS
TARGET_RSS_MB = 1200.0
SERVER_VAD_TARGET_S, SEMANTIC_TARGET_S, CONCURRENT_P95_S = 0.600, 0.450, 1.5  # DESIGN.md section 8
_STALL_S = 0.02  # a later delta this much past the end of the audio so far is a stall (jitter below)


_EMITTING = threading.Lock()
_SESSION: contextvars.ContextVar[str | None] = contextvars.ContextVar("bench_session", default=None)
"""The id of the session a model call serves: set by each session's handler task (``_tag_sessions``),
copied into every task it starts; a call run in a worker thread carries the id captured where it was
queued."""


def _emit(**record: Any) -> None:
    """Print one record as a JSON line (from the event loop and from Whisper's thread: one at a time, or
    two lines could interleave and the parent's reader would stop at the broken one)."""
    from voxpipe.server.connection.speculation import SPECULATION_STATS

    record["speculation"] = SPECULATION_STATS.as_dict()
    record.setdefault("session", _SESSION.get())
    line = json.dumps({**record, "rss_mb": proc_status(os.getpid()).get("VmRSS")})
    with _EMITTING:
        print(line, flush=True)


def _name_os_threads() -> None:
    """Give every Python thread started from now on its name at the OS level (``/proc/.../comm``), so that
    the native threads a library starts from it (OpenMP, ONNX Runtime pools) are known by that name."""
    import ctypes

    libc = ctypes.CDLL(None)
    bootstrap = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    def named(self: threading.Thread) -> None:
        libc.prctl(15, self.name.encode()[:15])  # PR_SET_NAME
        bootstrap(self)

    threading.Thread._bootstrap_inner = named  # type: ignore[attr-defined]
    libc.prctl(15, b"event-loop")
    for task in os.scandir("/proc/self/task"):  # started at import: numpy's OpenBLAS pool
        if int(task.name) != threading.get_native_id():
            Path(task.path, "comm").write_text("at-import")


def _thread_group(comm: str) -> str:
    """A thread's group: its name without an executor's ``_N`` suffix (``voxpipe-llama_0``)."""
    return comm.rsplit("_", 1)[0] if comm.rsplit("_", 1)[-1].isdigit() else comm


def cpu_by_thread() -> dict[str, float]:
    """CPU seconds used so far by each thread group of this process (dead threads are not counted)."""
    used: dict[str, float] = {}
    for task in os.scandir("/proc/self/task"):
        try:
            comm = Path(task.path, "comm").read_text().strip()
            run_ns = int(Path(task.path, "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # the thread ended meanwhile
            continue
        group = _thread_group(comm)
        used[group] = used.get(group, 0.0) + run_ns / 1e9
    return used


def _tag_sessions() -> None:
    """Set ``_SESSION`` in each session's handler task, so the records of its model calls name it (the
    tasks the session starts copy its context)."""
    from voxpipe.server.connection.handler import ConnectionHandler

    run = ConnectionHandler.run

    async def tagged_run(self: ConnectionHandler, transport: Any) -> None:
        _SESSION.set(self.id)
        await run(self, transport)

    ConnectionHandler.run = tagged_run  # type: ignore[method-assign]


def _time_gates() -> None:
    """One ``gate`` record per hold of a fair-share gate: who asked (kind, priority), how long it waited
    for the model and at which priority it got it."""
    from voxpipe.server.scheduling import FairShare

    turn = FairShare.turn

    @contextlib.asynccontextmanager
    async def timed_turn(
        fair_share: Any, kind: str, priority: Callable[[], Any], deadline: Any = None
    ) -> AsyncIterator[None]:
        asked, at = priority().name, time.monotonic()
        got: float | None = None
        try:
            async with turn(fair_share, kind, priority, deadline):
                got = time.monotonic()
                yield
        finally:
            _emit(
                stage="gate",
                kind=kind,
                asked=asked,
                granted=priority().name,
                start=at,
                first=got,
                end=time.monotonic(),
            )

    FairShare.turn = staticmethod(timed_turn)  # type: ignore[method-assign]


def _instrument(engines: Any) -> None:
    """Wrap the engines' entry points (in place) so every model call prints a timing record."""
    vad_create, stt, run = engines.vad.create_stream, engines.stt, engines.stt._run

    def create_vad(config: Any) -> Any:
        stream = vad_create(config)
        process, aclose, spent = stream.process, stream.aclose, [0.0, 0]

        def timed_process(pcm: bytes) -> Any:
            started = time.perf_counter()
            events = process(pcm)
            spent[0] += time.perf_counter() - started
            spent[1] += len(pcm) // 2
            return events

        async def timed_close() -> None:
            _emit(stage="vad", cpu_s=spent[0], audio_s=spent[1] / stream.sample_rate)
            await aclose()

        stream.process, stream.aclose = timed_process, timed_close
        return stream

    # id of a pass's audio: when and how it was queued, its future, the session it serves
    queued: dict[int, tuple[float, str, Any, str | None]] = {}
    submit, promote = stt.submit, stt.promote

    def timed_submit(audio: Any, prompt: Any, *args: Any) -> Any:
        future = submit(audio, prompt, *args)
        queued[id(audio)] = (time.monotonic(), args[0].name if args else "URGENT", future, _SESSION.get())
        return future

    def timed_promote(future: Any) -> None:
        for key, (at, priority, queued_future, session) in list(queued.items()):
            if queued_future is future and not future.running() and not future.done():
                queued[key] = (at, f"{priority}>URGENT", future, session)
        promote(future)

    def timed_run(audio: Any, prompt: Any) -> Any:  # one Whisper pass (float32 16 kHz), in its thread
        started = time.monotonic()
        at, priority, _, session = queued.pop(id(audio), (started, "URGENT", None, None))
        segments = run(audio, prompt)
        _emit(
            stage="stt_pass",
            start=started,
            end=time.monotonic(),
            audio_s=audio.size / 16_000,
            priority=priority,
            queued_s=started - at,
            session=session,
        )
        return segments

    def create_stt(options: Any, create: Callable[[Any], Any] = stt.create_stream) -> Any:
        stream = create(options)
        finish = stream.finish

        async def timed_finish() -> Any:
            started = time.monotonic()
            transcript = await finish()
            _emit(stage="stt_finish", start=started, end=time.monotonic())
            return transcript

        stream.finish = timed_finish
        return stream

    engines.vad.create_stream, stt._run, stt.create_stream = create_vad, timed_run, create_stt
    stt.submit, stt.promote = timed_submit, timed_promote
    engines.llm.stream = _timed_stream(engines.llm.stream, "llm")
    engines.llm.end_of_turn = _timed_judgement(engines.llm.end_of_turn)
    engines.tts.stream = _timed_stream(engines.tts.stream, "tts")


def _timed_judgement(judge: Callable[..., Any]) -> Callable[..., Any]:
    """Semantic VAD's end-of-turn judgement (``LLMEngine.end_of_turn``), timed (stage ``judge``)."""

    async def timed(request: Any, **options: Any) -> Any:
        started, probability = time.monotonic(), None
        try:
            probability = await judge(request, **options)
            return probability
        finally:
            _emit(stage="judge", start=started, end=time.monotonic(), probability=probability)

    return timed


def _timed_stream(stream: Callable[..., AsyncIterator[Any]], stage: str) -> Callable[..., AsyncIterator[Any]]:
    async def timed(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        started, first, size, usage = time.monotonic(), None, 0, None
        cpu_start, cpu_first = cpu_by_thread(), None
        try:
            async with contextlib.aclosing(stream(*args, **kwargs)) as chunks:  # type: ignore[type-var]
                async for chunk in chunks:
                    if isinstance(chunk, bytes):
                        size += len(chunk)
                    elif type(chunk).__name__ == "Usage":
                        usage = chunk
                    if first is None and type(chunk).__name__ != "Usage":
                        first, cpu_first = time.monotonic(), cpu_by_thread()
                    yield chunk
        finally:
            _emit(
                stage=stage,
                start=started,
                first=first,
                end=time.monotonic(),
                audio_s=size / 2 / 22_050,  # Piper joe-medium
                tokens=usage.output_tokens if usage else 0,
                prompt_tokens=usage.input_tokens if usage else 0,
                cached=usage.cached_tokens if usage else 0,
                cpu_start=cpu_start,
                cpu_first=cpu_first,
            )

    return timed


async def serve_child(options: dict[str, Any], pause_ms: int | None, prefill_every_ms: int | None) -> None:
    """Load, warm up and serve the local engines; print ``{"ready": port}`` then timing records."""
    import logging

    from voxpipe.server import LocalRealtimeServer, ServerConfig, SpeculationSettings
    from voxpipe.server.engines import load_engines

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="server %(name)s: %(message)s")
    _name_os_threads()
    engines = load_engines("local", **options)
    started = time.perf_counter()
    await engines.warm_up()
    _instrument(engines)
    _tag_sessions()
    _time_gates()
    speculation = SpeculationSettings(pause_ms=pause_ms, prefill_every_ms=prefill_every_ms)
    config = ServerConfig(port=0, engines=engines, speculation=speculation)
    async with engines, LocalRealtimeServer(config) as server:
        _emit(ready=server.port, warm_up_s=time.perf_counter() - started)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it


@dataclass
class Turn:
    """One spoken question and what came back (times are CLOCK_MONOTONIC)."""

    name: str
    kind: str = ""  # "question" or "statement" (``KINDS``)
    session: str = ""  # the server's id of the session (its records carry it)
    speech_end: float = 0.0
    stopped: float | None = None
    first_audio: float | None = None
    heard: str = ""
    answer: str = ""
    status: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    played_until: float = 0.0  # when the audio received so far ends, played from its first delta on
    stall_s: float = 0.0  # silence a listener hears inside the answer: deltas that came after it ran out
    stalls: int = 0

    def heard_delta(self, now: float, pcm_bytes: int) -> None:
        """Play one audio delta (PCM16 24 kHz) on the listener's clock; note a stall before it."""
        if self.played_until and now > self.played_until + _STALL_S:
            self.stall_s += now - self.played_until
            self.stalls += 1
        self.played_until = max(self.played_until, now) + pcm_bytes / 2 / RATE


def load_fixture(path: Path) -> tuple[bytes, int]:
    """PCM16 24 kHz with the lead-in and tail, and the index of the chunk holding the last voiced sample."""
    wav = read_wav(path)
    samples = np.frombuffer(wav.pcm, dtype="<i2")
    if wav.sample_rate != RATE:
        samples = soxr.resample(samples, wav.sample_rate, RATE)
    pad = np.zeros(int(TAIL_S * RATE), "<i2")
    padded = np.concatenate([pad[: int(LEAD_S * RATE)], samples, pad])
    last = int(np.nonzero(np.abs(padded.astype(np.int32)) > VOICED)[0][-1])
    return padded.astype("<i2").tobytes(), last // (RATE * CHUNK_MS // 1000)


def turn_detection(mode: str, silence_ms: int) -> dict[str, Any]:
    """``server_vad`` or ``semantic_vad:<eagerness>`` as the session's ``turn_detection``."""
    if mode.startswith("semantic_vad"):
        return {"type": "semantic_vad", "eagerness": mode.partition(":")[2] or "auto"}
    vad: dict[str, Any] = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300}
    vad["silence_duration_ms"] = silence_ms
    return vad


async def run_turn(url: str, name: str, audio: bytes, end_chunk: int, vad: dict[str, Any]) -> Turn:
    """Stream one padded fixture in real time and wait for the response to finish."""
    import websockets

    turn = Turn(name)
    done = asyncio.Event()
    session = {
        "modalities": ["audio", "text"],
        "voice": "alloy",
        "input_audio_transcription": {"model": "whisper-1", "language": "en"},
        "turn_detection": vad,
    }
    headers = {"OpenAI-Beta": "realtime=v1", "Authorization": "Bearer local"}
    async with websockets.connect(
        f"{url}?model=gpt-4o-realtime-preview", additional_headers=headers, max_size=None
    ) as ws:
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        while (event := json.loads(await ws.recv()))["type"] != "session.updated":
            pass
        turn.session = event["session"]["id"]

        async def read() -> None:
            async for raw in ws:
                now = time.monotonic()
                event = json.loads(raw)
                kind = event["type"]
                if kind == "input_audio_buffer.speech_stopped":
                    turn.stopped, turn.first_audio, turn.played_until = now, None, 0.0
                elif kind == "response.audio.delta":
                    if turn.first_audio is None:
                        turn.first_audio = now
                    turn.heard_delta(now, len(event["delta"]) * 3 // 4)
                elif kind == "conversation.item.input_audio_transcription.completed":
                    turn.heard = event["transcript"]
                elif kind == "response.audio_transcript.done":
                    turn.answer = event["transcript"]
                elif kind == "response.done":
                    turn.status = event["response"]["status"]
                    if turn.status != "cancelled":
                        done.set()
                        return

        reader = asyncio.create_task(read(), name=f"read {name}")
        size = RATE * CHUNK_MS // 1000 * 2
        silence = b"\0" * size
        started = time.monotonic()
        n = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(len(audio) / 2 / RATE + 60):
                while not done.is_set():
                    chunk = audio[n * size : (n + 1) * size] or silence
                    await asyncio.sleep(max(0.0, started + (n + 1) * CHUNK_MS / 1000 - time.monotonic()))
                    audio_b64 = base64.b64encode(chunk).decode()
                    await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio_b64}))
                    if n == end_chunk:
                        turn.speech_end = time.monotonic()
                    n += 1
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return turn


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def show(what: str, values: list[float], unit: str = "ms", scale: float = 1000.0) -> None:
    if not values:
        print(f"{what:<62} (no data)")
        return
    v = [x * scale for x in values]
    print(f"{what:<62} p50 {pct(v, 50):8.1f}  p95 {pct(v, 95):8.1f}  {unit}  (n={len(v)})")


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of ``pid`` in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _since(records: list[dict[str, Any]], stage: str, key: str, origin: float) -> float | None:
    """``key`` of the first record of ``stage`` in a turn, relative to ``origin``."""
    found = [r for r in records if r["stage"] == stage and r.get(key)]
    return found[0][key] - origin if found else None


def report(turns: list[Turn], vad: list[dict[str, Any]], rss: dict[str, float]) -> None:
    ok = [t for t in turns if t.stopped is not None and t.first_audio is not None]
    print(f"\nturns answered with audio: {len(ok)} of {len(turns)}")
    first_audio = [t.first_audio - t.stopped for t in ok]  # type: ignore[operator]
    show("speech_stopped -> first audio delta", first_audio)
    show("end of user audio -> first audio delta", [t.first_audio - t.speech_end for t in ok])  # type: ignore[operator]
    show("end of user audio -> speech_stopped (VAD silence window)", [t.stopped - t.speech_end for t in ok])  # type: ignore[operator]
    print("\ntimeline after speech_stopped (first of each in the turn):")
    marks = (
        ("STT done", "stt_finish", "end"),
        ("LLM called", "llm", "start"),
        ("LLM first token", "llm", "first"),
        ("TTS called (first text piece)", "tts", "start"),
        ("TTS first chunk", "tts", "first"),
    )
    for what, stage_name, key in marks:
        found = [_since(t.records, stage_name, key, t.stopped) for t in ok]  # type: ignore[arg-type]
        show(f"  {what}", [x for x in found if x is not None])
    show("  first audio delta at the client", first_audio)

    def stage(kind: str) -> list[dict[str, Any]]:
        return [r for t in ok for r in t.records if r["stage"] == kind and r.get("first", 1)]

    print("\nstages:")
    vad_audio = sum(r["audio_s"] for r in vad) or float("nan")
    vad_rtf = sum(r["cpu_s"] for r in vad) / vad_audio
    print(f"{'VAD real-time factor (Silero, on the event loop)':<62} {vad_rtf:.4f} x")
    passes = stage("stt_pass")
    show("STT pass time (Whisper tiny.en)", [r["end"] - r["start"] for r in passes])
    for priority in sorted({r.get("priority", "?") for r in passes}):
        queued = [r["queued_s"] for r in passes if r.get("priority", "?") == priority and "queued_s" in r]
        show(f"  queued before it ran, {priority} (as queued > promoted)", queued)
    rtf = [(r["end"] - r["start"]) / r["audio_s"] for r in passes if r["audio_s"]]
    show("STT real-time factor per pass (pass time / audio)", rtf, "x", 1.0)
    show("STT finish() (speech_stopped -> transcript)", [r["end"] - r["start"] for r in stage("stt_finish")])
    llm = stage("llm")
    show("LLM first token (from the call, prompt built inside)", [r["first"] - r["start"] for r in llm])
    rate = [
        (r["tokens"] - 1) / (r["end"] - r["first"]) for r in llm if r["tokens"] > 1 and r["end"] > r["first"]
    ]
    show("LLM generation rate after the first token", rate, "tok/s", 1.0)
    show("LLM prompt tokens", [r["prompt_tokens"] for r in llm], "tok", 1.0)
    show("LLM cached prompt tokens", [r["cached"] for r in llm], "tok", 1.0)
    gates = [r for t in ok for r in t.records if r["stage"] == "gate" and r.get("first")]
    for kind in ("llm", "tts"):
        for asked in ("JUDGE", "HEAD", "SPECULATIVE", "TAIL", "PREFILL"):
            waits = [r["first"] - r["start"] for r in gates if r["kind"] == kind and r["asked"] == asked]
            if waits:
                show(f"{kind.upper()} gate wait, asked as {asked}", waits)
    tts = [r for r in stage("tts") if r["audio_s"]]
    show("TTS first chunk (per piece)", [r["first"] - r["start"] for r in tts])
    show("TTS real-time factor (per piece)", [(r["end"] - r["start"]) / r["audio_s"] for r in tts], "x", 1.0)
    cpu_report(ok)
    now, peak = rss.get("VmRSS", float("nan")), rss.get("VmHWM", float("inf"))
    print(f"\nserver RSS now {now:.0f} MB, peak (VmHWM) {peak:.0f} MB\n")
    # a figure, not a DESIGN.md target: those count from the end of the user's audio (printed per mode)
    print(f"speech_stopped -> first audio p50: {pct(first_audio, 50) * 1000:.0f} ms (all modes)")
    verdict = "PASS" if peak < TARGET_RSS_MB else "FAIL"
    print(f"TARGET server peak RSS < {TARGET_RSS_MB:.0f} MB: {peak:.0f} MB {verdict}")


def _cpu_between(
    before: dict[str, float], after: dict[str, float], wall: float, into: dict[str, float]
) -> None:
    for group, used in after.items():
        into[group] = into.get(group, 0.0) + used - before.get(group, 0.0)
    into["(wall)"] = into.get("(wall)", 0.0) + wall


def cpu_report(turns: list[Turn]) -> None:
    """CPU time of each thread group of the server while the answers' heads were made."""
    windows: dict[str, dict[str, float]] = {
        "LLM called -> first token": {},
        "first token -> first TTS call": {},
        "first TTS call -> its first chunk": {},
    }
    for turn in turns:
        llm = next((r for r in turn.records if r["stage"] == "llm" and r.get("cpu_first")), None)
        tts = next((r for r in turn.records if r["stage"] == "tts" and r.get("cpu_start")), None)
        if llm is None or tts is None:
            continue
        _cpu_between(
            llm["cpu_start"],
            llm["cpu_first"],
            llm["first"] - llm["start"],
            windows["LLM called -> first token"],
        )
        _cpu_between(
            llm["cpu_first"],
            tts["cpu_start"],
            tts["start"] - llm["first"],
            windows["first token -> first TTS call"],
        )
        if tts.get("cpu_first"):
            _cpu_between(
                tts["cpu_start"],
                tts["cpu_first"],
                tts["first"] - tts["start"],
                windows["first TTS call -> its first chunk"],
            )
    for what, used in windows.items():
        wall = used.pop("(wall)", 0.0)
        if not wall:
            continue
        busy = ", ".join(
            f"{group} {cpu / wall:.2f}"
            for group, cpu in sorted(used.items(), key=lambda x: -x[1])
            if cpu / wall >= 0.01
        )
        print(f"CPU cores used, {what} (wall {wall * 1000:.0f} ms over the turns): {busy}")


def _chain(turn: Turn) -> dict[str, float] | None:
    """When each link of the chain that made a turn's first audio ended, from the end of the user's audio
    (seconds): the Whisper pass before the answer's LLM call (the pause's), the judgement, the LLM call,
    its first token, the first TTS call and chunk, ``speech_stopped`` and the first delta."""
    if turn.first_audio is None or turn.stopped is None:
        return None
    records = turn.records
    answers = [r for r in records if r["stage"] == "llm" and r.get("first") and r["first"] < turn.first_audio]
    if not answers:
        return None
    llm = max(answers, key=lambda r: r["start"])
    before = llm["start"] + 0.002
    passes = [r for r in records if r["stage"] == "stt_pass" and r["end"] <= before]
    judged = [r for r in records if r["stage"] == "judge" and r["end"] <= before]
    tts = [r for r in records if r["stage"] == "tts" and r.get("first") and r["start"] >= llm["first"]]
    marks: dict[str, float] = {}
    if passes:
        marks["pass at the pause: start"] = passes[-1]["start"]
        marks["pass at the pause: end"] = passes[-1]["end"]
    if judged:
        marks["judgement: start"] = judged[-1]["start"]
        marks["judgement: end"] = judged[-1]["end"]
    marks["answer's LLM call"] = llm["start"]
    marks["LLM first token"] = llm["first"]
    if tts:
        first = min(tts, key=lambda r: r["start"])
        marks["TTS called (first text piece)"] = first["start"]
        marks["TTS first chunk"] = first["first"]
    marks["first audio delta at the client"] = turn.first_audio
    marks["speech_stopped at the client"] = turn.stopped
    return {what: at - turn.speech_end for what, at in marks.items()}


def chain_report(turns: list[Turn], of: str = "") -> None:
    """The chain from the end of the user's audio to the first audio delta, link by link (p50 of each
    mark, and of each link: the time from the mark before it in the chain, per turn); ``of`` names the
    turns when they are not all of the mode's."""
    chains = [c for c in (_chain(t) for t in turns) if c is not None]
    if not chains:
        return
    print(
        f"  chain{of} from the end of the user's audio "
        "(p50 of the mark; p50 of the link from the mark above):"
    )
    order = list(dict.fromkeys(what for c in chains for what in c))
    for index, what in enumerate(order):
        at = [c[what] * 1000 for c in chains if what in c]
        link = [
            (c[what] - c[order[index - 1]]) * 1000
            for c in chains
            if index and what in c and order[index - 1] in c and not what.startswith("speech_stopped")
        ]
        linked = f"  link p50 {pct(link, 50):7.1f} ms" if link else ""
        print(f"    {what:<40} p50 {pct(at, 50):7.1f} ms{linked}  (n={len(at)})")


def speculation_report(turns: list[Turn], before: dict[str, int], after: dict[str, int]) -> None:
    """Hit rate and wasted work of the speculations made during these turns."""
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    answered = max(1, len([t for t in turns if t.first_audio is not None]))
    attempts = delta.get("attempts", 0)
    print(
        f"  speculation: hit rate {delta.get('reused', 0) / answered:.0%} of answered turns "
        f"({delta.get('reused', 0)} reused of {attempts} attempts; {delta.get('dropped', 0)} dropped as the "
        f"user went on, {delta.get('mismatched', 0)} mismatched the final transcript)"
    )
    print(
        f"  wasted work: {delta.get('wasted_llm_tokens', 0) / answered:.1f} LLM tokens and "
        f"{delta.get('wasted_tts_ms', 0) / answered:.0f} ms of TTS audio per answered turn"
    )


def mode_report(mode: str, turns: list[Turn], before: dict[str, int], after: dict[str, int]) -> None:
    """The figures of one turn-detection mode: all turns, then the questions and the statements apart."""
    ok = [t for t in turns if t.stopped is not None and t.first_audio is not None]
    print(f"\n== {mode}: {len(ok)} of {len(turns)} turns answered with audio")
    show("  end of user audio -> first audio delta", [t.first_audio - t.speech_end for t in ok])  # type: ignore[operator]
    show("  end of user audio -> speech_stopped", [t.stopped - t.speech_end for t in ok])  # type: ignore[operator]
    show("  speech_stopped -> first audio delta", [t.first_audio - t.stopped for t in ok])  # type: ignore[operator]
    for kind in ("question", "statement"):
        of_kind = [t for t in ok if t.kind == kind]
        answered = f"{len(of_kind)} of {sum(t.kind == kind for t in turns)}"
        show(f"  {kind}s ({answered}): end of user audio -> first audio", _latencies(of_kind))
        show(f"  {kind}s: end of user audio -> speech_stopped", [t.stopped - t.speech_end for t in of_kind])  # type: ignore[operator]
    stalled = [t for t in ok if t.stalls]
    show("  playback stalls inside the answer (ms per turn)", [t.stall_s for t in ok])
    print(f"  turns with a stall: {len(stalled)} of {len(ok)} ({sum(t.stalls for t in ok)} stalls)")
    chain_report(ok)
    semantic = mode.startswith("semantic")
    unanswered = 0  # questions without an answer's audio: the target is not met, whatever the p50
    if semantic:
        chain_report([t for t in ok if t.kind == "question"], of=" of the questions")
    speculation_report(turns, before, after)
    if ok and args_sessions() > 1:
        target = CONCURRENT_P95_S
        value = pct(_latencies(ok), 95)
        label = f"p95 end of audio -> first audio, {args_sessions()} sessions at once"
    elif semantic:
        target = SEMANTIC_TARGET_S
        questions = [t for t in turns if t.kind == "question"]
        value = pct(_latencies([t for t in ok if t.kind == "question"]), 50)
        unanswered = sum(t not in ok for t in questions)
        label = f"p50 end of audio -> first audio on complete questions ({len(questions)} turns"
        label += f", {unanswered} unanswered)" if unanswered else ")"
    else:
        target = SERVER_VAD_TARGET_S
        value = pct(_latencies(ok), 50)
        label = "p50 end of audio -> first audio"
    verdict = "PASS" if value <= target and not (semantic and unanswered) else "FAIL"
    print(f"TARGET {mode} {label} <= {target * 1000:.0f} ms: {value * 1000:.0f} ms {verdict}")


def _latencies(turns: list[Turn]) -> list[float]:
    """End of the user's audio -> first audio delta of answered turns (seconds)."""
    return [t.first_audio - t.speech_end for t in turns if t.first_audio is not None]


def fixture_kinds(names: list[str]) -> dict[str, str]:
    """Each fixture's kind from ``KINDS``; raises SystemExit naming any fixture it does not list."""
    kinds: dict[str, str] = json.loads(KINDS.read_text())
    missing = [name for name in names if kinds.get(name) not in ("question", "statement")]
    if missing:
        raise SystemExit(f"{KINDS} must say 'question' or 'statement' for: {', '.join(missing)}")
    return {name: kinds[name] for name in names}


_SESSIONS = [1]


def dump_turns(path: Path, turns: list[Turn]) -> None:
    """Each turn and its timing records (without the CPU snapshots) as JSON, for a look turn by turn."""

    def lean(record: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in record.items() if not key.startswith("cpu_")}

    path.write_text(
        json.dumps([{**t.__dict__, "records": [lean(r) for r in t.records]} for t in turns], indent=1)
    )


def args_sessions() -> int:
    return _SESSIONS[0]


def last_stats(records: list[dict[str, Any]]) -> dict[str, int]:
    """The server's speculation counters as of its latest record."""
    for record in reversed(records):
        if "speculation" in record:
            stats: dict[str, int] = record["speculation"]
            return stats
    return {}


async def main(args: argparse.Namespace) -> None:
    fixtures = sorted(SPEECH.glob("en_*.wav"))
    if not fixtures:
        print(f"no English fixtures in {SPEECH}")
        return
    kinds = fixture_kinds([path.name for path in fixtures])
    _SESSIONS[0] = args.sessions
    print(machine_line())
    print(
        f"modes {args.mode}; server VAD silence_duration_ms {args.silence_ms}; "
        f"sessions at once {args.sessions}; "
        f"speculation {'off' if args.no_speculation else f'after {args.pause_ms} ms of pause'}; "
        f"reading ahead {'off' if args.no_prefill else f'every {args.prefill_every_ms} ms'}; "
        f"engine options {args.option or 'defaults'}; first piece after "
        f"{args.first_piece_words or 'the default'} words; piece edges "
        f"{'untrimmed' if args.untrimmed_pieces else 'trimmed'}"
    )
    pipe, log = asyncio.subprocess.PIPE, None if args.server_log else asyncio.subprocess.DEVNULL
    extra = [f"--option={option}" for option in args.option]
    if args.no_speculation:
        extra.append("--no-speculation")
    extra.append(f"--pause-ms={args.pause_ms}")
    if args.no_prefill:
        extra.append("--no-prefill")
    elif args.prefill_every_ms is not None:
        extra.append(f"--prefill-every-ms={args.prefill_every_ms}")
    if args.first_piece_words is not None:
        extra.append(f"--first-piece-words={args.first_piece_words}")
    if args.untrimmed_pieces:
        extra.append("--untrimmed-pieces")
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", *extra, stdin=pipe, stdout=pipe, stderr=log
    )
    records: list[dict[str, Any]] = []
    assert child.stdout is not None and child.stdin is not None
    started = time.monotonic()
    ready: dict[str, Any] = {}
    while "ready" not in ready:  # the lifespan's warm-up may print records first
        ready = json.loads(await asyncio.wait_for(child.stdout.readline(), 600))
    print(
        f"server (pid {child.pid}) loaded and warmed up the local engines in {ready['warm_up_s']:.1f} s "
        f"(process start to ready {time.monotonic() - started:.1f} s)"
    )

    print(f"server RSS after warm-up: {proc_status(child.pid).get('VmRSS', float('nan')):.0f} MB")

    async def collect() -> None:
        assert child.stdout is not None
        while line := await child.stdout.readline():
            try:
                records.append(json.loads(line))
            except ValueError:  # not a record (a library printing to stdout): skip it, keep reading
                print(f"not a timing record: {line[:200]!r}", file=sys.stderr)

    collector = asyncio.create_task(collect(), name="collect records")
    url = f"ws://127.0.0.1:{ready['ready']}/v1/realtime"
    audio = {path.name: load_fixture(path) for path in fixtures}
    names = list(audio)
    turns: list[Turn] = []
    nan = float("nan")
    try:
        for mode in args.mode:
            vad = turn_detection(mode, args.silence_ms)
            mode_turns: list[Turn] = []
            before = last_stats(records)
            for round_ in range(args.rounds):
                for index in range(len(names)):
                    mark = len(records)
                    group = [names[(index + k) % len(names)] for k in range(args.sessions)]
                    batch = await asyncio.gather(
                        *(run_turn(url, n, audio[n][0], audio[n][1], vad) for n in group)
                    )
                    await asyncio.sleep(0.3)  # let the session's closing records arrive
                    for turn in batch:
                        turn.kind = kinds[turn.name]
                        turn.records = [r for r in records[mark:] if r.get("session") == turn.session]
                        lat = (turn.first_audio or nan) - turn.speech_end
                        print(
                            f"{mode} round {round_ + 1} {turn.name:<40} {turn.kind:<9} {lat * 1000:7.0f} ms  "
                            f"heard {turn.heard!r:<40} answer {turn.answer[:50]!r} [{turn.status}] "
                            f"{proc_status(child.pid)['VmRSS']:.0f} MB",
                            flush=True,
                        )
                    mode_turns += batch
            await asyncio.sleep(0.3)
            mode_report(mode, mode_turns, before, last_stats(records))
            turns += mode_turns
        rss = proc_status(child.pid)
    finally:
        child.stdin.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.wait(), 20)
        if child.returncode is None:
            child.kill()
            await child.wait()
        collector.cancel()
    if args.dump:
        dump_turns(Path(args.dump), turns)
    print("\n== all modes")
    report(turns, [r for r in records if r.get("stage") == "vad"], rss)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="passes over the fixtures (default 3)")
    parser.add_argument("--silence-ms", type=int, default=500, help="server VAD silence_duration_ms")
    parser.add_argument(
        "--mode",
        nargs="+",
        default=["server_vad"],
        help="turn detection modes, in order: server_vad, semantic_vad:<low|medium|high|auto> "
        "(default server_vad)",
    )
    parser.add_argument("--sessions", type=int, default=1, help="sessions speaking at once (default 1)")
    parser.add_argument("--no-speculation", action="store_true", help="serve without preemptive generation")
    parser.add_argument(
        "--pause-ms", type=int, help="speculate after this pause (default: the server's, SpeculationSettings)"
    )
    parser.add_argument(
        "--no-prefill",
        action="store_true",
        help="serve without reading the user's words into the LLM while they speak (for A/B runs)",
    )
    parser.add_argument(
        "--prefill-every-ms",
        type=int,
        help="look at the partial transcript for the LLM to read ahead this often, in ms of audio "
        "(default: the server's, SpeculationSettings; for A/B runs)",
    )
    parser.add_argument("--server-log", action="store_true", help="show the server's log on stderr")
    parser.add_argument("--dump", help="write each turn and its timing records to this JSON file")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        help="a load_engines option for the server, NAME=VALUE (an integer, or text: "
        "llm_model=qwen2.5-coder-1.5b-instruct)",
    )
    parser.add_argument(
        "--first-piece-words",
        type=int,
        default=None,
        help="whole words that end the first speech piece when no punctuation came "
        "(speech_chunks.FIRST_PIECE_WORDS; for A/B runs)",
    )
    parser.add_argument(
        "--untrimmed-pieces",
        action="store_true",
        help="keep Piper's silence at the edges of each speech piece "
        "(PiperTTSEngine.trim_edges; for A/B runs)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.first_piece_words is not None:
        from voxpipe.server.connection import speech_chunks

        speech_chunks.FIRST_PIECE_WORDS = parsed.first_piece_words
    if parsed.untrimmed_pieces:
        from voxpipe.server.engines.local.tts import PiperTTSEngine

        PiperTTSEngine.trim_edges = False
    options = {
        name: int(value) if value.lstrip("-").isdigit() else value
        for name, _, value in (o.partition("=") for o in parsed.option)
    }
    from voxpipe.server import SpeculationSettings

    if parsed.pause_ms is None:
        parsed.pause_ms = SpeculationSettings().pause_ms
    pause = None if parsed.no_speculation else parsed.pause_ms
    if parsed.prefill_every_ms is None:
        parsed.prefill_every_ms = SpeculationSettings().prefill_every_ms
    prefill = None if parsed.no_prefill else parsed.prefill_every_ms
    asyncio.run(serve_child(options, pause, prefill) if parsed.serve else main(parsed))
