"""``/metrics``: what a spoken turn, a bad event and a refused session leave in the Prometheus series."""

from __future__ import annotations

import asyncio
import base64
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus

from voxpipe.server import LocalRealtimeServer, ServerConfig
from voxpipe.server.connection.settings import AudioCodec
from voxpipe.server.metrics import EngineLoad, LabelGuard, ServerMetrics, SessionMeter

from ._support import RawClient, chunks, names, speech


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, keyed by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def scrape(server: LocalRealtimeServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


@pytest.mark.parametrize("shape", ["beta", "ga"])
async def test_a_spoken_turn_is_counted_and_timed(shape: str) -> None:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test")) as server:
        client = await RawClient.connect(server.realtime_url, shape)
        await client.recv_until("session.created")
        audio = speech("hello there")
        sent = 0
        for piece in chunks(audio, ms=100):
            await client.send({"type": "input_audio_buffer.append", "audio": piece})
            sent += 1
        await client.recv_until("response.done")
        await client.send("{not json")
        await client.recv_until("error")
        await client.aclose()
        await asyncio.sleep(0.05)
        found = await scrape(server)

    assert found[("voxpipe_sessions_total", ())] == 1
    assert found[("voxpipe_events_received_total", (("type", "input_audio_buffer.append"),))] == sent
    audio_delta = names(shape)["audio_delta"]
    assert found[("voxpipe_events_sent_total", (("type", audio_delta),))] >= 1
    assert found[("voxpipe_events_sent_total", (("type", "response.done"),))] == 1
    assert found[("voxpipe_errors_total", (("code", "invalid_json"),))] == 1
    assert found[("voxpipe_audio_in_seconds_total", ())] == pytest.approx(len(audio) / 48000)
    assert found[("voxpipe_audio_out_seconds_total", ())] > 0
    for stage in ("first_token", "first_tts_chunk", "first_audio"):
        assert found[("voxpipe_turn_latency_seconds_count", (("stage", stage),))] == 1
    assert found[("voxpipe_engine_requests_total", (("engine", "llm"),))] == 1
    assert found[("voxpipe_engine_requests_total", (("engine", "tts"),))] >= 1
    assert found[("voxpipe_engine_requests_total", (("engine", "stt"),))] >= 1
    assert found[("voxpipe_engine_busy_seconds_total", (("engine", "vad"),))] > 0
    assert found[("voxpipe_engine_queue_depth", (("engine", "llm"),))] == 0
    assert found[("voxpipe_sessions_open", ())] == 0
    assert found[("voxpipe_ready", ())] == 1


async def test_refusals_are_counted_by_reason() -> None:
    async with LocalRealtimeServer(ServerConfig(port=0, engines="test", max_sessions=1)) as server:
        holder = await RawClient.connect(server.realtime_url, "ga")
        await holder.recv_until("session.created")
        for _ in range(3):
            with pytest.raises(InvalidStatus):
                await RawClient.connect(server.realtime_url, "ga")
        found = await scrape(server)
        await holder.aclose()
    assert found[("voxpipe_sessions_refused_total", (("reason", "full"),))] == 3
    assert found[("voxpipe_sessions_refused_total", (("reason", "draining"),))] == 0
    assert found[("voxpipe_sessions_open", ())] == 1
    assert found[("voxpipe_ready", ())] == 0
    assert found[("voxpipe_sessions_max", ())] == 1


def test_label_guard_keeps_labels_few_and_clean() -> None:
    guard = LabelGuard(limit=2)
    assert guard("response.done") == "response.done"
    assert guard("Bad Label") == "other"
    assert guard("error") == "error"
    assert guard("third.kind") == "other"
    assert guard("response.done") == "response.done"
    assert guard(None) == "none"


def test_engine_load_counts_busy_time_while_anything_is_in_flight() -> None:
    now = [100.0]
    load = EngineLoad(clock=lambda: now[0])
    load.enter()
    now[0] += 1.0
    load.enter()
    now[0] += 1.0
    load.leave()
    assert load.busy_s == pytest.approx(2.0) and load.in_flight == 1
    now[0] += 0.5
    load.leave()
    now[0] += 10.0  # idle time is not busy time
    load.add_busy(0.25)
    assert load.busy_s == pytest.approx(2.75) and load.requests == 2


def _event(kind: str, **fields: Any) -> Any:
    return SimpleNamespace(type=kind, **fields)


def test_barge_in_abandons_the_turns_remaining_stages() -> None:
    metrics = ServerMetrics()
    now = [0.0]
    meter = SessionMeter(metrics, clock=lambda: now[0])
    meter.queued(_event("input_audio_buffer.speech_stopped"))
    now[0] = 0.2
    meter.queued(_event("response.audio_transcript.delta", delta="Hi"))
    meter.queued(_event("input_audio_buffer.speech_started"))
    meter.queued(_event("response.audio.delta", delta=base64.b64encode(bytes(4800)).decode()))
    meter.written('{"type":"response.audio.delta","event_id":"e","delta":""}')
    found = samples(_render(metrics))
    assert found[("voxpipe_turn_latency_seconds_count", (("stage", "first_token"),))] == 1
    assert found[("voxpipe_turn_latency_seconds_sum", (("stage", "first_token"),))] == pytest.approx(0.2)
    assert found[("voxpipe_turn_latency_seconds_count", (("stage", "first_tts_chunk"),))] == 0
    assert found[("voxpipe_turn_latency_seconds_count", (("stage", "first_audio"),))] == 0
    assert found[("voxpipe_audio_out_seconds_total", ())] == pytest.approx(0.1)


def test_audio_seconds_follow_the_session_format() -> None:
    metrics = ServerMetrics()
    meter = SessionMeter(metrics)
    meter.audio_formats(lambda: (AudioCodec.ULAW, AudioCodec.PCM16))
    meter.received(_event("input_audio_buffer.append", audio=base64.b64encode(bytes(8000)).decode()))
    assert samples(_render(metrics))[("voxpipe_audio_in_seconds_total", ())] == pytest.approx(1.0)


def _render(metrics: ServerMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def test_each_turn_is_a_span_with_its_stages() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = ServerMetrics(tracer=provider.get_tracer("test"))
    meter = SessionMeter(metrics)
    audio = base64.b64encode(bytes(4800)).decode()
    meter.queued(_event("input_audio_buffer.speech_stopped"))
    meter.queued(_event("response.output_audio_transcript.delta", delta="Hi"))
    meter.queued(_event("response.output_audio.delta", delta=audio))
    meter.written('{"type":"response.output_audio.delta","event_id":"e","delta":""}')
    meter.queued(_event("response.done"))
    meter.queued(_event("input_audio_buffer.speech_stopped"))
    meter.queued(_event("input_audio_buffer.speech_started"))  # talked over
    meter.queued(_event("input_audio_buffer.speech_stopped"))
    meter.close()  # the session ends mid-turn
    spans = exporter.get_finished_spans()
    assert [span.name for span in spans] == ["voxpipe.turn"] * 3
    assert [event.name for event in spans[0].events] == ["first_token", "first_tts_chunk", "first_audio"]
    assert [dict(span.attributes or {}).get("voxpipe.turn.abandoned") for span in spans] == [None, True, True]


def test_tracing_can_be_switched_off() -> None:
    assert ServerMetrics(tracer=False).tracer is None
    assert ServerMetrics().tracer is not None  # opentelemetry-api is installed with the dev extra
