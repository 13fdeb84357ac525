"""The realtime service's turn-taking: barge-in with truncation, pipeline-driven turns, the response
state machine, transcripts, items, settings, errors and function calls, against a scripted server."""

from __future__ import annotations

import asyncio
import logging

import pytest

from voxpipe.errors import OperationTimeoutError
from voxpipe.frames.frames import (
    ErrorFrame,
    InterimTranscriptionFrame,
    LLMMessagesAppendFrame,
    LLMUpdateSettingsFrame,
    PlaybackPositionFrame,
    StartInterruptionFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from voxpipe.processors.frame_processor import FrameDirection, FrameProcessor
from voxpipe.services._realtime_service.state import ItemNotFoundError
from voxpipe.services.llm_service import FunctionCallParams
from voxpipe.services.openai_realtime_beta.events import SessionProperties
from voxpipe.testing import ANY, expect, send, wait
from voxpipe.transports.file import WavFileOutputTransport

from .rig import KEY, audio_turn, response_done, rig


def created(item_id: str, role: str = "user") -> dict:
    return {
        "type": "conversation.item.created",
        "previous_item_id": None,
        "item": {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": role,
            "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}],
        },
    }


async def test_barge_in_truncates_at_the_played_position(tmp_path) -> None:
    output = WavFileOutputTransport(tmp_path / "answer.wav")
    script = [
        expect("session.update"),
        *map(send, audio_turn(item="item_bot", chunks=20)[:-2]),  # 2 s of audio arrives, answer still going
        wait(0.5),
        send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 3000, "item_id": "item_u2"}),
        expect("conversation.item.truncate", item_id="item_bot", content_index=0, audio_end_ms=ANY),
    ]
    async with rig(script, extra=[output]) as r:
        await r.server.assert_done()
    (truncate,) = r.server.received("conversation.item.truncate")
    (report,) = r.up.of(PlaybackPositionFrame)
    assert truncate["audio_end_ms"] == report.position_ms
    assert 300 <= truncate["audio_end_ms"] <= 1500  # about the 0.5 s that played, not the 2 s received
    assert r.server.received("response.cancel") == []  # server VAD cancels on its own
    assert r.up.of(UserStartedSpeakingFrame)


async def test_barge_in_before_any_audio_played_deletes_the_item() -> None:
    script = [
        expect("session.update"),
        *map(send, audio_turn(item="item_bot", chunks=2)[:3]),  # response created, item added, one delta
        send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 10, "item_id": "item_u2"}),
        expect("conversation.item.delete", item_id="item_bot"),
    ]

    class Silent(WavFileOutputTransport):
        async def _interrupt(self) -> None:  # an output that played nothing reports 0
            await self.push_frame(PlaybackPositionFrame(position_ms=0, interrupted=True), direction=_UP)

    from voxpipe.processors.frame_processor import FrameDirection

    _UP = FrameDirection.UPSTREAM
    async with rig(script, extra=[Silent("/dev/null")]) as r:
        await r.server.assert_done()


class PlayedSoFar(FrameProcessor):
    """Stands for an output transport that had played ``position_ms`` when the user interrupted."""

    def __init__(self, position_ms: int) -> None:
        super().__init__()
        self.position_ms = position_ms

    async def process_frame(self, frame, direction) -> None:
        if isinstance(frame, StartInterruptionFrame):
            await self.push_frame(
                PlaybackPositionFrame(position_ms=self.position_ms), FrameDirection.UPSTREAM
            )
        await self.push_frame(frame, direction)


