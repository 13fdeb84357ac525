"""One backend's configuration and connection pool, and the boundary where ``httpx`` errors become ours.

The three HTTP engines share this: a ``BackendConfig`` (base URL, model, API key, timeouts) and a
``BackendClient`` that owns an ``httpx.AsyncClient``. The pool is opened lazily in the running event loop
(an ``AsyncClient``'s connections belong to the loop that opened them), so building an engine is cheap and
does no I/O, as the registry requires.

Secrets: the API key is only ever put in the ``Authorization`` header (which ``httpx`` masks in its own
reprs). ``BackendConfig`` leaves it out of its repr, log lines give sizes and URLs without a
``user:password@`` part, and every message built from a backend's answer goes through ``redact``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from voxpipe.errors import VoxpipeUsageError
from voxpipe.server.engines.http.errors import (
    BackendConnectionError,
    BackendError,
    BackendProtocolError,
    BackendStatusError,
    BackendTimeoutError,
    status_rule,
)

__all__ = ["BackendClient", "BackendConfig", "display_url"]

logger = logging.getLogger(__name__)

_ERROR_BODY_LIMIT = 16_384
_MESSAGE_LIMIT = 300


def display_url(url: str) -> str:
    """``url`` without a ``user:password@`` part and without a trailing slash: safe for logs and errors."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """Where one backend is and how long to wait for it.

    Attributes:
        role: ``"LLM"``, ``"STT"`` or ``"TTS"``; names the backend in messages and its environment
            variables (``VOXPIPE_<role>_BASE_URL`` ...).
        base_url: the API root, as OpenAI clients take it (``http://127.0.0.1:8080/v1``).
        model: the model name sent in each request, or None where the engine can do without one.
        api_key: sent as ``Authorization: Bearer ...``; None sends no header (local servers need none).
        timeout_s: longest wait for the next bytes of an answer (and for sending a request). For a
            streamed answer this bounds the time to the first token and every gap after it.
        connect_timeout_s: longest wait for a TCP (and TLS) connection.
    """

    role: str
    base_url: str
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    connect_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if urlsplit(self.base_url).scheme not in ("http", "https") or not urlsplit(self.base_url).netloc:
            raise VoxpipeUsageError(
                f"{self.env_prefix}BASE_URL must be an http(s) URL such as http://127.0.0.1:8080/v1, "
                f"got {display_url(self.base_url)!r}"
            )
        key = self.api_key
        if key is not None and (not key or not key.isascii() or not key.isprintable() or " " in key):
            # said without the key: a header h11 refuses would quote it in the exception chain
            raise VoxpipeUsageError(
                f"{self.env_prefix}API_KEY is empty or holds spaces, line breaks or non-ASCII characters; "
                "copy the key again"
            )
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise VoxpipeUsageError(
                f"timeouts must be positive, got timeout_s={self.timeout_s} and "
                f"connect_timeout_s={self.connect_timeout_s}"
            )

    @property
    def env_prefix(self) -> str:
        """``VOXPIPE_<role>_``: the prefix of this backend's environment variables."""
        return f"VOXPIPE_{self.role}_"


class BackendClient:
    """The connection pool of one backend and the error boundary around every request to it.

    Args:
        config: where the backend is; see ``BackendConfig``.
    """

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.url = display_url(config.base_url)
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"BackendClient({self.config.role} at {self.url}, model={self.config.model!r})"

    def _http(self) -> httpx.AsyncClient:
        """The pool of the running loop, opened on first use (a new loop gets a new pool)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            if self._client is not None:
                logger.debug("%s backend: used from a new event loop; opening a new pool", self.config.role)
            headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
            self._client = httpx.AsyncClient(
                base_url=self.config.base_url.rstrip("/") + "/",
                headers=headers,
                timeout=httpx.Timeout(self.config.timeout_s, connect=self.config.connect_timeout_s),
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the pool (a pool of another, finished loop is only dropped). Safe to call twice."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()
        self._loop = None

    def redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***`` (for messages built from a backend's answer)."""
        key = self.config.api_key
        return text.replace(key, "***") if key else text

    @contextlib.asynccontextmanager
    async def boundary(self, what: str) -> AsyncIterator[None]:
        """Turn ``httpx`` errors raised inside into ``BackendError``s that say what to do (``from exc``).

        ``what`` names the work (``"streaming a chat completion"``) for the message. Most specific first:
        timeouts, then failed connections, then other transport failures, then anything else of httpx.
        """
        role, url, env = self.config.role, self.url, self.config.env_prefix
        try:
            yield
        except httpx.TimeoutException as exc:
            raise BackendTimeoutError(
                f"the {role} backend at {url} {self._timeout_phrase(exc)} while {what}; check that it is "
                "running and not overloaded, or raise the timeout (timeout_s / connect_timeout_s)",
                code="backend_timeout",
                retryable=True,
            ) from exc
        except httpx.ConnectError as exc:
            raise BackendConnectionError(
                f"could not connect to the {role} backend at {url} while {what} "
                f"({self.redact(str(exc)) or type(exc).__name__}); check that it is running and that "
                f"{env}BASE_URL points at it",
                code="backend_unreachable",
                retryable=True,
            ) from exc
        except httpx.TransportError as exc:
            raise BackendConnectionError(
                f"the connection to the {role} backend at {url} failed while {what} "
                f"({type(exc).__name__}); retry, and read the backend's logs if it keeps failing",
                code="backend_connection_lost",
                retryable=True,
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendProtocolError(
                f"the {role} backend at {url} sent an answer that could not be read while {what} "
                f"({type(exc).__name__}); check that it is an OpenAI-compatible server",
                code="backend_bad_response",
            ) from exc

    def _timeout_phrase(self, exc: httpx.TimeoutException) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return f"could not be connected to within {self.config.connect_timeout_s:g} s"
        if isinstance(exc, httpx.PoolTimeout):
            return f"had no free connection within {self.config.timeout_s:g} s"
        if isinstance(exc, httpx.WriteTimeout):
            return f"did not take the request within {self.config.timeout_s:g} s"
        return f"sent nothing for {self.config.timeout_s:g} s"

    async def check(self, response: httpx.Response, what: str) -> None:
        """Raise a ``BackendStatusError`` for an HTTP error status, quoting the backend's own message."""
        if response.status_code < 400:
            return
        body = bytearray()
        async for piece in response.aiter_bytes():
            body += piece
            if len(body) >= _ERROR_BODY_LIMIT:
                break
        rule = status_rule(response.status_code)
        said = self.redact(_backend_message(bytes(body)))
        retry_after = response.headers.get("retry-after")
        hint = rule.hint.format(env=self.config.env_prefix, model=self.config.model)
        logger.debug(
            "%s backend: HTTP %d while %s (%d bytes)", self.config.role, response.status_code, what, len(body)
        )
        raise BackendStatusError(
            f"the {self.config.role} backend at {self.url} answered HTTP {response.status_code} while {what}"
            + (f" ({said})" if said else "")
            + (f", retry after {retry_after[:20]} s" if retry_after else "")
            + f": {hint}",
            code=rule.code,
            recoverable=rule.recoverable,
            retryable=rule.retryable,
            status=response.status_code,
        )

    @contextlib.asynccontextmanager
    async def stream(self, method: str, path: str, what: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """Send a request and hold its response open for streaming; errors are ours, in and after it.

        Leaving the block (also by cancellation or ``GeneratorExit``) closes the response, and with it the
        connection when the body was not read to the end: the backend sees the client go away.
        """
        async with self.boundary(what), self._http().stream(method, path, **kwargs) as response:
            await self.check(response, what)
            yield response

    async def request_json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """Send a request and return its decoded JSON body (or the text, for a non-JSON answer)."""
        async with self.stream(method, path, what, **kwargs) as response:
            body = await response.aread()
        try:
            return json.loads(body)
        except ValueError:
            return body.decode("utf-8", "replace")

    async def probe(self) -> None:
        """Ask for ``models`` once and log how it went; never raises (for ``warm_up``).

        A wrong key or URL is then reported when the server starts, not at the first answer.
        """
        try:
            await self.request_json("GET", "models", "listing its models")
        except BackendError as exc:
            if exc.status in (404, 405):  # no models list there: nothing to learn
                logger.info("%s backend at %s has no models list; not checked", self.config.role, self.url)
            else:
                logger.warning("%s backend check failed: %s", self.config.role, exc)
        else:
            logger.info("%s backend at %s answers", self.config.role, self.url)


def _backend_message(body: bytes) -> str:
    """The backend's own error text: OpenAI's ``error.message``, FastAPI's ``detail``, or the text."""
    text = body.decode("utf-8", "replace")
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, Mapping):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, Mapping):
            error = error.get("message", error)
        text = "" if error is None else str(error)
    lines = text.strip().splitlines()
    first = lines[0].strip() if lines else ""
    return first if len(first) <= _MESSAGE_LIMIT else first[: _MESSAGE_LIMIT - 3] + "..."
