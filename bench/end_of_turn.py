"""Semantic VAD's end-of-turn detector on questions with a mid-sentence pause: false-early and -late rates.

Run: ``.venv/bin/python bench/end_of_turn.py [--eagerness high medium low] [--limit 20] [--texts]``. Needs the
``local`` extra and the LLM weights. Prints figures and always exits 0 (STYLE.md practice 17).

Each fixture of ``tests/fixtures/turns`` (see its README) is played into a fresh session of an in-process
``LocalRealtimeServer`` with the local engines, in real time (40 ms appends at 24 kHz): 300 ms of silence,
the first half, ``pause_ms`` (200-400 ms) of silence, the second half, then silence until the turn ends
(at most 4 s). Turn detection is ``semantic_vad`` with ``create_response`` off, so only the detector (VAD,
STT snapshot, the LLM's end-of-turn probability) works. Per eagerness it prints:

* **false early**: the first ``speech_stopped`` ends before the second half (the turn was cut in the pause);
* **false late**: the turn ended only at the detector's longest wait (three times the eagerness window),
  i.e. the model did not recognise the finished question;
* end of the user's audio -> ``speech_stopped`` as the client sees it (p50, p95), for the turns not cut early;
* per turn, what the model was asked: the words it judged, its probability that they are finished, and how
  long the judgement took (from the call to the LLM engine).

``--texts`` judges written words instead of audio, with no timing (the same engine call and
``end_of_turn.silence_needed``): the development texts (``tests/fixtures/turns/texts.json``, on which
``end_of_turn.LEVELS`` were chosen) and the texts of the spoken fixtures (their whole questions and first
halves). Per set and eagerness it prints how many unfinished prefixes would end inside a pause of 400 ms
(the fixtures: their own pause), and how many complete utterances end at the first look, within the window,
or only at the longest wait.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from _machine import machine_line  # bench/ is on sys.path when a bench runs as a script
from voxpipe.audio import read_wav
from voxpipe.server.connection.end_of_turn import FIRST_LOOK_MS, silence_needed

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "turns"
RATE, CHUNK_MS, LEAD_MS, TAIL_MS = 24_000, 40, 300, 4000
WINDOW_MS = {"high": 250, "medium": 500, "auto": 500, "low": 1000}


def clip(name: str) -> np.ndarray:
    wav = read_wav(FIXTURES / name)
    samples = np.frombuffer(wav.pcm, dtype="<i2")
    return soxr.resample(samples, wav.sample_rate, RATE).astype("<i2")


def silence_ms(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, "<i2")


class JudgementLog:
    """Wraps the LLM's ``end_of_turn`` and the STT streams' ``snapshot`` (in place) to keep, for every
    judgement and snapshot: what it gave, and when it was asked and answered (``time.monotonic``)."""

    def __init__(self, engines: Any) -> None:
        self.entries: list[tuple[str, str | None, float | None, float, float]] = []
        self._judge_inner = engines.llm.end_of_turn
        engines.llm.end_of_turn = self._judge
        create_stream = engines.stt.create_stream

        def create(options: Any) -> Any:
            stream = create_stream(options)
            inner = stream.snapshot

            async def snapshot() -> str | None:
                started = time.monotonic()
                words: str | None = await inner()
                self.entries.append(("snapshot", words, None, started, time.monotonic()))
                return words

            stream.snapshot = snapshot
            return stream

        engines.stt.create_stream = create

    async def _judge(self, request: Any, **options: Any) -> float | None:
        started = time.monotonic()
        probability: float | None = await self._judge_inner(request, **options)
        words = str(request.messages[-1].content)
        self.entries.append(("judged", words, probability, started, time.monotonic()))
        return probability

    def take(self) -> list[tuple[str, str | None, float | None, float, float]]:
        entries, self.entries = self.entries, []
        return entries


async def run_one(url: str, turn: dict[str, Any], eagerness: str) -> dict[str, Any]:
    """Play one fixture; return when the first turn ended (or the tail ran out)."""
    import websockets

    first, second = clip(turn["first"]), clip(turn["second"])
    parts = [silence_ms(LEAD_MS), first, silence_ms(turn["pause_ms"]), second, silence_ms(TAIL_MS)]
    audio = np.concatenate(parts).tobytes()
    second_end_ms = (
        LEAD_MS * RATE // 1000 + first.size + RATE * turn["pause_ms"] // 1000 + second.size
    ) * 1000
    second_end_ms //= RATE
    end_chunk = second_end_ms // CHUNK_MS
    pause_chunk = (LEAD_MS * RATE // 1000 + first.size) * 1000 // RATE // CHUNK_MS
    detection = {"type": "semantic_vad", "eagerness": eagerness, "create_response": False}
    headers = {"OpenAI-Beta": "realtime=v1"}
    result: dict[str, Any] = {"id": turn["id"], "stop_ms": None, "delay_s": None}
    async with websockets.connect(f"{url}?model=gpt-realtime", additional_headers=headers) as ws:
        session = {"turn_detection": detection, "input_audio_transcription": {"model": "whisper-1"}}
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        while json.loads(await ws.recv())["type"] != "session.updated":
            pass
        stopped = asyncio.Event()
        speech_end = 0.0

        async def read() -> None:
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] == "input_audio_buffer.speech_stopped" and result["stop_ms"] is None:
                    result["stop_ms"] = event["audio_end_ms"]
                    result["delay_s"] = time.monotonic() - speech_end if speech_end else None
                    stopped.set()
                elif event["type"] == "conversation.item.input_audio_transcription.completed":
                    result.setdefault("heard", event["transcript"])

        reader = asyncio.create_task(read(), name=f"read {turn['id']}")
        size = RATE * CHUNK_MS // 1000 * 2
        started = time.monotonic()
        for n in range(len(audio) // size):
            if stopped.is_set():
                break
            await asyncio.sleep(max(0.0, started + (n + 1) * CHUNK_MS / 1000 - time.monotonic()))
            chunk = base64.b64encode(audio[n * size : (n + 1) * size]).decode()
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
            if n == end_chunk:
                speech_end = time.monotonic()
                result["speech_end"] = speech_end
            elif n == pause_chunk:
                result["pause_start"] = time.monotonic()
        await asyncio.sleep(0.5)  # the transcription of the committed turn
        reader.cancel()
    result["early"] = result["stop_ms"] is not None and result["stop_ms"] < second_end_ms - 150
    max_wait_s = 3 * WINDOW_MS[eagerness] / 1000
    result["late"] = not result["early"] and (
        result["delay_s"] is None or result["delay_s"] >= max_wait_s - 0.05
    )
    return result


async def judge_texts(llm: Any, turns: list[dict[str, Any]], eagerness: list[str]) -> None:
    """``--texts``: the levels on written words (see the module docstring)."""
    from voxpipe.server.config import DEFAULT_INSTRUCTIONS
    from voxpipe.server.engines.types import LLMMessage, LLMRequest

    async def p(words: str) -> float | None:
        return await llm.end_of_turn(LLMRequest(DEFAULT_INSTRUCTIONS, [LLMMessage("user", words)]))

    dev = json.loads((FIXTURES / "texts.json").read_text())
    sets = {
        "development texts": (
            [(e["text"], await p(e["text"])) for e in dev["complete"]],
            [(u, await p(u), 400) for e in dev["complete"] for u in e["unfinished"]],
            [(a, await p(a)) for a in dev["ambiguous"]],
        ),
        "spoken fixtures' texts": (
            [(t["text"], await p(t["text"])) for t in turns],
            [(t["first_text"], await p(t["first_text"]), t["pause_ms"]) for t in turns],
            [],
        ),
    }
    for name, (complete, unfinished, ambiguous) in sets.items():
        sizes = f"{len(complete)} complete, {len(unfinished)} unfinished, {len(ambiguous)} ambiguous"
        print(f"\n== {name}: {sizes}")
        for words, probability in complete + ambiguous:
            print(f"  p {probability or 0:.4f}  {words}")
        for words, probability, pause in unfinished:
            print(f"  p {probability or 0:.4f}  {words} ... ({pause} ms pause)")
        for level in eagerness:
            window = WINDOW_MS[level]
            cut = [w for w, q, pause in unfinished if silence_needed(w, q, level, window) <= pause]
            needed = [silence_needed(w, q, level, window) for w, q in complete]
            print(
                f"  {level:<6} unfinished cut in the pause {len(cut)}/{len(unfinished)}; complete ended at "
                f"the first look {sum(n == FIRST_LOOK_MS for n in needed)}/{len(needed)}, by the window "
                f"{sum(n <= window for n in needed)}, only at the longest wait "
                f"{sum(n >= 3 * window for n in needed)}; ambiguous ended by the window "
                f"{sum(silence_needed(w, q, level, window) <= window for w, q in ambiguous)}/{len(ambiguous)}"
            )
            for words in cut:
                print(f"    cut: {words}")


async def main(args: argparse.Namespace) -> None:
    from voxpipe.server import LocalRealtimeServer, ServerConfig
    from voxpipe.server.engines import load_engines

    turns = json.loads((FIXTURES / "turns.json").read_text())["turns"][: args.limit]
    print(machine_line())
    options = {
        name: int(value) if value.lstrip("-").isdigit() else value
        for name, _, value in (o.partition("=") for o in args.option)
    }
    print(f"engine options {options or 'defaults'}")
    engines = load_engines("local", **options)
    await engines.warm_up()
    if args.texts:
        async with engines:
            await judge_texts(engines.llm, turns, args.eagerness)
        return
    log = JudgementLog(engines)
    async with engines, LocalRealtimeServer(ServerConfig(port=0, engines=engines)) as server:
        for eagerness in args.eagerness:
            results = []
            for turn in turns:
                results.append(await run_one(server.realtime_url, turn, eagerness))
                results[-1]["judged"] = log.take()
            for r in results:
                verdict = "EARLY" if r["early"] else "late" if r["late"] else "ok"
                delay = f"{r['delay_s'] * 1000:6.0f} ms" if r["delay_s"] is not None else "   (cut)"
                print(f"{eagerness:<6} {r['id']} {verdict:<5} {delay}  heard {r.get('heard', '')!r}")
                for kind, words, probability, asked, answered in r["judged"]:
                    # times from the start of the pause, or of the silence after the second half
                    after_end = "speech_end" in r and asked >= r["speech_end"]
                    origin = r["speech_end"] if after_end else r.get("pause_start", asked)
                    shown = "" if probability is None else f": p {probability:.4f}"
                    print(
                        f"         {kind} {words!r}{shown}, asked +{(asked - origin) * 1000:.0f} ms "
                        f"answered +{(answered - origin) * 1000:.0f} ms into the "
                        f"{'end' if after_end else 'pause'}"
                    )
            early = sum(r["early"] for r in results)
            late = sum(r["late"] for r in results)
            delays = sorted(
                r["delay_s"] * 1000 for r in results if r["delay_s"] is not None and not r["early"]
            )
            p50 = float(np.percentile(delays, 50)) if delays else float("nan")
            p95 = float(np.percentile(delays, 95)) if delays else float("nan")
            print(
                f"== semantic_vad {eagerness}: false early {early}/{len(results)}, "
                f"false late {late}/{len(results)}; "
                f"end of audio -> speech_stopped p50 {p50:.0f} ms p95 {p95:.0f} ms"
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--eagerness", nargs="+", default=["high", "medium", "low"])
    parser.add_argument("--limit", type=int, default=20, help="fixtures to play (default all 20)")
    parser.add_argument("--texts", action="store_true", help="judge written texts (no audio, no timing)")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        help="a load_engines option, NAME=VALUE (an integer, or text), for A/B runs",
    )
    asyncio.run(main(parser.parse_args()))
