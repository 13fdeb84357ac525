"""The server's conversation as the service knows it, and the edits that bring it in step with a context.

The realtime server holds the real conversation; the pipeline holds a local copy (the context the
aggregators keep). Two moments need them compared:

* **a context change** (``LLMMessagesUpdateFrame``, a later ``LLMContextFrame``): the server must end up
  with exactly the new history, so the items that are gone are deleted and the new ones created;
* **a new session** (after a drop or an expiry): the server's conversation is empty, so the whole
  history is created again.

Both are one plan: keep the longest common prefix, delete the server's items after it, create the wanted
items after it. Items are compared by what a reader of the conversation sees: kind, role and text for
messages, the call id for function calls and their outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voxpipe.realtime import new_event_id

__all__ = ["ConversationPlan", "item_signature", "plan_conversation", "wanted_items"]


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _text(item: Any) -> str:
    parts = []
    for part in _get(item, "content") or ():
        value = _get(part, "text") or _get(part, "transcript")
        if value:
            parts.append(str(value))
    return "".join(parts).strip()


def item_signature(item: Any) -> tuple[str | None, ...]:
    """What identifies an item's meaning (a wire dict or a parsed conversation item)."""
    kind = _get(item, "type")
    if kind == "message":
        return ("message", _get(item, "role"), _text(item))
    if kind in ("function_call", "function_call_output"):
        return (kind, _get(item, "call_id"))
    return (kind, _get(item, "id"))


def wanted_items(items: Iterable[dict[str, Any]], *, skip_outputs: set[str]) -> list[dict[str, Any]]:
    """The items a server should hold for a history, given as wire dicts.

    Args:
        items: the history as conversation items (``messages_to_items``).
        skip_outputs: call ids whose ``function_call_output`` must not be sent from the history: the
            call is still running (the context holds a placeholder) or its output is already on its way.
    """
    return [
        item
        for item in items
        if not (item.get("type") == "function_call_output" and item.get("call_id") in skip_outputs)
    ]


@dataclass
class ConversationPlan:
    """The edits that turn the server's conversation into the wanted one.

    Attributes:
        delete: ids of the server's items to delete, in order.
        create: items to create, in order, each with an id of ours (so the next plan knows them
            before the server confirms them).
    """

    delete: list[str] = field(default_factory=list)
    create: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.delete or self.create)


def plan_conversation(server: Mapping[str, Any], wanted: list[dict[str, Any]]) -> ConversationPlan:
    """Plan the edits from ``server`` (item id to item, in conversation order) to ``wanted``.

    Args:
        server: the server's items as the service knows them.
        wanted: the wanted items (wire dicts, without ids).
    """
    current = list(server.items())
    keep = 0
    while (
        keep < len(current)
        and keep < len(wanted)
        and item_signature(current[keep][1]) == item_signature(wanted[keep])
    ):
        keep += 1
    plan = ConversationPlan(delete=[item_id for item_id, _ in current[keep:]])
    for item in wanted[keep:]:
        plan.create.append({**item, "id": new_event_id("item_")})
    return plan