async def test_manual_turns_commit_create_and_cancel() -> None:
    props = SessionProperties(turn_detection=False)
    script = [
        expect("session.update", session={"turn_detection": None}),
        expect("input_audio_buffer.commit"),
        expect("response.create"),
        *map(send, audio_turn(item="item_b", chunks=2)[:4]),
        expect("response.cancel"),
        expect("conversation.item.truncate", item_id="item_b", content_index=0, audio_end_ms=60),
        send(
            {"type": "response.done", "response": response_done("resp_1", "item_b", "", status="cancelled")}
        ),
    ]
    async with rig(script, service_kwargs={"session_properties": props}, extra=[PlayedSoFar(60)]) as r:
        await r.task.queue_frames([UserStartedSpeakingFrame(), UserStoppedSpeakingFrame()])
        await r.down.wait_for(lambda: bool(r.down.of(TTSAudioRawFrame)))
        await r.task.queue_frame(StartInterruptionFrame())
        await r.server.assert_done()
    assert r.down.of(StartInterruptionFrame)


def test_without_an_output_report_the_played_position_is_estimated_and_clamped() -> None:
    from voxpipe.services._realtime_service.state import AnswerAudio

    answer = AnswerAudio()
    assert answer.played_estimate_ms(5.0) == 0  # no audio yet
    answer.start_audio("item_e", now=10.0)
    answer.add_audio("item_e", 100.0)
    assert answer.played_estimate_ms(10.05) == 50  # wall clock since the first audio...
    assert answer.played_estimate_ms(12.0) == 100  # ...never more than the audio received
    assert answer.clamp_ms(250) == 100 and answer.clamp_ms(-5) == 0


async def test_no_second_response_create_while_one_is_active() -> None:
    turn = audio_turn(item="item_x", chunks=1)
    script = [
        expect("session.update"),
        expect("conversation.item.create", item={"role": "user"}),
        expect("response.create"),
        expect("conversation.item.create", item={"role": "user"}),
        send(turn[0]),
        wait(0.2),
        *map(send, turn[1:]),
        expect("response.create"),  # the second request goes out only after response.done
    ]
    async with rig(script) as r:
        await r.task.queue_frame(LLMMessagesAppendFrame(messages=[{"role": "user", "content": "one"}]))
        await r.wait_received("response.create")
        await r.task.queue_frame(LLMMessagesAppendFrame(messages=[{"role": "user", "content": "two"}]))
        await r.server.assert_done()


async def test_transcripts_become_frames_and_item_events() -> None:
    script = [
        expect("session.update"),
        send(created("item_u1")),
        send(
            {
                "type": "conversation.item.input_audio_transcription.delta",
                "item_id": "item_u1",
                "content_index": 0,
                "delta": "What is",
            }
        ),
        send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_u1",
                "content_index": 0,
                "transcript": "What is the capital of France?",
            }
        ),
    ]
    created_items: list[tuple[str, object]] = []
    updated_items: list[tuple[str, object]] = []
    async with rig(script) as r:
        r.service.add_event_handler(
            "on_conversation_item_created", lambda s, i, item: created_items.append((i, item))
        )
        r.service.add_event_handler(
            "on_conversation_item_updated", lambda s, i, item: updated_items.append((i, item))
        )
        await r.down.wait_for(lambda: bool(r.down.of(TranscriptionFrame)))
        await asyncio.sleep(0.05)
    assert [f.text for f in r.down.of(InterimTranscriptionFrame)] == ["What is"]
    assert [f.text for f in r.down.of(TranscriptionFrame)] == ["What is the capital of France?"]
    assert [f.text for f in r.up.of(TranscriptionFrame)] == ["What is the capital of France?"]
    assert [i for i, _ in created_items] == ["item_u1"]
    assert updated_items[0][0] == "item_u1"
    assert updated_items[0][1].content[0].transcript == "What is the capital of France?"


async def test_transcription_frames_can_be_switched_off() -> None:
    script = [
        expect("session.update"),
        send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "item_u1",
                "content_index": 0,
                "transcript": "hidden",
            }
        ),
        send({"type": "rate_limits.updated", "rate_limits": []}),
    ]
    async with rig(script, service_kwargs={"send_transcription_frames": False}) as r:
        await r.server.assert_done()
        await asyncio.sleep(0.05)
    assert not r.down.of(TranscriptionFrame)


