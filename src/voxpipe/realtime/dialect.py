"""The one place that knows how the beta and GA shapes of the Realtime protocol differ.

Both shapes carry the same conversation; they differ in names and nesting:

* **Event names.** GA renames the answer's streams (``response.audio.delta`` ->
  ``response.output_audio.delta``, ``response.text.*`` -> ``response.output_text.*``,
  ``response.audio_transcript.*`` -> ``response.output_audio_transcript.*``) and announces items with
  ``conversation.item.added`` then ``conversation.item.done`` where beta sends one
  ``conversation.item.created``. Code on either side names an event by its :class:`EventKind`; a
  :class:`Dialect` maps kinds to its event classes and wire names back to kinds.
* **Session nesting.** Beta's session is flat (``voice``, ``input_audio_format``, ``turn_detection``,
  ``modalities``, ``max_response_output_tokens``); GA nests the audio settings under
  ``audio.input``/``audio.output``, says ``output_modalities`` and ``max_output_tokens``, and has no
  ``temperature``. :meth:`Dialect.session_update` nests flat settings for the wire;
  :meth:`Dialect.flat_session` reads either shape's session back into the flat form;
  :meth:`Dialect.session_param` names a flat field's path in this shape (for error ``param``\\ s).
* **Audio formats.** Beta names them (``pcm16``, ``g711_ulaw``, ``g711_alaw``); GA writes objects
  (``{"type": "audio/pcm", "rate": 24000}``). :data:`AUDIO_ENCODINGS` holds both names, the sample rate
  and the sample width of each.
* **Items and responses.** GA's assistant parts are ``output_text``/``output_audio`` (beta: ``text``/
  ``audio``), beta items carry ``object: "realtime.item"``, and the response object lists its output
  settings differently (:meth:`Dialect.response_output_settings`); GA usage details count images.

:data:`BETA` and :data:`GA` are the two dialects; :func:`dialect` picks one by name. The GA one is built
on first use, so a beta-only program never loads the GA models.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from voxpipe.realtime import beta
from voxpipe.realtime._base import ClientEventBase, EventBase, ProtocolModel, ServerEventBase
from voxpipe.realtime._parser import Shape

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.realtime import ga

    GA: Dialect

__all__ = [
    "AUDIO_ENCODINGS",
    "BETA",
    "GA",
    "AudioEncoding",
    "Dialect",
    "EventKind",
    "audio_encoding",
    "dialect",
    "encoding_of_ga_format",
    "flatten_session",
    "nest_session",
]


# -- audio formats ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AudioEncoding:
    """One audio format of the protocol, under both of its names.

    Attributes:
        name: the beta name (``pcm16``, ``g711_ulaw``, ``g711_alaw``).
        ga_type: the GA format ``type`` (``audio/pcm``, ``audio/pcmu``, ``audio/pcma``).
        sample_rate: 24 kHz for PCM16, 8 kHz for G.711.
        bytes_per_sample: 2 for PCM16, 1 for G.711.
    """

    name: str
    ga_type: str
    sample_rate: int
    bytes_per_sample: int

    def ga_format(self) -> dict[str, Any]:
        """The GA format object: PCM names its rate, G.711 has one rate and does not."""
        if self.bytes_per_sample == 2:
            return {"type": self.ga_type, "rate": self.sample_rate}
        return {"type": self.ga_type}


AUDIO_ENCODINGS: Mapping[str, AudioEncoding] = {
    "pcm16": AudioEncoding("pcm16", "audio/pcm", 24000, 2),
    "g711_ulaw": AudioEncoding("g711_ulaw", "audio/pcmu", 8000, 1),
    "g711_alaw": AudioEncoding("g711_alaw", "audio/pcma", 8000, 1),
}
"""The protocol's audio formats by beta name."""

_BY_GA_TYPE = {encoding.ga_type: encoding for encoding in AUDIO_ENCODINGS.values()}


