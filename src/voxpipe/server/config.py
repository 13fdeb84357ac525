"""Settings of ``voxpipe serve``: where to listen, which engines, which key, and the limits on input.

Limits exist so that one client cannot exhaust the process: every one of them is answered with an
``error`` event (the session goes on), except ``max_session_s`` which ends the session the way OpenAI
does (``session_expired``). Frames larger than ``transport_max_message_bytes`` are refused by the
WebSocket layer itself (close 1009), the only input that ends a session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.registry import Engines

__all__ = ["DEFAULT_INSTRUCTIONS", "ServerConfig", "ServerLimits", "SpeculationSettings"]

DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly voice assistant. Answer in one or two short sentences of plain spoken "
    "language, without lists, code or markup."
)
"""Instructions of a session whose client sets none. Tools, when a client declares them, reach the model
with their own descriptions; telling it to look for functions here made a 0.5B model answer small talk with
"The function that fits this request is…"."""


@dataclass(frozen=True, kw_only=True)
class ServerLimits:
    """Per-session limits; each breach gets an ``error`` event and is otherwise ignored.

    Attributes:
        max_message_bytes: largest text frame handled; a larger one gets ``message_too_large``.
        transport_max_message_bytes: largest frame the WebSocket layer accepts at all (close 1009 above).
        max_append_audio_bytes: decoded audio in one ``input_audio_buffer.append`` (OpenAI: 15 MiB).
        max_buffer_ms: audio the input buffer holds before appends are refused
            (``input_audio_buffer_too_large``) until a commit or clear.
        min_commit_ms: shortest buffer ``input_audio_buffer.commit`` accepts (OpenAI: 100 ms).
        max_items: conversation items kept; creating more gets ``conversation_too_large``.
        max_session_s: session length; then ``session_expired`` and close 1001.
        max_event_id_chars: longest client ``event_id`` (OpenAI: 512).
        max_outgoing_bytes: event text queued for one client before producers wait (responses pause,
            the next client event is not read); past twice this the client is disconnected (1008).
        send_timeout_s: a client that takes nothing for this long is disconnected (1008
            ``client is not reading``), so it cannot pin memory or outlive its session.
        max_json_depth: deepest nesting of a client event (or key request body); deeper gets
            ``invalid_event`` before any model sees it (``voxpipe.server.input_limits``).
        max_json_values: JSON values (objects, arrays, strings, numbers...) in one event.
        max_id_chars: longest item, response or call id a client may give.
        max_instructions_chars: longest ``instructions`` of a session or response.
        max_tools: tools per session or response (``array_above_max_length`` beyond).
        max_tool_chars: JSON size of one tool definition.
    """

    max_message_bytes: int = 24 * 1024 * 1024
    transport_max_message_bytes: int = 64 * 1024 * 1024
    max_append_audio_bytes: int = 15 * 1024 * 1024
    max_buffer_ms: int = 5 * 60 * 1000
    min_commit_ms: int = 100
    max_items: int = 2048
    max_session_s: float = 30 * 60.0
    max_event_id_chars: int = 512
    max_outgoing_bytes: int = 1024 * 1024
    send_timeout_s: float = 10.0
    max_json_depth: int = 32
    max_json_values: int = 50_000
    max_id_chars: int = 64
    max_instructions_chars: int = 128 * 1024
    max_tools: int = 128
    max_tool_chars: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.max_message_bytes > self.transport_max_message_bytes:
            raise VoxpipeUsageError(
                "ServerLimits.max_message_bytes must not exceed transport_max_message_bytes, got "
                f"{self.max_message_bytes} > {self.transport_max_message_bytes}"
            )
        if (
            self.max_session_s <= 0
            or self.min_commit_ms < 0
            or self.max_buffer_ms <= 0
            or self.send_timeout_s <= 0
            or self.max_outgoing_bytes <= 0
        ):
            raise VoxpipeUsageError("ServerLimits: durations must be positive")


@dataclass(frozen=True, kw_only=True)
class SpeculationSettings:
    """Preemptive generation (``server/connection/speculation.py``): answering during the end-of-turn silence.

    Attributes:
        pause_ms: silence inside a turn after which the answer is prepared (capped at half the turn
            detection's silence window); None turns speculation off. 100 ms: the local STT starts its
            own pass sooner (60 ms of near-silence), so the speculation takes that pass's words
            without waiting for more silence and adds only LLM and TTS work; at 150 ms it waited 50 ms
            for nothing (``bench/voice_latency.py``, quiet, server VAD 500 ms: end of audio -> first
            audio p50 680 -> 609 ms, 1 of 8 attempts dropped either way).
        max_attempts: speculations per turn, so a user who pauses often costs no more than this.
        prefill_every_ms: while the user speaks, how often (in ms of their audio) the STT's partial
            transcript is looked at, and new words handed to the LLM to read ahead
            (``server/connection/prefill.py``); None: never. 40 ms (a client's usual append): the words
            of a pass are read as soon as it ends. At 250 ms a read often began with the pause, and its
            step (which cannot be interrupted) ran beside the Whisper pass that semantic VAD's judgement
            waits for, slowing it by up to 85 ms (``bench/voice_latency.py --rounds 3 --mode
            semantic_vad:high``: in the "capital city" question the read of "What is the capital city
            of" ran from 2 ms to 83-109 ms after the end of the user's audio, and that pass took 130-220
            ms; at 40 ms the read ended 15-28 ms before the end of the audio and the pass took 129-137).
    """

    pause_ms: int | None = 100
    max_attempts: int = 3
    prefill_every_ms: int | None = 40

    def __post_init__(self) -> None:
        if (self.pause_ms is not None and self.pause_ms < 10) or self.max_attempts < 1:
            raise VoxpipeUsageError(
                "SpeculationSettings: pause_ms must be None or >= 10 and max_attempts >= 1, got "
                f"{self.pause_ms} and {self.max_attempts}"
            )
        if self.prefill_every_ms is not None and self.prefill_every_ms < 10:
            raise VoxpipeUsageError(
                f"SpeculationSettings: prefill_every_ms must be None or >= 10, got {self.prefill_every_ms}"
            )


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Everything ``create_app`` and ``LocalRealtimeServer`` need.

    Attributes:
        host: interface to listen on (loopback by default).
        port: TCP port; 0 picks a free one (read it back from ``LocalRealtimeServer.url``).
        api_key: when set, clients must present it (Bearer, ``api-key`` header or the
            ``openai-insecure-api-key.<key>`` subprotocol) or an ephemeral key minted with it.
        engines: an engine-set name (``"test"``, ``"local"``) loaded at start-up, or ready ``Engines``
            (then the caller owns and closes them).
        engine_options: keyword options for the engine-set factory.
        default_model: model reported when the URL names none.
        instructions: the sessions' default instructions.
        limits: per-session limits.
        ephemeral_key_ttl_s: lifetime of beta ephemeral keys (GA requests choose their own, 10-7200 s).
        ping_interval_s: WebSocket keepalive pings (OpenAI: about 20 s).
        per_message_deflate: accept ``permessage-deflate`` when a client offers it (OpenAI does; the SDK
            offers it). Off by default: on loopback it only costs CPU, mostly compressing base64 audio that
            barely shrinks (``bench/server_load.py``, 200 sessions: server 62 % of a core instead of 55 %,
            client 42 % instead of 31 %; on a busy machine first-audio p50 rose from ~3 ms to ~90 ms).
            Clients work either way: compression is negotiated, never required.
        max_sessions: sessions admitted at once; more are refused with HTTP 503 before the upgrade.
            None: the engine set's default (``voxpipe.server.admission.DEFAULT_MAX_SESSIONS``).
        drain_s: on SIGTERM, how long open sessions may go on (the server is no longer ready and takes no
            new ones) before the rest are closed with 1012; it stops sooner once none is left.
        speculation: preemptive generation during the end-of-turn silence.
        allowed_origins: web pages (``scheme://host[:port]``; ``"*"``: every page) allowed to open
            sessions and use the key endpoints besides same-origin and loopback pages; requests without
            an ``Origin`` (non-browser clients) are never refused for it (``voxpipe.server.origin_policy``).
        shutdown_grace_s: on SIGTERM (or ``LocalRealtimeServer.aclose``) every session is closed with
            1012; a peer that does not take its close within this time is cut off, so the process stops
            within about this long whatever the clients do.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = field(default=None, repr=False)
    engines: str | Engines = "test"
    engine_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    default_model: str = "gpt-realtime"
    instructions: str = DEFAULT_INSTRUCTIONS
    limits: ServerLimits = field(default_factory=ServerLimits)
    ephemeral_key_ttl_s: int = 60
    ping_interval_s: float | None = 20.0
    per_message_deflate: bool = False
    max_sessions: int | None = None
    drain_s: float = 2.5
    allowed_origins: tuple[str, ...] = ()
    speculation: SpeculationSettings = field(default_factory=SpeculationSettings)
    shutdown_grace_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise VoxpipeUsageError(f"ServerConfig.port must be within 0..65535, got {self.port}")
        if self.max_sessions is not None and self.max_sessions < 1:
            raise VoxpipeUsageError(f"ServerConfig.max_sessions must be at least 1, got {self.max_sessions}")
        if self.drain_s < 0:
            raise VoxpipeUsageError(f"ServerConfig.drain_s must not be negative, got {self.drain_s}")