async def test_retrieve_conversation_item(monkeypatch) -> None:
    ids = iter(["evt_ok", "evt_missing", "evt_slow"])
    monkeypatch.setattr("voxpipe.services._realtime_service.state.new_event_id", lambda: next(ids))
    item = created("item_u1")["item"]
    script = [
        expect("session.update"),
        expect("conversation.item.retrieve", item_id="item_u1"),
        send({"type": "conversation.item.retrieved", "item": item}),
        expect("conversation.item.retrieve", item_id="nope"),
        send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "item_retrieve_invalid_item_id",
                    "message": "Item with id 'nope' not found.",
                    "event_id": "evt_missing",
                },
            }
        ),
        expect("conversation.item.retrieve", item_id="slow"),
    ]
    async with rig(script) as r:
        while not r.server.received("session.update"):
            await asyncio.sleep(0.01)
        got = await r.service.retrieve_conversation_item("item_u1")
        assert got.id == "item_u1" and got.role == "user"
        with pytest.raises(ItemNotFoundError, match="nope"):
            await r.service.retrieve_conversation_item("nope")
        with pytest.raises(OperationTimeoutError, match="slow"):
            await r.service.retrieve_conversation_item("slow", timeout=0.2)
    assert not r.up.of(ErrorFrame)  # a failed retrieval is the caller's error, not the pipeline's


async def test_update_session_sends_only_the_given_fields() -> None:
    props = SessionProperties(instructions="Be brief.", voice="alloy")
    script = [
        expect("session.update", session={"instructions": "Be brief.", "voice": "alloy"}),
        expect("session.update", session={"temperature": 0.6}),
        expect("session.update", session={"instructions": "Speak French."}),
    ]
    async with rig(script, service_kwargs={"session_properties": props}) as r:
        await r.task.queue_frame(LLMUpdateSettingsFrame(settings={"temperature": 0.6}))
        await r.wait_received("session.update", 2)
        await r.service.update_session(instructions="Speak French.")
        await r.server.assert_done()
        with pytest.raises(ValueError, match="not session settings: colour"):
            await r.service.update_session(colour="blue")
    updates = r.server.received("session.update")
    assert set(updates[1]["session"]) == {"temperature"}
    assert set(updates[2]["session"]) == {"instructions"}
    assert r.service.session_properties.voice == "alloy"
    assert r.service.session_properties.temperature == 0.6


async def test_recoverable_error_goes_upstream_and_the_session_goes_on(caplog) -> None:
    script = [
        expect("session.update"),
        send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "invalid_value",
                    "message": "Invalid value: 'x'.",
                },
            }
        ),
        send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "unknown_parameter",
                    "message": "Unknown parameter: 'session.colour'.",
                },
            }
        ),
        expect("conversation.item.create"),
    ]
    async with rig(script) as r:
        await r.up.wait_for(lambda: bool(r.up.of(ErrorFrame)))
        await r.task.queue_frame(LLMMessagesAppendFrame(messages=[{"role": "system", "content": "hi"}]))
        await r.server.assert_done()
    (error,) = r.up.of(ErrorFrame)  # invalid_value is a benign truncate race: logged, not reported
    assert not error.fatal and "unknown_parameter" in error.error


async def test_fatal_error_ends_the_pipeline_without_leaking_the_key(caplog) -> None:
    script = [
        expect("session.update"),
        send(
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "code": "beta_api_shape_disabled",
                    "message": "The beta API shape is disabled.",
                },
            }
        ),
    ]
    with caplog.at_level(logging.DEBUG):
        async with rig(script, end=False) as r:
            await asyncio.wait_for(r.task._finished.wait(), timeout=5)
    errors = r.up.of(ErrorFrame)
    assert errors and errors[0].fatal and "beta_api_shape_disabled" in errors[0].error
    assert r.task.has_finished() or r.task._finished.is_set()
    assert all(KEY not in record.getMessage() for record in caplog.records)
    assert KEY not in repr(r.service)