def audio_encoding(name: str | None) -> AudioEncoding:
    """The encoding of a beta format name; ``None`` is the default, ``pcm16``.

    Raises:
        KeyError: not a protocol audio format.
    """
    return AUDIO_ENCODINGS[name or "pcm16"]


def encoding_of_ga_format(spec: Any) -> AudioEncoding | None:
    """The encoding of a GA format object (model or dict); None when it names none."""
    kind = spec.get("type") if isinstance(spec, dict) else getattr(spec, "type", None)
    return _BY_GA_TYPE.get(kind) if kind else None


# -- events ----------------------------------------------------------------------------------------------


class EventKind(enum.Enum):
    """An event by what it means, whatever a shape calls it (value: a readable name, not a wire type)."""

    # client -> server
    SESSION_UPDATE = "session update"
    ITEM_CREATE = "item create"
    RESPONSE_CREATE = "response create"
    # server -> client
    ERROR = "error"
    SESSION_CREATED = "session created"
    SESSION_UPDATED = "session updated"
    SPEECH_STARTED = "speech started"
    SPEECH_STOPPED = "speech stopped"
    BUFFER_COMMITTED = "buffer committed"
    BUFFER_CLEARED = "buffer cleared"
    BUFFER_TIMEOUT = "buffer timeout"
    ITEM_ADDED = "item added"
    ITEM_DONE = "item done"
    ITEM_RETRIEVED = "item retrieved"
    ITEM_TRUNCATED = "item truncated"
    ITEM_DELETED = "item deleted"
    TRANSCRIPTION_DELTA = "input transcription delta"
    TRANSCRIPTION_COMPLETED = "input transcription completed"
    TRANSCRIPTION_FAILED = "input transcription failed"
    RESPONSE_CREATED = "response created"
    RESPONSE_DONE = "response done"
    OUTPUT_ITEM_ADDED = "output item added"
    OUTPUT_ITEM_DONE = "output item done"
    CONTENT_PART_ADDED = "content part added"
    CONTENT_PART_DONE = "content part done"
    TEXT_DELTA = "text delta"
    TEXT_DONE = "text done"
    AUDIO_DELTA = "audio delta"
    AUDIO_DONE = "audio done"
    TRANSCRIPT_DELTA = "audio transcript delta"
    TRANSCRIPT_DONE = "audio transcript done"
    FUNCTION_CALL_ARGUMENTS_DELTA = "function call arguments delta"
    FUNCTION_CALL_ARGUMENTS_DONE = "function call arguments done"
    RATE_LIMITS_UPDATED = "rate limits updated"


_SHARED_EVENTS: Mapping[EventKind, type[EventBase]] = {
    EventKind.ERROR: beta.ErrorEvent,
    EventKind.SPEECH_STARTED: beta.InputAudioBufferSpeechStartedEvent,
    EventKind.SPEECH_STOPPED: beta.InputAudioBufferSpeechStoppedEvent,
    EventKind.BUFFER_COMMITTED: beta.InputAudioBufferCommittedEvent,
    EventKind.BUFFER_CLEARED: beta.InputAudioBufferClearedEvent,
    EventKind.ITEM_TRUNCATED: beta.ConversationItemTruncatedEvent,
    EventKind.ITEM_DELETED: beta.ConversationItemDeletedEvent,
    EventKind.TRANSCRIPTION_DELTA: beta.ConversationItemInputAudioTranscriptionDeltaEvent,
    EventKind.TRANSCRIPTION_COMPLETED: beta.ConversationItemInputAudioTranscriptionCompletedEvent,
    EventKind.TRANSCRIPTION_FAILED: beta.ConversationItemInputAudioTranscriptionFailedEvent,
    EventKind.CONTENT_PART_ADDED: beta.ResponseContentPartAddedEvent,
    EventKind.CONTENT_PART_DONE: beta.ResponseContentPartDoneEvent,
    EventKind.FUNCTION_CALL_ARGUMENTS_DELTA: beta.ResponseFunctionCallArgumentsDeltaEvent,
    EventKind.FUNCTION_CALL_ARGUMENTS_DONE: beta.ResponseFunctionCallArgumentsDoneEvent,
    EventKind.RATE_LIMITS_UPDATED: beta.RateLimitsUpdatedEvent,
}
"""Events with one wire shape in both dialects (GA re-exports these beta classes)."""

