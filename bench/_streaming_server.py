"""A minimal Realtime-protocol server for bench/realtime_client.py: it streams answers in real time.

Runs in its own process so that its CPU time is not counted as the client's. Each connection gets
``session.created``; input appends are read and dropped; an answer of ``--answer-s`` seconds of 24 kHz PCM16
(a tone, in 50 ms deltas paced in real time) starts every ``--period-s`` seconds, framed by
``response.created`` / ``response.done`` and with a transcript delta per second.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import struct

from websockets.asyncio.server import ServerConnection, serve


def tone_chunk(ms: int, rate: int = 24000) -> str:
    samples = [int(6000 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(rate * ms // 1000)]
    return base64.b64encode(struct.pack(f"<{len(samples)}h", *samples)).decode()


async def handle(ws: ServerConnection, answer_s: float, period_s: float) -> None:
    await ws.send(
        json.dumps(
            {
                "type": "session.created",
                "event_id": "e0",
                "session": {
                    "id": "sess_bench",
                    "object": "realtime.session",
                    "modalities": ["audio", "text"],
                    "input_audio_format": "pcm16",
                    "output_audio_format": "pcm16",
                    "turn_detection": {"type": "server_vad"},
                },
            }
        )
    )
    chunk = tone_chunk(50)

    async def drain() -> None:
        async for message in ws:
            event = json.loads(message)
            if event.get("type") == "session.update":
                await ws.send(
                    json.dumps({"type": "session.updated", "event_id": "e1", "session": event["session"]})
                )

    async def speak() -> None:
        n = 0
        loop = asyncio.get_running_loop()
        while True:
            n += 1
            rid, iid = f"resp_{n}", f"item_{n}"
            await ws.send(
                json.dumps(
                    {
                        "type": "response.created",
                        "event_id": f"c{n}",
                        "response": {"id": rid, "status": "in_progress", "output": []},
                    }
                )
            )
            start = loop.time()
            for i in range(int(answer_s * 20)):
                await ws.send(
                    json.dumps(
                        {
                            "type": "response.audio.delta",
                            "event_id": f"d{n}.{i}",
                            "response_id": rid,
                            "item_id": iid,
                            "output_index": 0,
                            "content_index": 0,
                            "delta": chunk,
                        }
                    )
                )
                if i % 20 == 0:
                    await ws.send(
                        json.dumps(
                            {
                                "type": "response.audio_transcript.delta",
                                "event_id": f"t{n}.{i}",
                                "response_id": rid,
                                "item_id": iid,
                                "output_index": 0,
                                "content_index": 0,
                                "delta": "word ",
                            }
                        )
                    )
                await asyncio.sleep(max(0.0, start + (i + 1) * 0.05 - loop.time()))
            await ws.send(
                json.dumps(
                    {
                        "type": "response.audio.done",
                        "event_id": f"ad{n}",
                        "response_id": rid,
                        "item_id": iid,
                        "output_index": 0,
                        "content_index": 0,
                    }
                )
            )
            await ws.send(
                json.dumps(
                    {
                        "type": "response.done",
                        "event_id": f"rd{n}",
                        "response": {
                            "id": rid,
                            "status": "completed",
                            "output": [],
                            "usage": {"total_tokens": 10, "input_tokens": 5, "output_tokens": 5},
                        },
                    }
                )
            )
            await asyncio.sleep(max(0.0, period_s - answer_s))

    tasks = [asyncio.create_task(drain()), asyncio.create_task(speak())]
    try:
        await tasks[0]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answer-s", type=float, default=4.0)
    parser.add_argument("--period-s", type=float, default=5.0)
    args = parser.parse_args()
    async with serve(lambda ws: handle(ws, args.answer_s, args.period_s), "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