async def test_function_call_result_goes_back_and_a_response_follows() -> None:
    call = {
        "type": "response.function_call_arguments.done",
        "response_id": "resp_f",
        "item_id": "item_f",
        "output_index": 0,
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"location": "Paris"}',
    }
    script = [
        expect(
            "session.update",
            session={
                "tools": [
                    {
                        "type": "function",
                        "name": "get_weather",
                        "description": "Get weather information",
                        "parameters": ANY,
                    }
                ]
            },
        ),
        send(
            {"type": "response.created", "response": {"id": "resp_f", "status": "in_progress", "output": []}}
        ),
        send(call),
        send({"type": "response.done", "response": {"id": "resp_f", "status": "completed", "output": []}}),
        expect(
            "conversation.item.create",
            item={
                "type": "function_call_output",
                "call_id": "call_1",
                "output": '{"temperature": 21, "location": "Paris"}',
            },
        ),
        expect("response.create"),
    ]
    from voxpipe.adapters.schemas.function_schema import FunctionSchema
    from voxpipe.adapters.schemas.tools_schema import ToolsSchema

    weather = FunctionSchema(
        name="get_weather",
        description="Get weather information",
        properties={"location": {"type": "string"}},
        required=["location"],
    )
    props = SessionProperties(tools=ToolsSchema(standard_tools=[weather]), tool_choice="auto")
    calls: list[dict] = []

    async def fetch_weather(params: FunctionCallParams) -> None:
        calls.append(params.arguments)
        await params.result_callback({"temperature": 21, "location": params.arguments["location"]})

    async with rig(script, service_kwargs={"session_properties": props}) as r:
        r.service.register_function("get_weather", fetch_weather)
        await r.server.assert_done()
    assert calls == [{"location": "Paris"}]


def test_api_key_falls_back_to_the_environment(monkeypatch) -> None:
    from voxpipe.services.openai_realtime_beta import OpenAIRealtimeBetaLLMService

    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000")
    service = OpenAIRealtimeBetaLLMService()
    assert service._api_key == "sk-from-env-0000"
    assert service.model_name == "gpt-4o-realtime-preview-2025-06-03"
    assert service._base_url == "wss://api.openai.com/v1/realtime"
    assert KEY not in repr(service)


async def test_two_calls_in_one_answer_get_one_response_after_both_results() -> None:
    def call(call_id: str, city: str) -> dict:
        return {
            "type": "response.function_call_arguments.done",
            "response_id": "resp_f",
            "item_id": f"i_{call_id}",
            "output_index": 0,
            "call_id": call_id,
            "name": "get_weather",
            "arguments": f'{{"location": "{city}"}}',
        }

    script = [
        expect("session.update"),
        send(
            {"type": "response.created", "response": {"id": "resp_f", "status": "in_progress", "output": []}}
        ),
        send(call("c_slow", "Oslo")),
        send(call("c_fast", "Rome")),
        send({"type": "response.done", "response": {"id": "resp_f", "status": "completed", "output": []}}),
        expect("conversation.item.create", item={"call_id": "c_fast"}),
        expect("conversation.item.create", item={"call_id": "c_slow"}),
        expect("response.create"),
    ]
    release = asyncio.Event()

    async def weather(params: FunctionCallParams) -> None:
        if params.tool_call_id == "c_slow":
            await release.wait()
        else:
            release.set()
        await params.result_callback({"city": params.arguments["location"]})

    async with rig(script) as r:
        r.service.register_function("get_weather", weather)
        await r.server.assert_done()
        await asyncio.sleep(0.1)
    assert len(r.server.received("response.create")) == 1