_BETA_EVENTS: Mapping[EventKind, type[EventBase]] = {
    EventKind.SESSION_UPDATE: beta.SessionUpdateEvent,
    EventKind.ITEM_CREATE: beta.ConversationItemCreateEvent,
    EventKind.RESPONSE_CREATE: beta.ResponseCreateEvent,
    EventKind.SESSION_CREATED: beta.SessionCreatedEvent,
    EventKind.SESSION_UPDATED: beta.SessionUpdatedEvent,
    EventKind.ITEM_ADDED: beta.ConversationItemCreatedEvent,
    EventKind.ITEM_RETRIEVED: beta.ConversationItemRetrievedEvent,
    EventKind.RESPONSE_CREATED: beta.ResponseCreatedEvent,
    EventKind.RESPONSE_DONE: beta.ResponseDoneEvent,
    EventKind.OUTPUT_ITEM_ADDED: beta.ResponseOutputItemAddedEvent,
    EventKind.OUTPUT_ITEM_DONE: beta.ResponseOutputItemDoneEvent,
    EventKind.TEXT_DELTA: beta.ResponseTextDeltaEvent,
    EventKind.TEXT_DONE: beta.ResponseTextDoneEvent,
    EventKind.AUDIO_DELTA: beta.ResponseAudioDeltaEvent,
    EventKind.AUDIO_DONE: beta.ResponseAudioDoneEvent,
    EventKind.TRANSCRIPT_DELTA: beta.ResponseAudioTranscriptDeltaEvent,
    EventKind.TRANSCRIPT_DONE: beta.ResponseAudioTranscriptDoneEvent,
}


def _wire_type(event_class: type[EventBase]) -> str:
    return str(event_class.model_fields["type"].default)


# -- session fields ----------------------------------------------------------------------------------------

_GA_PATHS: Mapping[str, str] = {
    "modalities": "output_modalities",
    "max_response_output_tokens": "max_output_tokens",
    "input_audio_format": "audio.input.format",
    "input_audio_transcription": "audio.input.transcription",
    "input_audio_noise_reduction": "audio.input.noise_reduction",
    "turn_detection": "audio.input.turn_detection",
    "output_audio_format": "audio.output.format",
    "voice": "audio.output.voice",
    "speed": "audio.output.speed",
}
"""Flat (beta) session field -> its path in a GA session; fields not listed keep their name."""

_GA_TOP_LEVEL = ("model", "instructions", "tools", "tool_choice", "tracing", "include")
"""Flat fields that GA keeps at the top level under the same name."""


