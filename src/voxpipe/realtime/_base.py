"""Base classes shared by every protocol model, beta and GA.

Why a base of our own instead of plain ``BaseModel``:

* ``extra="allow"`` everywhere: servers add fields, and a client must keep them (and re-send them
  unchanged when it echoes an object back).
* Serialisation drops what was never set (``exclude_unset``), so the wire carries only what the
  caller meant to say. Client-side settings classes (``SessionProperties``, ``ResponseProperties``)
  set ``_none_means_unset``: built in Python, ``field=None`` there means "leave as is", as in pipecat;
  elsewhere an explicit ``None`` is sent as ``null`` (servers send ``"previous_item_id": null``).
* Some fields must be sent even when they hold their default: the event
  ``type`` always, the ``event_id`` a server generates, the documented defaults of ``TurnDetection``.
  Classes list those in ``_always_send``; :meth:`ProtocolModel.__init__` marks them as set when a model
  is built in Python. Models built by parsing are left alone, so a parsed event re-serialises to
  exactly what was received.

Why the models build lazily (``defer_build=True``): building the validators and serializers of the
~80 beta and ~90 GA models took most of ``import voxpipe.services.openai_realtime_beta`` (DESIGN.md
section 8 wants it under 0.3 s), while a session uses a handful of them. Each model now builds on its
first validation, construction or serialisation (``bench/import_time.py`` prints that deferred cost).
Building is serialised by one re-entrant lock (:meth:`ProtocolModel.model_rebuild`), so threads that
meet a model for the first time at once all get the finished validator, whatever pydantic's version
does on its own. For the same reason the protocol model modules do not use
``from __future__ import annotations``: pydantic would compile and evaluate every annotation string
at class creation (about 540 of them for the beta shape); real annotations cost the interpreter
nothing extra. ``tests/test_lazy_imports.py`` guards both.
"""

import os
import threading
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ClientEventBase",
    "ContentEventBase",
    "EventBase",
    "ProtocolModel",
    "ServerEventBase",
    "new_event_id",
]

_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Random bytes mapped onto base62 (a slight bias towards the first 8 characters does not matter for
# ids): 0.6 µs per id instead of 20 µs with secrets.choice, and servers make one per audio delta.
_BYTE_TO_ID_CHAR = bytes.maketrans(bytes(range(256)), (_ID_ALPHABET * 5)[:256].encode("ascii"))

_BUILD_LOCK = threading.RLock()
"""Held while a protocol model builds its validator and serializer (re-entrant: one model's build
may need another's)."""


def new_event_id(prefix: str = "event_") -> str:
    """Return a fresh id shaped like OpenAI's (prefix + 21 base62 characters).

    Args:
        prefix: the id family, e.g. ``"event_"``, ``"item_"``, ``"resp_"``.
    """
    return prefix + os.urandom(21).translate(_BYTE_TO_ID_CHAR).decode("ascii")


class ProtocolModel(BaseModel):
    """Root of every realtime protocol object: unknown fields are kept, never rejected.

    Subclasses name in ``_always_send`` the fields that must be serialised even when left at their
    default (see the module docstring).
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        validate_default=False,
        # Field names like ``model`` or ``object`` are wire names, not pydantic internals.
        protected_namespaces=(),
        # Validators and serializers are built on first use (see the module docstring).
        defer_build=True,
    )

    _always_send: ClassVar[frozenset[str]] = frozenset()
    _none_means_unset: ClassVar[bool] = False

    @classmethod
    def model_rebuild(
        cls,
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: Any = None,
    ) -> bool | None:
        """Build (or rebuild) the model's validator and serializer, one thread at a time.

        pydantic calls this on a deferred model's first use. Older pydantic releases let two threads
        rebuild one model at once, and a third could then validate with a half-set class; the lock
        makes the first use of every protocol model thread-safe on any supported pydantic. Schema
        generation never calls another model's ``model_rebuild`` while holding pydantic's own lock,
        so this lock is always taken first and cannot deadlock with it.
        """
        if cls.__pydantic_complete__ and not force:
            return None
        with _BUILD_LOCK:
            return super().model_rebuild(
                force=force,
                raise_errors=raise_errors,
                # One frame more than pydantic expects: this override's.
                _parent_namespace_depth=_parent_namespace_depth + 1 if _parent_namespace_depth > 0 else 0,
                _types_namespace=_types_namespace,
            )

    def __init__(self, /, **data: Any) -> None:
        super().__init__(**data)
        if self._always_send:
            self.__pydantic_fields_set__.update(self._always_send)
        if self._none_means_unset:
            self.__pydantic_fields_set__.difference_update([k for k, v in data.items() if v is None])

    # Tell pydantic this __init__ is only for Python-side construction: validation (parsing) must
    # not call it, both for speed on the hot path and so parsed models keep their exact fields_set.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def to_json(self) -> str:
        """Serialise for the wire; same as :func:`voxpipe.realtime.serialize_event`."""
        from voxpipe.realtime._serialize import serialize_event

        return serialize_event(self)

    def to_dict(self) -> dict[str, Any]:
        """Return the wire form as a JSON-compatible dict (same rules as :meth:`to_json`)."""
        result: dict[str, Any] = self.__pydantic_serializer__.to_python(
            self, mode="json", exclude_unset=True, warnings=False
        )
        return result


class EventBase(ProtocolModel):
    """One message of the realtime protocol; ``type`` names it and is always serialised."""

    _always_send: ClassVar[frozenset[str]] = frozenset({"type"})

    type: str
    """The event name, e.g. ``"response.audio.delta"``."""


class ClientEventBase(EventBase):
    """An event a client sends to the server."""

    event_id: str | None = None
    """Optional id chosen by the client; the server echoes it in ``error.event_id`` when it can."""


class ServerEventBase(EventBase):
    """An event a server sends to the client.

    Built in Python (by a server), the ``event_id`` defaults to a fresh ``event_…`` id and is
    always serialised.
    """

    _always_send: ClassVar[frozenset[str]] = frozenset({"type", "event_id"})

    event_id: str = ""
    """Unique id of this server event (``event_`` + 21 base62 characters on OpenAI)."""

    def __init__(self, /, **data: Any) -> None:
        if "event_id" not in data:
            data["event_id"] = new_event_id()
        super().__init__(**data)

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class ContentEventBase(ServerEventBase):
    """Fields shared by events about one content part of one output item."""

    response_id: str
    """The response."""
    item_id: str
    """The item."""
    output_index: int
    """Index of the item in the response's output."""
    content_index: int
    """Index of the part in the item's content."""
