"""Keeping keys out of the server's log, at every level, uvicorn's and websockets' lines included.

Why a filter and not care at each call site: voxpipe's own log lines never carry a key, but the libraries
under the server do. At debug level websockets (through uvicorn, on the ``uvicorn.error`` logger) logs
every handshake header (``Authorization: Bearer …``, the ``openai-insecure-api-key.…`` subprotocol,
``api-key``), and uvicorn logs request paths whose query may hold ``?api_key=…``. A client may present a
*wrong* key too, which no list of known secrets contains, so redaction works by shape as well:

* header values of ``Authorization``, ``api-key`` and ``Sec-WebSocket-Protocol``-borne keys;
* ``Bearer``/``Basic`` credentials, ``sk-…``/``ek_…``-shaped keys, ``key=``/``token=`` query values
  (``voxpipe.realtime.client.redact``);
* the server's own key, wherever it appears.

:class:`RedactingFilter` rewrites a record's message (and the text of its traceback) before any handler
formats it. :func:`install_log_redaction` puts it on the loggers the server's libraries write to (a
logger's filters see every record made there, whatever the handlers) and on the root logger's handlers
(they see records propagated from everywhere else).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from voxpipe.realtime.client import redact

__all__ = ["LIBRARY_LOGGERS", "RedactingFilter", "install_log_redaction"]

LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "websockets", "websockets.server")
"""Loggers the server's libraries write to directly (a filter on a logger only sees its own records)."""

_HEADER_LINE = re.compile(r"(?im)^([<>]?\s*(?:authorization|api-key|x-api-key|cookie)\s*:\s*)\S.*$")
_HEADER_PAIR = re.compile(
    r"(?i)(['\"](?:authorization|api-key|x-api-key|cookie)['\"]\s*[,:]\s*b?['\"])[^'\"]*(['\"])"
)
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")


def redact_line(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every key-shaped or known secret masked (see the module docstring)."""
    text = _HEADER_LINE.sub(r"\1***", text)
    text = _HEADER_PAIR.sub(r"\1***\2", text)
    text = _CREDENTIAL.sub(r"\1 ***", text)
    return redact(text, secrets)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and traceback text; never drops a record.

    Args:
        secrets: secrets known to the server (its key); masked wherever they appear.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secret for secret in secrets if secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_line(message, self._secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_line(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact_line(record.stack_info, self._secrets)
        return True


def install_log_redaction(
    secrets: Iterable[str | None] = (), *, root_handlers: bool = True
) -> RedactingFilter:
    """Put one :class:`RedactingFilter` on the library loggers and (optionally) the root's handlers.

    Safe to call again: a logger or handler gets at most one voxpipe redaction filter (the newest).

    Args:
        secrets: the server's key(s).
        root_handlers: also filter every handler of the root logger (``voxpipe serve`` does; an embedding
            program that owns its handlers may prefer not to).

    Returns:
        The filter installed.
    """
    redacting = RedactingFilter(secrets)
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    if root_handlers:
        targets += logging.getLogger().handlers
    for target in targets:
        for old in [f for f in target.filters if isinstance(f, RedactingFilter)]:
            target.removeFilter(old)
        target.addFilter(redacting)
    return redacting
