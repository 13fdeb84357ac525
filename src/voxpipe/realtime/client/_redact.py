"""Keep API keys out of log lines, reprs and exception messages.

Why a module of its own: a key can leak through three doors that the client does not write itself --
websockets' debug log (it prints every handshake header), websockets' exception messages (a rejected
subprotocol carries the key in browser mode) and the URL (a user may put a key in a query string). Every
door goes through :func:`redact` or :class:`RedactingLogger`.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

__all__ = ["SENSITIVE_HEADERS", "RedactingLogger", "mask_secret", "redact"]

#: Header names whose values are never logged, whatever their content (lower case).
SENSITIVE_HEADERS = frozenset(
    {"authorization", "api-key", "sec-websocket-protocol", "openai-organization", "cookie", "set-cookie"}
)

_MIN_SHOWN_LENGTH = 16
_HEADER_LINE_FORMATS = frozenset({"> %s: %s", "< %s: %s"})
_QUERY_SECRET = re.compile(r"(?i)\b(api[-_]?key|key|token|access_token)=([^&\s]+)")
_INSECURE_KEY_PROTOCOL = re.compile(r"openai-insecure-api-key\.[^,\s'\"]+")
#: Anything shaped like an OpenAI key or ephemeral key, even one the caller did not list.
_KEY_LIKE = re.compile(r"\b(?:sk|ek)[-_][A-Za-z0-9_\-]{12,}")


def mask_secret(secret: str | None) -> str:
    """Return a form of ``secret`` that is safe to show: ``'sk-…abcd'`` or ``'***'``.

    Args:
        secret: the key or token; ``None`` when there is none.

    Returns:
        ``'None'`` for no secret, ``'***'`` for a short one (showing its tail would reveal too much of
        it), otherwise its first three and last four characters around an ellipsis.
    """
    if secret is None:
        return "None"
    if len(secret) < _MIN_SHOWN_LENGTH:
        return "***"
    return f"{secret[:3]}…{secret[-4:]}"


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace every secret in ``text`` by its masked form.

    Besides the given secrets, ``key=``/``token=`` query values, browser key subprotocols and anything
    shaped like an OpenAI key (``sk-…``, ``ek_…``) are masked, so a URL or a websockets message is safe
    even when the caller forgot to list a secret.

    Args:
        text: any text about to leave the process (a log argument, an exception message).
        secrets: the secrets known to the caller; ``None`` and empty entries are skipped.

    Returns:
        ``text`` with no secret left in it.
    """
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask_secret(secret))
    text = _INSECURE_KEY_PROTOCOL.sub("openai-insecure-api-key.***", text)
    text = _KEY_LIKE.sub(lambda m: mask_secret(m.group(0)), text)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}=***", text)


class RedactingLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger adapter handed to websockets so its debug output cannot leak a key.

    websockets logs each handshake header as ``"> %s: %s"``; values of :data:`SENSITIVE_HEADERS` are
    replaced by ``***`` and every other argument goes through :func:`redact`. Tracebacks attached with
    ``exc_info`` are dropped to their redacted one-line form, since a traceback's text cannot be edited.

    Args:
        logger: the logger to write to.
        secrets: the secrets to mask in every argument.
    """

    def __init__(self, logger: logging.Logger, secrets: Iterable[str | None] = ()) -> None:
        super().__init__(logger, {})
        self._secrets = tuple(s for s in secrets if s)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        """Return ``msg`` and ``kwargs`` unchanged; redaction happens in :meth:`log`."""
        return msg, kwargs

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Log ``msg`` with redacted arguments (see the class docstring)."""
        if not self.isEnabledFor(level):
            return
        if msg in _HEADER_LINE_FORMATS and len(args) == 2 and str(args[0]).lower() in SENSITIVE_HEADERS:
            args = (args[0], "***")
        else:
            args = tuple(self._clean(arg) for arg in args)
        exc_info = kwargs.pop("exc_info", None)
        if exc_info:
            error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
            if isinstance(exc_info, tuple):
                error = exc_info[1]
            if error is not None:
                msg = f"{msg} (%s)"
                args = (*args, redact(f"{type(error).__name__}: {error}", self._secrets))
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, msg, *args, **kwargs)

    def _clean(self, arg: object) -> object:
        """Return ``arg`` if it is a plain number, else its redacted text."""
        if isinstance(arg, int | float) or arg is None:
            return arg
        return redact(str(arg), self._secrets)
