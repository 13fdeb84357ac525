"""The audio side of a session: appends, commits, clears, turn detection and user audio items.

``AudioInput`` owns the input buffer, the decoder, the turn detector and the transcriber of the
utterance in progress. It tells its host (the session) what to send and when a turn asks for a
response; the session owns every task (transcriptions run in tasks made by ``host.spawn``).

Each append is resampled once, by the buffer, to the VAD's rate; the VAD and (when it takes the same rate,
as Whisper does) the STT are fed that one stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from voxpipe.audio.dump import open_dump
from voxpipe.realtime import ServerEventBase, new_event_id
from voxpipe.realtime.dialect import EventKind
from voxpipe.server.config import ServerLimits
from voxpipe.server.connection.audio_codec import AudioDecoder, decode_base64
from voxpipe.server.connection.conversation import Conversation, Item, ItemKind, Part, PartKind
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.input_buffer import InputAudioBuffer
from voxpipe.server.connection.settings import SessionSettings
from voxpipe.server.connection.state import SpeechState
from voxpipe.server.connection.transcription import UtteranceTranscriber
from voxpipe.server.connection.turn_detection import TurnDetector, TurnEventType
from voxpipe.server.connection.wire import WireRenderer
from voxpipe.server.engines.registry import Engines
from voxpipe.server.engines.types import TranscriptionOptions

__all__ = ["AudioHost", "AudioInput"]

logger = logging.getLogger(__name__)


class AudioHost(Protocol):
    """What ``AudioInput`` needs from the session."""

    wire: WireRenderer
    engines: Engines
    conversation: Conversation
    settings: SessionSettings

    def send(self, event: ServerEventBase) -> None:
        """Queue an event for the client."""

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a task owned (and awaited) by the session."""

    def speech_started(self) -> None:
        """The user started speaking (barge-in point)."""

    def turn_ended(self) -> None:
        """Turn detection ended a turn that should get a response (``create_response``)."""

    def turn_words(self, words: str) -> None:
        """The user is still speaking in a turn that will get a response and has said ``words`` so far."""

    def turn_paused(self, transcript: Callable[[], Awaitable[str | None]]) -> None:
        """The user paused inside a turn that will get a response: a good time to prepare it."""

    async def judge_turn(self, words: str) -> float | None:
        """The LLM's probability that ``words`` finish the user's message (None: it cannot tell)."""

    def turn_resumed(self) -> None:
        """The user went on after a pause (or the turn was committed or cleared by hand)."""