# -- the dialect -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """Everything one shape of the protocol names or nests its own way (see the module docstring).

    Attributes:
        name: ``"beta"`` or ``"ga"`` (the parser's ``Shape``).
        events: the event class of each kind this dialect has.
        item_model / response_model / session_model: its conversation item, response and session models.
        assistant_part_prefix: what this dialect puts before ``text``/``audio`` in the type of an
            assistant content part (GA: ``output_text``, ``output_audio``).
        also_read: further wire types read as a kind (GA servers may still say ``conversation.item.created``).
    """

    name: Shape
    events: Mapping[EventKind, type[EventBase]]
    item_model: type[ProtocolModel]
    response_model: type[ProtocolModel]
    session_model: type[ProtocolModel]
    assistant_part_prefix: str
    also_read: Mapping[str, EventKind] = field(default_factory=dict)
    _kinds: Mapping[str, EventKind] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        kinds = {_wire_type(event_class): kind for kind, event_class in self.events.items()}
        object.__setattr__(self, "_kinds", {**self.also_read, **kinds})

    @property
    def is_ga(self) -> bool:
        """The GA shape (nested audio settings, item added/done)."""
        return self.name == "ga"

    # -- events --

    def kind_of(self, event_type: str) -> EventKind | None:
        """The kind of a wire event type in this dialect; None for events no kind names."""
        return self._kinds.get(event_type)

    def has(self, kind: EventKind) -> bool:
        """Whether this dialect has an event of ``kind`` (beta has no ``ITEM_DONE`` or ``BUFFER_TIMEOUT``)."""
        return kind in self.events

    def event(self, kind: EventKind, /, **fields: Any) -> EventBase:
        """Build this dialect's event of ``kind``.

        Raises:
            KeyError: this dialect has no such event (see :meth:`has`).
        """
        return self.events[kind](**fields)

    def server_event(self, kind: EventKind, /, **fields: Any) -> ServerEventBase:
        """:meth:`event` for a server event."""
        event = self.event(kind, **fields)
        assert isinstance(event, ServerEventBase), kind
        return event

    def client_event(self, kind: EventKind, /, **fields: Any) -> ClientEventBase:
        """:meth:`event` for a client event."""
        event = self.event(kind, **fields)
        assert isinstance(event, ClientEventBase), kind
        return event

    # -- items and responses --

    def item(self, **fields: Any) -> ProtocolModel:
        """A conversation item of this dialect from its fields (beta items also say ``object``)."""
        if not self.is_ga:
            fields = {"object": "realtime.item", **fields}
        return self.item_model(**fields)

    def assistant_part(self, part_type: str) -> str:
        """The type of an assistant content part: ``text``/``audio`` become this dialect's names."""
        return self.assistant_part_prefix + part_type if part_type in ("text", "audio") else part_type

    @property
    def assistant_text_part(self) -> str:
        """The type of the assistant's text parts (``text``; GA ``output_text``)."""
        return self.assistant_part("text")

    def item_announcements(
        self, item: ProtocolModel, previous_item_id: str | None, *, final: bool
    ) -> list[ServerEventBase]:
        """Events announcing a new item: beta ``created``; GA ``added``, and ``done`` when ``final``."""
        events = [self.server_event(EventKind.ITEM_ADDED, previous_item_id=previous_item_id, item=item)]
        if final:
            events.extend(self.item_completion(item, previous_item_id))
        return events

    def item_completion(self, item: ProtocolModel, previous_item_id: str | None) -> list[ServerEventBase]:
        """GA ``conversation.item.done`` for an item announced in progress; nothing in beta."""
        if not self.has(EventKind.ITEM_DONE):
            return []
        return [self.server_event(EventKind.ITEM_DONE, previous_item_id=previous_item_id, item=item)]

    def response_output_settings(
        self, *, audio_output: bool, voice: str, encoding: AudioEncoding, temperature: float
    ) -> dict[str, Any]:
        """The output settings a response object reports (GA nests them and has no temperature)."""
        if self.is_ga:
            return {
                "output_modalities": ["audio"] if audio_output else ["text"],
                "audio": {"output": {"format": encoding.ga_format(), "voice": voice}},
            }
        return {
            "modalities": ["audio", "text"] if audio_output else ["text"],
            "voice": voice,
            "output_audio_format": encoding.name,
            "temperature": temperature,
        }

    def usage(
        self, *, input_text: int, input_audio: int, cached: int, output_text: int, output_audio: int
    ) -> dict[str, Any]:
        """A response's ``usage`` object from its token counts (GA also counts image tokens)."""
        cached_details: dict[str, int] = {"text_tokens": cached, "audio_tokens": 0}
        input_details: dict[str, Any] = {
            "text_tokens": input_text,
            "audio_tokens": input_audio,
            "cached_tokens": cached,
            "cached_tokens_details": cached_details,
        }
        if self.is_ga:
            input_details["image_tokens"] = 0
            cached_details["image_tokens"] = 0
        inputs, outputs = input_text + input_audio, output_text + output_audio
        return {
            "total_tokens": inputs + outputs,
            "input_tokens": inputs,
            "output_tokens": outputs,
            "input_token_details": input_details,
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
        }

    # -- sessions --

    def session_param(self, flat_field: str, prefix: str = "session") -> str:
        """Where a flat (beta) session field lives in this dialect, as an error ``param``."""
        path = _GA_PATHS.get(flat_field, flat_field) if self.is_ga else flat_field
        return f"{prefix}.{path}"

    def session_update(self, properties: beta.SessionProperties) -> ClientEventBase:
        """The ``session.update`` carrying flat ``properties`` (tools already in wire form), nested for GA.

        Only the fields that were set are carried; ``temperature`` has no GA field and is left out.
        """
        session: ProtocolModel = nest_session(properties) if self.is_ga else properties
        return self.client_event(EventKind.SESSION_UPDATE, session=session)

    def flat_fields(self, settings: ProtocolModel) -> dict[str, Any]:
        """The fields a session or response (properties) of this dialect set, under flat (beta) names.

        Values are kept as given (a GA format object becomes its beta name; a custom voice object stays).
        """
        if self.is_ga:
            return flatten_session(settings)
        return {name: getattr(settings, name) for name in settings.model_fields_set}

    def flat_session(self, session: ProtocolModel) -> beta.Session:
        """A session of this dialect (as a server reports it) read as the flat (beta) model."""
        if isinstance(session, beta.Session):
            return session
        fields = flatten_session(session)
        if not isinstance(fields.get("voice"), str | None):
            fields["voice"] = None  # a custom voice object has no flat form
        return beta.Session(**fields)


def nest_session(properties: beta.SessionProperties) -> ga.SessionProperties:
    """Flat settings as a GA ``session``: audio settings nested, GA names; only the fields that were set."""
    from voxpipe.realtime import ga

    given = properties.model_fields_set
    fields: dict[str, Any] = {}
    audio: dict[str, dict[str, Any]] = {"input": {}, "output": {}}
    for name in given:
        value = getattr(properties, name)
        if name == "modalities":
            if value is not None:
                fields["output_modalities"] = ["text"] if "audio" not in value else ["audio"]
        elif name in ("input_audio_format", "output_audio_format"):
            if value:
                side = "input" if name.startswith("input") else "output"
                audio[side]["format"] = audio_encoding(value).ga_format()
        elif name in _GA_PATHS and _GA_PATHS[name].startswith("audio."):
            _, side, key = _GA_PATHS[name].split(".")
            audio[side][key] = value
        elif name == "max_response_output_tokens":
            fields["max_output_tokens"] = value
        elif name in _GA_TOP_LEVEL and name != "model":
            fields[name] = value
    sides: dict[str, Any] = {}
    if audio["input"]:
        sides["input"] = ga.AudioInput(**audio["input"])
    if audio["output"]:
        sides["output"] = ga.AudioOutput(**audio["output"])
    if sides:
        fields["audio"] = ga.AudioConfig(**sides)
    return ga.SessionProperties(**fields)


def flatten_session(session: ProtocolModel) -> dict[str, Any]:
    """A GA session (or session update) read into flat (beta) field names; only what it set.

    ``output_modalities: ["text"]`` becomes ``modalities: ["text"]``, ``["audio"]`` becomes
    ``["audio", "text"]`` (a beta audio answer has a transcript too).
    """
    given = session.model_fields_set
    flat: dict[str, Any] = {}
    for name in (*_GA_TOP_LEVEL, "id", "expires_at"):
        if name in given:
            flat[name] = getattr(session, name)
    if "output_modalities" in given:
        modalities = getattr(session, "output_modalities", None)
        flat["modalities"] = (
            None if modalities is None else (["text"] if modalities == ["text"] else ["audio", "text"])
        )
    if "max_output_tokens" in given:
        flat["max_response_output_tokens"] = getattr(session, "max_output_tokens", None)
    audio = getattr(session, "audio", None)
    for flat_name, path in _GA_PATHS.items():
        if not path.startswith("audio.") or audio is None:
            continue
        _, side, key = path.split(".")
        part = getattr(audio, side, None)
        if part is None or key not in part.model_fields_set:
            continue
        value = getattr(part, key)
        if key == "format":
            encoding = encoding_of_ga_format(value)
            value = encoding.name if encoding is not None else None
        flat[flat_name] = value
    return flat


def _dialect_of(
    name: Shape,
    models: ModuleType,
    events: Mapping[EventKind, type[EventBase]],
    *,
    assistant_part_prefix: str,
    also_read: Mapping[str, EventKind] | None = None,
) -> Dialect:
    """A dialect from its models package (``beta`` or ``ga``) and its own events."""
    return Dialect(
        name=name,
        events={**_SHARED_EVENTS, **events},
        item_model=models.ConversationItem,
        response_model=models.Response,
        session_model=models.Session,
        assistant_part_prefix=assistant_part_prefix,
        also_read=also_read or {},
    )


BETA = _dialect_of("beta", beta, _BETA_EVENTS, assistant_part_prefix="")
"""The beta shape (``OpenAI-Beta: realtime=v1``)."""


@functools.cache
def _ga_dialect() -> Dialect:
    """The GA dialect, built on first use: importing the beta side never loads the GA models."""
    from voxpipe.realtime import ga
    from voxpipe.realtime.ga.input_audio_buffer import InputAudioBufferTimeoutTriggeredEvent

    ga_events: Mapping[EventKind, type[EventBase]] = {
        EventKind.SESSION_UPDATE: ga.SessionUpdateEvent,
        EventKind.ITEM_CREATE: ga.ConversationItemCreateEvent,
        EventKind.RESPONSE_CREATE: ga.ResponseCreateEvent,
        EventKind.SESSION_CREATED: ga.SessionCreatedEvent,
        EventKind.SESSION_UPDATED: ga.SessionUpdatedEvent,
        EventKind.ITEM_ADDED: ga.ConversationItemAddedEvent,
        EventKind.ITEM_DONE: ga.ConversationItemDoneEvent,
        EventKind.ITEM_RETRIEVED: ga.ConversationItemRetrievedEvent,
        EventKind.BUFFER_TIMEOUT: InputAudioBufferTimeoutTriggeredEvent,
        EventKind.RESPONSE_CREATED: ga.ResponseCreatedEvent,
        EventKind.RESPONSE_DONE: ga.ResponseDoneEvent,
        EventKind.OUTPUT_ITEM_ADDED: ga.ResponseOutputItemAddedEvent,
        EventKind.OUTPUT_ITEM_DONE: ga.ResponseOutputItemDoneEvent,
        EventKind.TEXT_DELTA: ga.ResponseOutputTextDeltaEvent,
        EventKind.TEXT_DONE: ga.ResponseOutputTextDoneEvent,
        EventKind.AUDIO_DELTA: ga.ResponseOutputAudioDeltaEvent,
        EventKind.AUDIO_DONE: ga.ResponseOutputAudioDoneEvent,
        EventKind.TRANSCRIPT_DELTA: ga.ResponseOutputAudioTranscriptDeltaEvent,
        EventKind.TRANSCRIPT_DONE: ga.ResponseOutputAudioTranscriptDoneEvent,
    }
    also_read = {_wire_type(ga.ConversationItemCreatedEvent): EventKind.ITEM_ADDED}  # older GA servers
    return _dialect_of("ga", ga, ga_events, assistant_part_prefix="output_", also_read=also_read)


def __getattr__(name: str) -> Any:
    """``GA``: the GA dialect, built on first use (PEP 562)."""
    if name == "GA":
        return _ga_dialect()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def dialect(name: Shape) -> Dialect:
    """``BETA`` or ``GA`` by name."""
    return _ga_dialect() if name == "ga" else BETA
