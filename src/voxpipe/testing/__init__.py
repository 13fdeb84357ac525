"""Test helpers for voxpipe users: a scripted fake realtime server and a processor harness.

Names load on first use (a table maps each to its module), so ``import voxpipe.testing`` costs nothing
and the fake server does not pull in the pipeline core, nor ``run_test`` the WebSocket library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxpipe.testing._fake_script import (
        ANY,
        Drop,
        Expect,
        ExpectAnyOrder,
        ExpectClose,
        NextConnection,
        Raw,
        Reject,
        ScriptMismatchError,
        Send,
        Step,
        Wait,
        drop,
        expect,
        expect_any_order,
        expect_close,
        next_connection,
        raw,
        reject,
        send,
        wait,
    )
    from voxpipe.testing.fake_realtime_server import FakeRealtimeServer, Handshake, RecordedConnection
    from voxpipe.testing.harness import FrameCollector, SleepFrame, run_test

__all__ = [
    "ANY",
    "Drop",
    "Expect",
    "ExpectAnyOrder",
    "ExpectClose",
    "FakeRealtimeServer",
    "FrameCollector",
    "Handshake",
    "NextConnection",
    "Raw",
    "RecordedConnection",
    "Reject",
    "ScriptMismatchError",
    "Send",
    "SleepFrame",
    "Step",
    "Wait",
    "drop",
    "expect",
    "expect_any_order",
    "expect_close",
    "next_connection",
    "raw",
    "reject",
    "run_test",
    "send",
    "wait",
]

#: Where each public name lives. Scripted fake realtime server: fake_realtime_server.py, _fake_script.py.
#: Processor harness: harness.py.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("FakeRealtimeServer", "Handshake", "RecordedConnection"), "voxpipe.testing.fake_realtime_server"
    ),
    **dict.fromkeys(
        (
            "ANY", "Drop", "Expect", "ExpectAnyOrder", "ExpectClose", "NextConnection", "Raw", "Reject",
            "ScriptMismatchError", "Send", "Step", "Wait", "drop", "expect", "expect_any_order",
            "expect_close", "next_connection", "raw", "reject", "send", "wait",
        ),
        "voxpipe.testing._fake_script",
    ),
    # run_test harness (owned by the pipeline-core work): add its names here.
    **dict.fromkeys(("FrameCollector", "SleepFrame", "run_test"), "voxpipe.testing.harness"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'voxpipe.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
