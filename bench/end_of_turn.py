"""Semantic VAD's end-of-turn detector on questions with a mid-sentence pause: false-early and -late rates.

Run: ``.venv/bin/python bench/end_of_turn.py [--eagerness high medium low] [--limit 20]``. Needs the ``local``
extra and the LLM weights. Prints figures and always exits 0 (STYLE.md practice 17).

Each fixture of ``tests/fixtures/turns`` (see its README) is played into a fresh session of an in-process
``LocalRealtimeServer`` with the local engines, in real time (40 ms appends at 24 kHz): 300 ms of silence,
the first half, ``pause_ms`` (200-400 ms) of silence, the second half, then silence until the turn ends
(at most 4 s). Turn detection is ``semantic_vad`` with ``create_response`` off, so only the detector (VAD,
STT snapshot, the LLM's end-of-turn probability) works. Per eagerness it prints:

* **false early**: the first ``speech_stopped`` ends before the second half (the turn was cut in the pause);
* **false late**: the turn ended only at the detector's longest wait (three times the eagerness window),
  i.e. the model did not recognise the finished question;
* end of the user's audio -> ``speech_stopped`` as the client sees it (p50, p95), for the turns not cut early.
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

from voxpipe.audio import read_wav

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "turns"
RATE, CHUNK_MS, LEAD_MS, TAIL_MS = 24_000, 40, 300, 4000
WINDOW_MS = {"high": 250, "medium": 500, "auto": 500, "low": 1000}


def clip(name: str) -> np.ndarray:
    wav = read_wav(FIXTURES / name)
    samples = np.frombuffer(wav.pcm, dtype="<i2")
    return soxr.resample(samples, wav.sample_rate, RATE).astype("<i2")


def silence_ms(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, "<i2")


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
        await asyncio.sleep(0.5)  # the transcription of the committed turn
        reader.cancel()
    result["early"] = result["stop_ms"] is not None and result["stop_ms"] < second_end_ms - 150
    max_wait_s = 3 * WINDOW_MS[eagerness] / 1000
    result["late"] = not result["early"] and (
        result["delay_s"] is None or result["delay_s"] >= max_wait_s - 0.05
    )
    return result


async def main(args: argparse.Namespace) -> None:
    from voxpipe.server import LocalRealtimeServer, ServerConfig
    from voxpipe.server.engines import load_engines

    turns = json.loads((FIXTURES / "turns.json").read_text())["turns"][: args.limit]
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    engines = load_engines("local")
    await engines.warm_up()
    async with engines, LocalRealtimeServer(ServerConfig(port=0, engines=engines)) as server:
        for eagerness in args.eagerness:
            results = [await run_one(server.realtime_url, turn, eagerness) for turn in turns]
            for r in results:
                verdict = "EARLY" if r["early"] else "late" if r["late"] else "ok"
                delay = f"{r['delay_s'] * 1000:6.0f} ms" if r["delay_s"] is not None else "   (cut)"
                print(f"{eagerness:<6} {r['id']} {verdict:<5} {delay}  heard {r.get('heard', '')!r}")
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
    asyncio.run(main(parser.parse_args()))