async def test_semantic_vad_without_interrupt_response_lets_the_answer_play() -> None:
    from voxpipe.services.openai_realtime_beta.events import SemanticTurnDetection

    props = SessionProperties(turn_detection=SemanticTurnDetection(eagerness="low", interrupt_response=False))
    script = [
        expect(
            "session.update",
            session={
                "turn_detection": {
                    "type": "semantic_vad",
                    "eagerness": "low",
                    "create_response": True,
                    "interrupt_response": False,
                }
            },
        ),
        *map(send, audio_turn(item="item_keep", chunks=3)[:4]),
        send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 10, "item_id": "item_u3"}),
        send({"type": "rate_limits.updated", "rate_limits": []}),
    ]
    async with rig(script, service_kwargs={"session_properties": props}) as r:
        await r.server.assert_done()
        await r.down.wait_for(lambda: bool(r.down.of(UserStartedSpeakingFrame)))
        await asyncio.sleep(0.05)
    assert not r.down.of(StartInterruptionFrame)
    assert r.server.received("conversation.item.truncate") == []
    assert r.server.received("conversation.item.delete") == []


async def test_speech_after_a_fully_played_answer_truncates_nothing() -> None:
    script = [
        expect("session.update"),
        *map(send, audio_turn(item="item_done", chunks=2)),
        send({"type": "input_audio_buffer.speech_started", "audio_start_ms": 5000, "item_id": "item_u4"}),
        send({"type": "rate_limits.updated", "rate_limits": []}),
    ]

    class Heard(FrameProcessor):  # an output that played all 200 ms of the answer
        async def process_frame(self, frame, direction) -> None:
            if isinstance(frame, StartInterruptionFrame):
                await self.push_frame(PlaybackPositionFrame(position_ms=200), FrameDirection.UPSTREAM)
            await self.push_frame(frame, direction)

    async with rig(script, extra=[Heard()]) as r:
        await r.server.assert_done()
        await r.down.wait_for(lambda: bool(r.down.of(UserStartedSpeakingFrame)))
        await asyncio.sleep(0.05)
    assert r.server.received("conversation.item.truncate") == []
    assert r.server.received("conversation.item.delete") == []


def test_an_event_id_seen_lately_is_a_repeat_and_the_memory_is_bounded() -> None:
    from voxpipe.services._realtime_service.state import RepeatedEvents

    seen = RepeatedEvents(window=3)
    firsts = [seen.seen_before(i) for i in ("e1", "e2", "e1", "", None, "")]
    assert firsts == [False, False, True, False, False, False]  # no id: never a repeat
    for event_id in ("e3", "e4", "e5"):  # e1 and e2 fall out of the window
        assert not seen.seen_before(event_id)
    assert not seen.seen_before("e1")
    assert seen.seen_before("e5") and seen.repeats == 2


def test_a_user_turn_is_settled_when_quiet_or_long_after_an_unanswered_end() -> None:
    from voxpipe.services._realtime_service.state import Listening, UserTurn

    turn = UserTurn()
    assert turn.settled(now=0.0, settle_s=2.0)
    turn.started()
    assert turn.state is Listening.SPEAKING and not turn.settled(now=100.0, settle_s=2.0)
    turn.stopped(now=10.0)  # being committed: the answer is on its way
    assert not turn.settled(now=11.9, settle_s=2.0)
    assert turn.settled(now=12.0, settle_s=2.0)  # no answer came: a session that does not answer alone
    turn.started()
    turn.answered()
    assert turn.state is Listening.QUIET and turn.settled(now=0.0, settle_s=2.0)


def test_a_turn_the_server_opened_stops_holding_once_its_audio_was_near_silent_long_enough() -> None:
    from voxpipe.services._realtime_service.state import SILENT_TURN_MS, UserTurn

    turn = UserTurn()
    turn.started(at_ms=1000.0, now=50.0)  # the server's speech_started, after 1 s of audio sent
    now = 50.0 + 1.0  # audio sent faster than real time (a file): the audio's count ends it
    sent = 1000.0 + SILENT_TURN_MS
    assert turn.holds_words(now, sent - 1, quiet_ms=sent)  # quiet all along, but not for long enough since
    assert not turn.settled(now=now, settle_s=2.0, sent_ms=sent - 1, quiet_ms=sent)
    assert turn.gone_silent(now, sent, quiet_ms=sent) and not turn.holds_words(now, sent, quiet_ms=sent)
    assert turn.settled(now=now, settle_s=2.0, sent_ms=sent, quiet_ms=sent)
    assert not turn.settled(now=now, settle_s=2.0, sent_ms=sent, quiet_ms=SILENT_TURN_MS - 1)  # was loud
    turn.started()  # a turn the pipeline opened (push-to-talk): open until the pipeline ends it
    assert not turn.settled(now=1e6, settle_s=2.0, sent_ms=10 * sent, quiet_ms=10 * sent)
    turn.started(at_ms=0.0)
    turn.stopped(now=10.0)  # ended and not answered: its words are being committed
    assert turn.holds_words(1e6, sent, quiet_ms=sent) and not turn.gone_silent(1e6, sent, quiet_ms=sent)


