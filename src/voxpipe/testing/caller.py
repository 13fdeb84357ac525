"""A scripted caller: speaks its turns to a realtime server, checks each answer, survives a server's death.

``ScriptedCaller`` is a load-test and failover-test client built on the standalone ``RealtimeClient``:

* each turn is PCM16 24 kHz audio streamed in 100 ms appends at ``pace`` times real time; server VAD
  ends the turn; the turn is done when an answer transcript containing ``Turn.expect`` and then
  ``response.done`` arrived;
* when the connection drops (a server killed behind a balancer), the client reconnects, its
  ``on_connected`` hook replays the finished turns as conversation items (user and assistant text, with
  ids of the caller's choosing), and the turn in progress is spoken again from its start;
* ``verify_replay`` checks, after the last turn, that the server the caller ended on holds the replayed
  history (``conversation.item.retrieve`` of the last replayed item).

It measures what a user would feel: end of speech (``speech_stopped`` received) to the first audio delta
received, per turn, and the time of the first audio after each reconnect (for failover time).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from voxpipe.errors import ConnectionFailedError, VoxpipeWorldError
from voxpipe.realtime.client import (
    ConnectionInfo,
    ConnectionLost,
    ConnectReason,
    RealtimeClient,
    RealtimeClientConfig,
    RealtimeVariant,
    Reconnected,
    ReconnectPolicy,
)

__all__ = ["CallerReport", "ScriptedCaller", "Turn"]

logger = logging.getLogger(__name__)

_CHUNK_MS = 100
_CHUNK_BYTES = _CHUNK_MS * 48  # PCM16 mono 24 kHz
_NAMES = {
    "ga": ("response.output_audio.delta", "response.output_audio_transcript.done", "output_text"),
    "beta": ("response.audio.delta", "response.audio_transcript.done", "text"),
}


@dataclass(frozen=True)
class Turn:
    """One spoken turn.

    Attributes:
        audio: PCM16 mono 24 kHz, silence included (server VAD must hear the end of speech).
        expect: text the answer's transcript must contain.
        said: the user's words, replayed as a text item after a reconnect.
    """

    audio: bytes
    expect: str
    said: str


@dataclass
class CallerReport:
    """What one caller lived through.

    Attributes:
        turns_done: turns answered as expected.
        latencies_s: per turn answered on a stable connection: speech_stopped -> first audio delta.
        reconnects: connections after the first.
        reconnected_at: ``time.monotonic()`` of each reconnection (when its ``on_connected`` ran).
        first_audio_after_reconnect: ``time.monotonic()`` of the first audio delta after each reconnect.
        connect_refusals: first-connection attempts refused (503 at capacity) before one worked.
        replay_verified: the last server held the replayed history (None: nothing was replayed).
    """

    turns_done: int = 0
    latencies_s: list[float] = field(default_factory=list)
    reconnects: int = 0
    reconnected_at: list[float] = field(default_factory=list)
    first_audio_after_reconnect: list[float] = field(default_factory=list)
    connect_refusals: int = 0
    replay_verified: bool | None = None


class ScriptedCaller:
    """See the module docstring.

    Args:
        url: ``ws://…/v1/realtime`` (a balancer or a server).
        turns: what to say.
        name: short, unique among callers (item ids are made from it).
        shape: ``"ga"`` or ``"beta"``.
        pace: audio is sent at this multiple of real time (2.0: twice as fast as spoken).
        turn_timeout_s: longest wait for any event during a turn.
        connect_attempts: first-connection attempts (a full server refuses with 503).
        verify_replay: after the last turn, check the replayed history on the last server.
    """

    def __init__(
        self,
        url: str,
        turns: Sequence[Turn],
        *,
        name: str,
        shape: str = "ga",
        pace: float = 1.0,
        turn_timeout_s: float = 20.0,
        connect_attempts: int = 50,
        verify_replay: bool = True,
    ) -> None:
        self._turns = list(turns)
        self._name = name
        self._shape = shape
        self._pace = pace
        self._turn_timeout_s = turn_timeout_s
        self._connect_attempts = connect_attempts
        self._verify_replay = verify_replay
        self._audio_delta, self._transcript_done, self._assistant_part = _NAMES[shape]
        self._config = RealtimeClientConfig(
            variant=RealtimeVariant.OPENAI_GA if shape == "ga" else RealtimeVariant.OPENAI_BETA,
            base_url=url,
            model="gpt-realtime",
            reconnect=ReconnectPolicy(max_attempts=20, base_delay=0.1, max_delay=1.0),
            ping_interval=None,
        )
        self._history: list[tuple[str, str]] = []
        self._replayed: list[str] = []
        self.report = CallerReport()
        self.client: RealtimeClient | None = None

    async def _on_connected(self, info: ConnectionInfo) -> None:
        if info.reason is ConnectReason.INITIAL:
            return
        self.report.reconnects += 1
        self.report.reconnected_at.append(time.monotonic())
        for index, (said, answer) in enumerate(self._history):
            user_id, assistant_id = f"{self._name}t{index}u", f"{self._name}t{index}a"
            await info.send(_message(user_id, "user", "input_text", said))
            await info.send(_message(assistant_id, "assistant", self._assistant_part, answer))
            self._replayed = [user_id, assistant_id]

    async def connect(self) -> RealtimeClient:
        """Open the session, trying again while the server refuses it as full (retryable)."""
        for attempt in range(1, self._connect_attempts + 1):
            client = RealtimeClient(self._config, on_connected=self._on_connected)
            try:
                await client.connect()
            except ConnectionFailedError as exc:
                if not exc.retryable or attempt == self._connect_attempts:
                    raise
                self.report.connect_refusals += 1
                await asyncio.sleep(min(1.0, 0.05 * attempt))
                continue
            self.client = client
            return client
        raise AssertionError("unreachable")

    async def talk(self) -> CallerReport:
        """Speak every turn (connecting first if needed); raises if a turn cannot be finished."""
        client = self.client or await self.connect()
        for turn in self._turns:
            await self._turn(client, turn)
        if self._verify_replay and self._replayed:
            await self._check_replay(client)
        return self.report

    async def close(self) -> None:
        """Close the session."""
        if self.client is not None:
            await self.client.close()

    async def _speak(self, client: RealtimeClient, turn: Turn) -> None:
        for start in range(0, len(turn.audio), _CHUNK_BYTES):
            piece = base64.b64encode(turn.audio[start : start + _CHUNK_BYTES]).decode("ascii")
            client.send({"type": "input_audio_buffer.append", "audio": piece})
            await asyncio.sleep(_CHUNK_MS / 1000 / self._pace)

    async def _turn(self, client: RealtimeClient, turn: Turn) -> None:
        speaking = asyncio.create_task(self._speak(client, turn), name=f"{self._name} speaking")
        stopped_at: float | None = None
        first_audio: float | None = None
        disturbed = False
        heard = False
        answer = ""
        waiting_audio_after_reconnect = False
        try:
            while True:
                event = await client.recv(timeout=self._turn_timeout_s)
                if isinstance(event, ConnectionLost):
                    disturbed = True
                    speaking.cancel()
                    continue
                if isinstance(event, Reconnected):
                    await asyncio.wait({speaking})
                    client.send({"type": "input_audio_buffer.clear"})
                    speaking = asyncio.create_task(self._speak(client, turn), name=f"{self._name} again")
                    stopped_at, first_audio, heard = None, None, False
                    waiting_audio_after_reconnect = True
                    continue
                kind = getattr(event, "type", None)
                if kind == "input_audio_buffer.speech_stopped":
                    stopped_at = time.monotonic()
                elif kind == self._audio_delta:
                    now = time.monotonic()
                    if waiting_audio_after_reconnect:
                        self.report.first_audio_after_reconnect.append(now)
                        waiting_audio_after_reconnect = False
                    if first_audio is None and stopped_at is not None:
                        first_audio = now
                elif kind == self._transcript_done and turn.expect in str(getattr(event, "transcript", "")):
                    heard = True
                    answer = str(event.transcript)
                elif kind == "response.done" and heard:
                    break
                elif kind == "error":
                    logger.warning("%s: error event %s", self._name, getattr(event, "error", None))
        finally:
            speaking.cancel()
            await asyncio.wait({speaking})
        self._history.append((turn.said, answer))
        self.report.turns_done += 1
        if not disturbed and stopped_at is not None and first_audio is not None:
            self.report.latencies_s.append(first_audio - stopped_at)

    async def _check_replay(self, client: RealtimeClient) -> None:
        item_id = self._replayed[-1]
        client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        while True:
            event = await client.recv(timeout=self._turn_timeout_s)
            kind = getattr(event, "type", None)
            if kind == "conversation.item.retrieved":
                self.report.replay_verified = getattr(event.item, "id", None) == item_id
                return
            if kind == "error":
                self.report.replay_verified = False
                raise VoxpipeWorldError(f"{self._name}: replayed item {item_id} not found on the new server")


def _message(item_id: str, role: str, part: str, text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {"id": item_id, "type": "message", "role": role, "content": [{"type": part, "text": text}]},
    }