class AudioInput:
    """See the module docstring.

    Args:
        host: the session.
        limits: buffer and append limits.
        pause_ms: silence inside a turn after which the host hears ``turn_paused`` (None: never).
        words_every_ms: while the user speaks, how often (in ms of audio) the host hears ``turn_words``
            with the STT's partial transcript, when it has new words (None: never).
    """

    def __init__(
        self,
        host: AudioHost,
        limits: ServerLimits,
        pause_ms: int | None = None,
        words_every_ms: int | None = None,
    ) -> None:
        self._host = host
        self._pause_ms = pause_ms
        self._words_every_ms = words_every_ms
        self._words_at_ms = 0  # clock time of the last look at the partial transcript
        self._limits = limits
        self.buffer = InputAudioBuffer(limits.max_buffer_ms, engine_rate=host.engines.vad.sample_rate)
        # the STT shares the buffer's resampled stream when it takes that rate, else it takes 24 kHz
        stt_rate = host.engines.stt.capabilities.sample_rate
        self._stt_rate = stt_rate if stt_rate == self.buffer.engine_rate else 24000
        self._decoder = AudioDecoder(host.settings.input_codec)
        self._detector: TurnDetector | None = None
        self._utterance: UtteranceTranscriber | None = None
        self._turn_item_id: str | None = None
        self._turn_start_ms = 0
        self._dump = open_dump("server-in", 24000)  # every append, when $VOXPIPE_AUDIO_DUMP_DIR is set
        self.configure(host.settings, None)

    def configure(self, settings: SessionSettings, previous: SessionSettings | None) -> None:
        """Apply (new) session settings: input format and turn detection."""
        if previous is None or previous.input_codec is not settings.input_codec:
            self._decoder = AudioDecoder(settings.input_codec)
        if previous is None or previous.turn_detection != settings.turn_detection:
            old = self._detector
            self._detector = (
                TurnDetector(
                    self._host.engines.vad,
                    settings.turn_detection,
                    self.buffer.clock_ms,
                    words=self._words,
                    judge=self._host.judge_turn,
                    pause_ms=self._pause_ms,
                    input_rate=self.buffer.engine_rate,
                )
                if settings.turn_detection is not None
                else None
            )
            if old is not None:
                self._host.spawn(old.aclose(), name="close turn detector")

    async def _words(self) -> str | None:
        """The turn's words so far: the STT's snapshot (final for what was fed), else its partial."""
        utterance = self._utterance
        if utterance is None:
            return None
        words = await utterance.snapshot()
        return words if words is not None else await utterance.partial()

    def _options(self) -> TranscriptionOptions:
        return self._host.settings.transcription or TranscriptionOptions()

    def _new_utterance(self) -> UtteranceTranscriber:
        return UtteranceTranscriber(self._host.engines.stt, self._options(), input_rate=self._stt_rate)

    def _stt_audio_since(self, clock_ms: int) -> bytes:
        """The buffer's audio from ``clock_ms`` at the rate the STT is fed."""
        if self._stt_rate == self.buffer.engine_rate:
            return self.buffer.engine_since(clock_ms)
        return self.buffer.since(clock_ms)

    async def append(self, audio_b64: str) -> None:
        """Handle ``input_audio_buffer.append``.

        Raises:
            ProtocolError: bad base64, oversized append, or a full buffer.
        """
        if len(audio_b64) // 4 * 3 > self._limits.max_append_audio_bytes:
            raise ProtocolError(
                f"Invalid 'audio': at most {self._limits.max_append_audio_bytes} bytes of audio per append, "
                f"got about {len(audio_b64) // 4 * 3}.",
                code="invalid_audio",
                param="audio",
            )
        pcm = self._decoder.decode(decode_base64(audio_b64, "audio"))
        if self._dump is not None:
            self._dump.write(pcm)
            self._dump.note(samples=len(pcm) // 2, clock_ms=self.buffer.clock_ms)
        resampled = self.buffer.append(pcm)
        stt_audio = resampled if self._stt_rate == self.buffer.engine_rate else pcm
        if self._detector is None:
            if self._utterance is None:
                self._utterance = self._new_utterance()
            self._utterance.feed(stt_audio)
            return
        if self._utterance is not None:
            self._utterance.feed(stt_audio)
        for decision in await self._detector.process(resampled, self.buffer.clock_ms):
            if decision.type is TurnEventType.SPEECH_STARTED:
                self._on_speech_started(decision.audio_ms)
            elif decision.type is TurnEventType.SPEECH_STOPPED:
                self._on_speech_stopped(decision.audio_ms)
            elif decision.type is TurnEventType.PAUSED:
                self._on_paused()
            elif decision.type is TurnEventType.RESUMED:
                self._host.turn_resumed()
            else:
                self._on_idle_timeout(decision.start_ms, decision.audio_ms)
        await self._look_at_words()
        if self._detector.state is SpeechState.IDLE:
            self.buffer.keep_last(self._detector.settings.prefix_padding_ms)

    async def _look_at_words(self) -> None:
        """Every ``words_every_ms`` of speech, pass the partial transcript on (``turn_words``)."""
        utterance, detector, every = self._utterance, self._detector, self._words_every_ms
        if (
            every is None
            or utterance is None
            or detector is None
            or detector.state is not SpeechState.SPEAKING
            or detector.paused
            or not detector.settings.create_response
            or self.buffer.clock_ms - self._words_at_ms < every
        ):
            return
        self._words_at_ms = self.buffer.clock_ms
        words = await utterance.partial()
        if words:
            self._host.turn_words(words)

    def _on_speech_started(self, audio_ms: int) -> None:
        self._turn_item_id = new_event_id("item_")
        self._turn_start_ms = audio_ms
        self._host.send(
            self._host.wire.event(
                EventKind.SPEECH_STARTED, audio_start_ms=audio_ms, item_id=self._turn_item_id
            )
        )
        if self._detector is not None and self._detector.settings.interrupt_response:
            self._host.speech_started()
        self._drop_utterance()
        self._utterance = self._new_utterance()
        self._utterance.feed(self._stt_audio_since(audio_ms))  # with the prefix padding

    def _on_paused(self) -> None:
        utterance, detector = self._utterance, self._detector
        if utterance is not None and detector is not None and detector.settings.create_response:

            async def judged_words() -> str | None:
                """The snapshot, once semantic VAD's judgement of the pause is over (see
                ``turn_detection``: the judgement goes to the LLM first)."""
                words = await utterance.snapshot()
                await detector.judged()
                return words

            self._host.turn_paused(judged_words)

    def _on_speech_stopped(self, audio_ms: int) -> None:
        item_id = self._turn_item_id or new_event_id("item_")
        self._host.send(
            self._host.wire.event(EventKind.SPEECH_STOPPED, audio_end_ms=audio_ms, item_id=item_id)
        )
        self._commit(item_id, self._turn_start_ms)
        self._turn_item_id = None
        if self._detector is not None and self._detector.settings.create_response:
            self._host.turn_ended()
        else:
            self._host.turn_resumed()  # no answer for this turn: nothing to prepare

    def _on_idle_timeout(self, start_ms: int, end_ms: int) -> None:
        item_id = new_event_id("item_")
        self._host.send(
            self._host.wire.event(
                EventKind.BUFFER_TIMEOUT, audio_start_ms=start_ms, audio_end_ms=end_ms, item_id=item_id
            )
        )
        self._commit(item_id, None)
        self._host.turn_ended()

    def commit(self) -> None:
        """Handle ``input_audio_buffer.commit``.

        Raises:
            ProtocolError: less than ``min_commit_ms`` of audio (``input_audio_buffer_commit_empty``).
        """
        held = self.buffer.duration_ms
        if held < self._limits.min_commit_ms or held == 0:
            raise ProtocolError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{self._limits.min_commit_ms}ms of audio, but buffer only has {held:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        item_id = self._turn_item_id or new_event_id("item_")
        self._turn_item_id = None
        self._host.turn_resumed()
        self._commit(item_id, None)
        if self._detector is not None:
            self._detector.reset(self.buffer.clock_ms)

    def clear(self) -> None:
        """Handle ``input_audio_buffer.clear``."""
        self.buffer.clear()
        self._turn_item_id = None
        self._host.turn_resumed()
        self._drop_utterance()
        if self._detector is not None:
            self._detector.reset(self.buffer.clock_ms)
        self._host.send(
            self._host.wire.event(
                EventKind.BUFFER_CLEARED,
            )
        )

    def last_turn_ended(self, clock_ms: int | None = None) -> None:
        """A response finished: the idle timeout counts from now."""
        if self._detector is not None:
            self._detector.start_idle_clock(self.buffer.clock_ms if clock_ms is None else clock_ms)

    def _drop_utterance(self) -> None:
        if self._utterance is not None:
            self._host.spawn(self._utterance.aclose(), name="drop utterance")
            self._utterance = None

    def _commit(self, item_id: str, from_ms: int | None) -> None:
        host = self._host
        utterance = self._utterance
        self._utterance = None
        if utterance is None:
            utterance = self._new_utterance()
            utterance.feed(self._stt_audio_since(self.buffer.start_ms if from_ms is None else from_ms))
        audio = self.buffer.take(from_ms)
        previous = host.conversation.last_id
        item = Item(
            id=item_id,
            kind=ItemKind.MESSAGE,
            role="user",
            content=[Part(PartKind.INPUT_AUDIO, transcript=None, audio=bytearray(audio))],
        )
        item.words = asyncio.get_running_loop().create_future()
        host.send(
            self._host.wire.event(EventKind.BUFFER_COMMITTED, previous_item_id=previous, item_id=item_id)
        )
        try:
            previous = host.conversation.add(item)
        except ProtocolError:
            item.words.set_result("")
            raise
        for event in host.wire.item_announced(item, previous):
            host.send(event)
        host.spawn(self._transcribe(item, utterance), name=f"transcribe {item_id}")

    async def _transcribe(self, item: Item, utterance: UtteranceTranscriber) -> None:
        """Finish the STT for ``item``; report it when transcription is on. Always resolves ``item.words``."""
        assert item.words is not None
        reporting = self._host.settings.transcription is not None
        try:
            transcript = await utterance.finish()
        except asyncio.CancelledError:
            if not item.words.done():
                item.words.set_result("")
            raise
        except Exception as exc:  # an engine failure fails this transcription only
            logger.warning("transcription of %s failed: %s", item.id, type(exc).__name__)
            if not item.words.done():
                item.words.set_result("")
            if reporting:
                self._host.send(
                    self._host.wire.event(
                        EventKind.TRANSCRIPTION_FAILED,
                        item_id=item.id,
                        content_index=0,
                        error=dict(
                            type="transcription_error",
                            code="audio_unintelligible",
                            message="Transcription failed.",
                        ),
                    )
                )
            return
        if not item.words.done():
            item.words.set_result(transcript.text)
        if not reporting:
            return
        item.content[0].transcript = transcript.text
        usage = transcript.usage
        tokens = usage.input_tokens if usage else 0
        out_tokens = usage.output_tokens if usage else 0
        self._host.send(
            self._host.wire.event(
                EventKind.TRANSCRIPTION_DELTA, item_id=item.id, content_index=0, delta=transcript.text
            )
        )
        self._host.send(
            self._host.wire.event(
                EventKind.TRANSCRIPTION_COMPLETED,
                item_id=item.id,
                content_index=0,
                transcript=transcript.text,
                usage=dict(
                    type="tokens",
                    input_tokens=tokens,
                    output_tokens=out_tokens,
                    total_tokens=tokens + out_tokens,
                    input_token_details={"text_tokens": 0, "audio_tokens": tokens},
                ),
            )
        )

    async def aclose(self) -> None:
        """Release the VAD and STT streams."""
        if self._dump is not None:
            self._dump.close()
        if self._utterance is not None:
            await self._utterance.aclose()
            self._utterance = None
        if self._detector is not None:
            await self._detector.aclose()