def test_a_turn_the_server_opened_stops_holding_after_as_long_with_nothing_louder_sent() -> None:
    from voxpipe.services._realtime_service.state import SILENT_TURN_MS, UserTurn

    silent_s = SILENT_TURN_MS / 1000
    turn = UserTurn()
    turn.started(at_ms=500.0, now=100.0)
    # no audio sent since (the input paused, a muted microphone): the clock counts
    assert not turn.gone_silent(100.0 + silent_s - 0.01, sent_ms=500.0, quiet_ms=0.0)
    assert turn.gone_silent(100.0 + silent_s, sent_ms=500.0, quiet_ms=0.0)
    turn.heard_loud(105.0)  # the user was heard again: the clock counts from there
    assert not turn.settled(now=104.0 + silent_s, settle_s=2.0, sent_ms=800.0, quiet_ms=0.0)
    assert turn.settled(now=105.0 + silent_s, settle_s=2.0, sent_ms=800.0, quiet_ms=0.0)
    turn.started(at_ms=900.0, now=200.0)  # a new turn: the clock counts from its start
    assert not turn.gone_silent(199.0 + silent_s, sent_ms=900.0, quiet_ms=5000.0)


def test_each_start_the_server_told_is_owed_one_stop_across_sessions() -> None:
    from voxpipe.services._realtime_service.state import UserTurn

    turn = UserTurn()
    turn.started()  # the pipeline's own turn: its frames are the pipeline's, nothing is owed
    assert not turn.take_stop()
    turn.started(at_ms=0.0, now=1.0)
    turn.started(at_ms=100.0, now=2.0)  # said twice: still one stop
    carried = UserTurn(stop_owed=turn.stop_owed)  # a new session: the pipeline's view goes on
    assert carried.take_stop() and not carried.take_stop()  # paid once


def test_a_turn_the_pipeline_knows_of_is_not_started_again_by_a_new_session() -> None:
    from voxpipe.services._realtime_service.state import Listening, UserTurn

    turn = UserTurn()
    assert turn.started(at_ms=0.0, now=1.0, audio_start_ms=0.0)  # told
    assert not turn.started(at_ms=50.0, now=2.0)  # said again (a new session, a server repeating itself)
    # A lost session while the user speaks: the turn goes on (and goes silent from where it was heard)
    carried = turn.carried_over(holds_words=True, reheard_until_ms=None)
    assert carried.state is Listening.SPEAKING and carried.stop_owed and carried.started_ms == 50.0
    assert not carried.started(at_ms=900.0, now=3.0, audio_start_ms=0.0)  # the new session hears it
    assert carried.take_stop() and not carried.take_stop()  # its speech_stopped is told, once
    # The turn was told ended (not answered yet): its audio goes to the new session, which hears it again
    again = carried.carried_over(holds_words=True, reheard_until_ms=1200.0)
    assert again.state is Listening.QUIET and not again.stop_owed
    assert not again.started(at_ms=0.0, now=4.0, audio_start_ms=300.0)  # within it: not told, no stop owed
    assert not again.take_stop()
    assert again.started(at_ms=0.0, now=5.0, audio_start_ms=400.0)  # only the first start could be it
    fresh = UserTurn(reheard_until_ms=1200.0)
    assert fresh.started(at_ms=0.0, now=6.0, audio_start_ms=1500.0)  # after it: a new turn
    unknown = UserTurn(reheard_until_ms=1200.0)
    assert unknown.started(at_ms=0.0, now=6.0, audio_start_ms=None)  # no position: told (ended by its stop)
    # A turn the user no longer speaks in (gone silent, or not holding words) does not go on
    gone = UserTurn(stop_owed=True, state=Listening.SPEAKING).carried_over(holds_words=False)
    assert gone.state is Listening.QUIET and gone.stop_owed  # (the service gives it up: an emulated stop)
    assert UserTurn().started() is False  # the pipeline's own turn: its frames are the pipeline's


