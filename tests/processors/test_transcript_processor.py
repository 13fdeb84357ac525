"""TranscriptProcessor: one message per user transcript and per bot answer, events on both sides."""

from __future__ import annotations

from voxpipe.frames.frames import (
    BotStoppedSpeakingFrame,
    LLMFullResponseEndFrame,
    LLMTextFrame,
    StartInterruptionFrame,
    TranscriptionFrame,
    TranscriptionUpdateFrame,
    TTSTextFrame,
)
from voxpipe.pipeline.pipeline import Pipeline
from voxpipe.processors.transcript_processor import TranscriptProcessor
from voxpipe.testing import SleepFrame, run_test


async def test_user_and_assistant_messages_with_events() -> None:
    transcript = TranscriptProcessor()
    updates: list[tuple[str, str]] = []

    @transcript.event_handler("on_transcript_update")
    async def on_update(processor, frame: TranscriptionUpdateFrame) -> None:
        updates.extend((m.role, m.content) for m in frame.messages)

    pipeline = Pipeline([transcript.user(), transcript.assistant()])
    down, _ = await run_test(
        pipeline,
        frames_to_send=[
            TranscriptionFrame(text="What is the capital of France?", timestamp="2026-01-01T00:00:00Z"),
            LLMTextFrame(text="Paris"),
            LLMTextFrame(text=" is the capital."),
            LLMFullResponseEndFrame(),
            TranscriptionFrame(text="  "),  # nothing said: no message
            LLMTextFrame(text="And it is"),
            SleepFrame(sleep=0.2),  # (an interruption is a system frame: it would overtake the others)
            StartInterruptionFrame(),  # the user cut the answer: what was said so far is the message
        ],
    )
    assert updates == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital."),
        ("assistant", "And it is"),
    ]
    messages = transcript.messages
    assert messages[0].timestamp == "2026-01-01T00:00:00Z"
    assert all(m.timestamp for m in messages)
    assert sum(isinstance(f, TranscriptionUpdateFrame) for f in down) == 3


async def test_spoken_text_wins_over_generated_text() -> None:
    transcript = TranscriptProcessor()
    assistant = transcript.assistant()
    await run_test(
        assistant,
        frames_to_send=[
            LLMTextFrame(text="Hello there"),
            TTSTextFrame(text="Hello "),
            TTSTextFrame(text="there!"),
            BotStoppedSpeakingFrame(),
        ],
    )
    assert [m.content for m in assistant.messages] == ["Hello there!"]


async def test_handlers_added_before_and_after_the_processors_exist() -> None:
    transcript = TranscriptProcessor()
    early: list[str] = []
    late: list[str] = []
    transcript.add_event_handler("on_transcript_update", lambda p, f: early.append(f.messages[0].role))
    user = transcript.user()
    transcript.add_event_handler("on_transcript_update", lambda p, f: late.append(f.messages[0].role))
    assert transcript.user() is user  # made once
    await run_test(user, frames_to_send=[TranscriptionFrame(text="hi")])
    assert early == late == ["user"]
