"""A WebSocket client on a bare non-blocking socket, for peers no client library lets us be.

It does the handshake by hand and then only does what the test says: it can send without ever reading
(with a tiny receive buffer, so the server's sends block at once), never answer a ping, or read just the
frames a test wants to see.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from typing import Any
from urllib.parse import urlsplit

from websockets.frames import Close, Frame, Opcode


class RawSocketClient:
    """One WebSocket connection on a plain socket (see the module docstring)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        receive_buffer: int | None = 4096,
        headers: dict[str, str] | None = None,
        subprotocols: list[str] | None = None,
    ) -> RawSocketClient:
        """Connect and shake hands; raise ``ConnectionError`` with the status line if refused."""
        client, status, _ = await cls.handshake(
            url, receive_buffer=receive_buffer, headers=headers, subprotocols=subprotocols
        )
        if " 101 " not in status:
            client.close()
            raise ConnectionError(status)
        return client

    @classmethod
    async def handshake(
        cls,
        url: str,
        *,
        receive_buffer: int | None = 4096,
        headers: dict[str, str] | None = None,
        subprotocols: list[str] | None = None,
    ) -> tuple[RawSocketClient, str, dict[str, str]]:
        """Send the upgrade request; return the client, the status line and the response headers."""
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (host, port))
        client = cls(sock)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
            "Sec-WebSocket-Version: 13",
        ]
        if subprotocols:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in client._buffer:
            chunk = await loop.sock_recv(sock, 4096)
            if not chunk:
                break
            client._buffer += chunk
        head, _, client._buffer = client._buffer.partition(b"\r\n\r\n")
        status, *header_lines = head.decode("latin-1").split("\r\n")
        response_headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            response_headers[name.strip().lower()] = value.strip()
        return client, status, response_headers

    async def send(self, event: dict[str, Any] | str) -> None:
        """Send one text frame (masked, as a client must)."""
        text = json.dumps(event) if isinstance(event, dict) else event
        await self.send_raw(Frame(Opcode.TEXT, text.encode()).serialize(mask=True))

    async def send_raw(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def recv_frame(self, timeout: float = 5.0) -> Frame | None:
        """The next frame from the server, or None at end of stream (not answering pings)."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                frame = self._parse()
                if frame is not None:
                    return frame
                try:
                    chunk = await loop.sock_recv(self.sock, 65536)
                except ConnectionResetError:
                    return None
                if not chunk:
                    return None
                self._buffer += chunk

    async def recv_close(self, timeout: float = 10.0) -> Close | None:
        """Read (and drop) frames until the server's close frame; None if the stream ended without one."""
        while (frame := await self.recv_frame(timeout)) is not None:
            if frame.opcode is Opcode.CLOSE:
                return Close.parse(frame.data)
        return None

    def _parse(self) -> Frame | None:
        data = self._buffer
        if len(data) < 2:
            return None
        length = data[1] & 0x7F
        offset = 2
        if length == 126:
            if len(data) < 4:
                return None
            length, offset = int.from_bytes(data[2:4], "big"), 4
        elif length == 127:
            if len(data) < 10:
                return None
            length, offset = int.from_bytes(data[2:10], "big"), 10
        if len(data) < offset + length:
            return None
        self._buffer = data[offset + length :]
        return Frame(Opcode(data[0] & 0x0F), data[offset : offset + length], fin=bool(data[0] & 0x80))

    def close(self) -> None:
        self.sock.close()