async def test_a_speech_started_or_stopped_with_a_wrong_position_is_still_a_turn() -> None:
    script = [
        expect("session.update"),
        send({"type": "input_audio_buffer.speech_started", "audio_start_ms": "soon", "item_id": "item_u5"}),
        send({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": [1], "item_id": "item_u5"}),
        send({"type": "rate_limits.updated", "rate_limits": []}),
    ]
    async with rig(script) as r:
        await r.server.assert_done()
        await r.down.wait_for(lambda: bool(r.down.of(UserStoppedSpeakingFrame)))
    assert len(r.down.of(UserStartedSpeakingFrame)) == len(r.down.of(UserStoppedSpeakingFrame)) == 1
    assert r.service._sent_audio._stops[-1].end_ms is None  # a position it cannot use is none


def test_the_input_encoder_counts_the_near_silence_at_the_end_of_what_it_sent() -> None:
    import numpy as np

    from voxpipe.audio import silence
    from voxpipe.services._realtime_service.audio import NEAR_SILENCE_DBFS, InputAudioEncoder

    rate = 16000
    rng = np.random.default_rng(7)

    def noise(ms: int, dbfs: float) -> bytes:
        sigma = 32768 * 10 ** (dbfs / 20)
        return (rng.normal(0.0, sigma, rate * ms // 1000)).astype("<i2").tobytes()

    for audio_format in ("pcm16", "g711_ulaw"):
        encoder = InputAudioEncoder(audio_format)
        for _ in range(10):  # 200 ms of speech-level audio, in 20 ms frames
            encoder.push(noise(20, -30.0), rate, 1)
        assert encoder.quiet_ms == 0
        for _ in range(50):  # 1 s of a quiet room's hiss
            encoder.push(noise(20, NEAR_SILENCE_DBFS - 10), rate, 1)
        encoder.flush()
        assert 950 <= encoder.quiet_ms <= encoder.sent_ms - 150  # the resampler's delay blurs the edge
        encoder.push(noise(20, -40.0), rate, 1)  # a quiet voice
        encoder.flush()
        assert encoder.quiet_ms == 0
        moved = InputAudioEncoder("g711_alaw", continues=encoder)  # a new input format: counts run on
        moved.push(silence(100, rate), rate, 1)
        moved.flush()
        assert moved.sent_ms > encoder.sent_ms and moved.quiet_ms >= 90


def test_a_delta_after_its_response_or_part_ended_is_a_replay_and_the_memory_is_bounded() -> None:
    from voxpipe.services._realtime_service.state import FinishedOutput

    finished = FinishedOutput(window=2)
    assert not finished.replayed("audio", "r1", "i1", 0)  # nothing is over yet
    finished.end_part("audio", "i1", 0)
    assert finished.replayed("audio", "r1", "i1", 0)
    assert not finished.replayed("text", "r1", "i1", 0)  # its transcript goes on
    assert not finished.replayed("audio", "r1", "i1", 1)  # another part of the item
    finished.end_response("r1")
    assert finished.replayed("text", "r1", "i2", 0)  # any delta of a response that is over
    assert not finished.replayed("audio", None, None, None)  # without ids: never a replay
    finished.end_response("r2")
    finished.end_response("r3")  # r1 falls out of the window
    assert not finished.replayed("text", "r1", "i2", 0)
    assert finished.replays == 2
