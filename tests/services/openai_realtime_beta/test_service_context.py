"""The conversation on the server follows the context: history as items, updates and resets as edits."""

from __future__ import annotations

import asyncio

from voxpipe.frames.frames import LLMContextFrame, LLMMessagesUpdateFrame
from voxpipe.services.openai_realtime_beta import OpenAIRealtimeLLMContext
from voxpipe.testing import ANY, expect, send, wait

from .rig import audio_turn, rig


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> dict:
    return {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}


HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"sky": "sunny"}'},
    {"role": "user", "content": "And tomorrow?"},
]


async def test_history_goes_as_one_item_per_message_with_its_role() -> None:
    # Packing the history into one message (as some frameworks do) fails here: six items are expected,
    # each with its own role and kind, in order.
    script = [
        expect("session.update"),
        expect(
            "conversation.item.create",
            item={
                "type": "message",
                "role": "system",
                "content": [{"type": "input_text", "text": "Be brief."}],
                "id": ANY,
            },
        ),
        expect("conversation.item.create", item={**user("What is the capital of France?"), "id": ANY}),
        expect("conversation.item.create", item={**assistant("Paris."), "id": ANY}),
        expect(
            "conversation.item.create",
            item={
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
                "id": ANY,
            },
        ),
        expect(
            "conversation.item.create",
            item={
                "type": "function_call_output",
                "call_id": "call_1",
                "output": '{"sky": "sunny"}',
                "id": ANY,
            },
        ),
        expect("conversation.item.create", item={**user("And tomorrow?"), "id": ANY}),
        expect("response.create"),
    ]
    async with rig(script) as r:
        context = OpenAIRealtimeLLMContext(messages=HISTORY)
        await r.task.queue_frame(LLMContextFrame(context=context))
        await r.server.assert_done()
    creates = r.server.received("conversation.item.create")
    assert len(creates) == 6 and len({c["item"]["id"] for c in creates}) == 6


def created(item_id: str, item: dict) -> dict:
    return {
        "type": "conversation.item.created",
        "previous_item_id": None,
        "item": {**item, "id": item_id, "status": "completed"},
    }


async def test_a_messages_update_replaces_the_server_conversation() -> None:
    script = [
        expect("session.update"),
        expect("conversation.item.create", item={**user("one"), "id": ANY}),
        expect("conversation.item.create", item={**user("two"), "id": ANY}),
        expect("response.create"),
        # no response comes: the update below waits for nothing
        expect("conversation.item.delete", item_id=ANY),
        expect("conversation.item.create", item={**user("deux"), "id": ANY}),
        expect("conversation.item.create", item={**user("trois"), "id": ANY}),
    ]
    async with rig(script) as r:
        context = OpenAIRealtimeLLMContext(messages=[{"role": "user", "content": "one"}])
        context.add_message({"role": "user", "content": "two"})
        await r.task.queue_frame(LLMContextFrame(context=context))
        await r.wait_received("response.create")
        r.service._responses.reset()  # (the script starts no response; the request is not pending)
        first_ids = list(r.service.conversation_item_ids)
        update = [
            {"role": "user", "content": "one"},
            {"role": "user", "content": "deux"},
            {"role": "user", "content": "trois"},
        ]
        await r.task.queue_frame(LLMMessagesUpdateFrame(messages=update))
        await r.server.assert_done()
    (deleted,) = r.server.received("conversation.item.delete")
    assert deleted["item_id"] == first_ids[1]  # "one" is kept, "two" is gone
    assert r.service.conversation_item_ids[0] == first_ids[0] and len(r.service.conversation_item_ids) == 3


async def test_a_context_reset_waits_for_the_active_response() -> None:
    turn = audio_turn(item="item_a1", response="resp_1")
    script = [
        expect("session.update"),
        expect("conversation.item.create", item={**user("hi"), "id": ANY}),
        expect("response.create"),
        send(turn[0]),  # response.created: a response is active from here
        wait(0.5),  # the context is reset meanwhile: nothing may reach the server yet
        *[send(event) for event in turn[1:]],
        expect("conversation.item.delete", item_id=ANY),
        expect("conversation.item.delete", item_id="item_a1"),
        expect("conversation.item.create", item={**user("a new start"), "id": ANY}),
    ]
    async with rig(script) as r:
        await r.task.queue_frame(
            LLMContextFrame(context=OpenAIRealtimeLLMContext(messages=[{"role": "user", "content": "hi"}]))
        )
        await r.wait_received("response.create")
        fresh = OpenAIRealtimeLLMContext(messages=[{"role": "user", "content": "a new start"}])
        await r.task.queue_frame(LLMContextFrame(context=fresh))
        async with asyncio.timeout(5):
            while not r.service._sync_pending:  # held back: a response is active
                await asyncio.sleep(0.01)
        await r.server.assert_done()
    assert not r.service._sync_pending
