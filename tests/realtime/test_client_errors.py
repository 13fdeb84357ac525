"""Error classification: server error events and close codes sorted into recoverable, fatal, rotate."""

from __future__ import annotations

from typing import Any

import pytest

from voxpipe.errors import ConnectionFailedError, OperationTimeoutError, ServerError
from voxpipe.realtime import ErrorEvent, parse_server_event
from voxpipe.realtime.client import (
    ConnectTimeoutError,
    MalformedFrameError,
    RealtimeServerError,
    ReconnectExhaustedError,
    SessionExpiredError,
    classify_error,
)
from voxpipe.realtime.client._errors import CloseAction, classify_close


def error_event(code: str | None, type_: str = "invalid_request_error", message: str = "") -> dict[str, Any]:
    inner = {"type": type_, "code": code, "message": message}
    return {"type": "error", "event_id": "event_1", "error": inner}


@pytest.mark.parametrize(
    "code",
    [
        "invalid_api_key",
        "missing_api_key",
        "insufficient_quota",
        "account_deactivated",
        "billing_hard_limit_reached",
        "beta_api_shape_disabled",
        "invalid_model",
        "missing_model",
        "model_not_found",
        "unsupported_protocol",
    ],
)
def test_fatal_codes(code: str) -> None:
    verdict = classify_error(error_event(code))
    assert verdict.fatal and not verdict.recoverable and not verdict.rotate and not verdict.retryable
    assert verdict.code == code


@pytest.mark.parametrize(
    "code",
    [
        "response_cancel_not_active",
        "conversation_already_has_active_response",
        "invalid_value",
        "invalid_request",
        "unknown_parameter",
        "invalid_event",
        "invalid_json",
        "integer_below_min_value",
        "decimal_above_max_value",
        "string_above_max_length",
        "input_audio_buffer_commit_empty",
        "item_retrieve_invalid_item_id",
        "item_truncate_invalid_item_id",
        "a_code_nobody_has_seen_yet",
    ],
)
def test_recoverable_codes(code: str) -> None:
    verdict = classify_error(error_event(code))
    assert verdict.recoverable and not verdict.fatal


def test_session_expired_is_fatal_and_rotates() -> None:
    verdict = classify_error(error_event("session_expired", message="Your session hit the maximum duration"))
    assert verdict.fatal and verdict.rotate


@pytest.mark.parametrize(
    ("message", "fatal"),
    [
        ("Missing bearer or basic authentication in header", True),
        ("Audio content of 2700ms is already shorter than 3207ms", False),
        ("Only model output audio messages can be truncated", False),
    ],
)
def test_code_null_errors_are_read_from_the_message(message: str, fatal: bool) -> None:
    assert classify_error(error_event(None, message=message)).fatal is fatal


@pytest.mark.parametrize(
    ("type_", "fatal", "retryable"),
    [
        ("authentication_error", True, False),
        ("server_error", False, True),
        ("invalid_request_error", False, False),
    ],
)
def test_type_decides_when_code_is_unknown(type_: str, fatal: bool, retryable: bool) -> None:
    verdict = classify_error(error_event(None, type_=type_))
    assert (verdict.fatal, verdict.retryable) == (fatal, retryable)


def test_typed_event_and_inner_object_are_accepted() -> None:
    typed = parse_server_event(error_event("invalid_api_key", message="Incorrect API key"))
    assert isinstance(typed, ErrorEvent)
    from_typed = classify_error(typed)
    assert from_typed.fatal and from_typed.event_id is None and from_typed.message == "Incorrect API key"
    inner = classify_error({"type": "invalid_request_error", "code": "invalid_value", "event_id": "c1"})
    assert inner.recoverable and inner.event_id == "c1"


@pytest.mark.parametrize(
    ("code", "reason", "action"),
    [
        (1000, "", CloseAction.RECONNECT),
        (1001, "going away", CloseAction.RECONNECT),
        (1001, "Your session hit the maximum duration of 60 minutes.", CloseAction.ROTATE),
        (1006, "", CloseAction.RECONNECT),
        (None, "", CloseAction.RECONNECT),
        (1011, "internal error", CloseAction.RECONNECT),
        (1008, "policy", CloseAction.FATAL),
        (1009, "too big", CloseAction.FATAL),
        (3000, "invalid_request_error.invalid_api_key", CloseAction.FATAL),
        (4000, "invalid_request_error.beta_api_shape_disabled", CloseAction.FATAL),
        (4999, "", CloseAction.FATAL),
        (1000, "invalid_request_error.session_expired", CloseAction.ROTATE),
    ],
)
def test_close_codes(code: int | None, reason: str, action: CloseAction) -> None:
    assert classify_close(code, reason).action is action


def test_close_reason_gives_the_error_code() -> None:
    assert classify_close(3000, "invalid_request_error.invalid_api_key").error_code == "invalid_api_key"


def test_exception_tree() -> None:
    assert issubclass(ConnectTimeoutError, ConnectionFailedError)
    assert issubclass(ConnectTimeoutError, OperationTimeoutError)
    assert issubclass(ConnectTimeoutError, TimeoutError)
    assert issubclass(ReconnectExhaustedError, ConnectionFailedError)
    assert issubclass(SessionExpiredError, RealtimeServerError)
    assert issubclass(RealtimeServerError, ServerError)
    assert issubclass(MalformedFrameError, ServerError)


def test_public_names_resolve() -> None:
    import voxpipe.realtime.client as client_module

    for name in client_module.__all__:
        assert getattr(client_module, name) is not None
