"""Cost of parsing and serialising realtime events: voxpipe's models against the openai SDK's.

Run: ``.venv/bin/python bench/protocol.py [--quick]``. Prints microseconds per event (median of
several batches) and our cost relative to the SDK's. Figures, not assertions: tests never time.

Events (beta shape, the hot path of a voice session):

* ``response.audio.delta`` carrying 50 ms of 24 kHz PCM16 (2400 bytes, 3200 base64 chars): one
  every ~50 ms while the assistant speaks.
* ``response.done`` with one assistant item and full usage: once per turn, the largest event.
* ``input_audio_buffer.append`` carrying 100 ms (4800 bytes): what a client sends ten times a second.

The SDK rows use what the SDK itself does: on receive ``construct_type_unchecked(json.loads(text))``
(no validation), on send ``event.to_json(use_api_names=True, exclude_defaults=True,
exclude_unset=True)``; ``model_validate_json`` / ``model_dump_json`` rows are shown for reference.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import pydantic
from openai._models import construct_type_unchecked
from openai.types.beta.realtime import (
    InputAudioBufferAppendEvent as SdkAppend,
)
from openai.types.beta.realtime import (
    RealtimeClientEvent as SdkClientEvent,
)
from openai.types.beta.realtime import (
    RealtimeServerEvent as SdkServerEvent,
)
from openai.types.beta.realtime import (
    ResponseAudioDeltaEvent as SdkAudioDelta,
)
from openai.types.beta.realtime import (
    ResponseDoneEvent as SdkResponseDone,
)

from voxpipe.realtime import (
    InputAudioBufferAppendEvent,
    parse_client_event,
    parse_server_event,
    serialize_event,
)
from voxpipe.realtime.beta.events import KnownServerEvent


def _b64_pcm(ms: int) -> str:
    samples = 24_000 * ms // 1000
    pcm = bytes((i * 37) & 0xFF for i in range(samples * 2))
    return base64.b64encode(pcm).decode()


AUDIO_DELTA = json.dumps(
    {
        "type": "response.audio.delta",
        "event_id": "event_BocJ2isAjIhKtJ0RlgLKO",
        "response_id": "resp_Bu8jzPde0IgxLd6GncfBA",
        "item_id": "item_Bu8k0Qm3LpXzVd9nWq2rT",
        "output_index": 0,
        "content_index": 0,
        "delta": _b64_pcm(50),
    },
    separators=(",", ":"),
)

RESPONSE_DONE = json.dumps(
    {
        "type": "response.done",
        "event_id": "event_BocJ3kQwLmNpZrStUvWxY",
        "response": {
            "object": "realtime.response",
            "id": "resp_Bu8jzPde0IgxLd6GncfBA",
            "status": "completed",
            "status_details": None,
            "output": [
                {
                    "id": "item_Bu8k0Qm3LpXzVd9nWq2rT",
                    "object": "realtime.item",
                    "type": "message",
                    "status": "completed",
                    "role": "assistant",
                    "content": [
                        {"type": "audio", "transcript": "Sure! It's sunny and 21 degrees in Paris today."}
                    ],
                }
            ],
            "conversation_id": "conv_Bu8jzPd3e0IgxLd6GncfB",
            "modalities": ["audio", "text"],
            "voice": "alloy",
            "output_audio_format": "pcm16",
            "temperature": 0.8,
            "max_output_tokens": "inf",
            "usage": {
                "total_tokens": 1062,
                "input_tokens": 919,
                "output_tokens": 143,
                "input_token_details": {
                    "text_tokens": 643,
                    "audio_tokens": 276,
                    "cached_tokens": 0,
                    "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0},
                },
                "output_token_details": {"text_tokens": 36, "audio_tokens": 107},
            },
            "metadata": None,
        },
    },
    separators=(",", ":"),
)

APPEND = json.dumps({"type": "input_audio_buffer.append", "audio": _b64_pcm(100)}, separators=(",", ":"))


def _batch_size(fn: Callable[[], Any], seconds: float) -> int:
    """Calls per batch so that one batch takes about ``seconds / ROUNDS``."""
    fn()
    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < 0.02:
        fn()
        n += 1
    return max(1, int(n * seconds / 0.02 / ROUNDS))


def _batch(fn: Callable[[], Any], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


ROUNDS = 15


def measure_pair(
    ours: Callable[[], Any], sdk: Callable[[], Any], seconds: float
) -> tuple[float, float, float]:
    """Median µs per call of each side and median of the per-round ratio.

    The two sides alternate batch by batch, so a neighbour's CPU burst hits both alike (the
    machine is shared); the ratio of each round is taken before the median for the same reason.
    """
    n_ours, n_sdk = _batch_size(ours, seconds), _batch_size(sdk, seconds)
    ours_us: list[float] = []
    sdk_us: list[float] = []
    for _ in range(ROUNDS):
        ours_us.append(_batch(ours, n_ours))
        sdk_us.append(_batch(sdk, n_sdk))
    ratio = statistics.median(o / s for o, s in zip(ours_us, sdk_us, strict=True))
    return statistics.median(ours_us), statistics.median(sdk_us), ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (noisier)")
    args = parser.parse_args()
    seconds = 0.15 if args.quick else 0.6

    sdk_server = pydantic.TypeAdapter(SdkServerEvent)
    sdk_client = pydantic.TypeAdapter(SdkClientEvent)
    our_union = pydantic.TypeAdapter(KnownServerEvent)

    rows: list[tuple[str, str, float, float, float, str]] = []

    def compare(event: str, op: str, ours: Callable[[], Any], sdk: Callable[[], Any], sdk_how: str) -> None:
        rows.append((event, op, *measure_pair(ours, sdk, seconds), sdk_how))

    # Sanity: both sides read the same thing.
    assert parse_server_event(AUDIO_DELTA).delta == json.loads(AUDIO_DELTA)["delta"]  # type: ignore[union-attr]
    assert json.loads(serialize_event(parse_server_event(RESPONSE_DONE))) == json.loads(RESPONSE_DONE)

    for name, text, sdk_cls in (
        ("response.audio.delta (50 ms)", AUDIO_DELTA, SdkAudioDelta),
        ("response.done + usage", RESPONSE_DONE, SdkResponseDone),
    ):
        compare(
            name,
            "parse (receive)",
            lambda t=text: parse_server_event(t),
            lambda t=text: construct_type_unchecked(value=json.loads(t), type_=SdkServerEvent),  # type: ignore[arg-type]
            "construct_type_unchecked(json.loads)",
        )
        compare(
            name,
            "parse, validated",
            lambda t=text: parse_server_event(t),
            lambda t=text, c=sdk_cls: c.model_validate_json(t),
            "Class.model_validate_json",
        )
        compare(
            name,
            "parse via union",
            lambda t=text: our_union.validate_json(t),
            lambda t=text: sdk_server.validate_json(t),
            "TypeAdapter(union).validate_json",
        )
        ours_event = parse_server_event(text)
        sdk_event = sdk_cls.model_validate_json(text)
        compare(
            name,
            "serialise",
            lambda e=ours_event: serialize_event(e),
            lambda e=sdk_event: e.to_json(use_api_names=True, exclude_defaults=True, exclude_unset=True),
            "to_json(use_api_names, exclude_defaults, exclude_unset)",
        )
        compare(
            name,
            "serialise, compact",
            lambda e=ours_event: serialize_event(e),
            lambda e=sdk_event: e.model_dump_json(exclude_unset=True),
            "model_dump_json(exclude_unset)",
        )

    audio = json.loads(APPEND)["audio"]
    compare(
        "input_audio_buffer.append (100 ms)",
        "build + serialise (send)",
        lambda: serialize_event(InputAudioBufferAppendEvent(audio=audio)),
        lambda: SdkAppend(type="input_audio_buffer.append", audio=audio).to_json(
            use_api_names=True, exclude_defaults=True, exclude_unset=True
        ),
        "Class(...).to_json(use_api_names, exclude_defaults, exclude_unset)",
    )
    compare(
        "input_audio_buffer.append (100 ms)",
        "parse (server side)",
        lambda: parse_client_event(APPEND),
        lambda: sdk_client.validate_json(APPEND),
        "TypeAdapter(union).validate_json",
    )
    compare(
        "input_audio_buffer.append (100 ms)",
        "parse strict (server side)",
        lambda: parse_client_event(APPEND, strict=True),
        lambda: sdk_client.validate_json(APPEND),
        "TypeAdapter(union).validate_json",
    )

    import openai

    print(
        f"voxpipe realtime protocol benchmark  python {sys.version.split()[0]}  pydantic {pydantic.VERSION}"
        f"  openai {openai.__version__}  cpus {os.cpu_count()}"
    )
    print(f"{'event':36} {'operation':28} {'ours µs':>9} {'SDK µs':>9} {'ours/SDK':>9}  SDK call")
    for event, op, ours_us, sdk_us, ratio, how in rows:
        print(f"{event:36} {op:28} {ours_us:9.2f} {sdk_us:9.2f} {ratio:9.2f}  {how}")
    print("ours/SDK is the median of per-round ratios (rounds alternate); below 1 means ours is faster.")


if __name__ == "__main__":
    main()
