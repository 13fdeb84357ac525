"""WAV in both directions: wrapping PCM16 for an upload, and unwrapping a WAV body while it streams in.

A streamed WAV (OpenAI's ``response_format: "wav"``) announces a size it cannot know yet (0 or
0xFFFFFFFF), so ``WavStreamReader`` reads the ``fmt `` chunk, then treats everything after the ``data``
header as samples, whatever size it claims. Only integer PCM16 is accepted; stereo is mixed down to mono.
"""

from __future__ import annotations

import io
import struct
import wave

import numpy as np

__all__ = ["WavFormatError", "WavStreamReader", "pcm16_to_wav"]

_HEADER_LIMIT = 1 << 16  # a header larger than this is not a WAV we can stream
_PCM = 1
_EXTENSIBLE = 0xFFFE


class WavFormatError(ValueError):
    """The body is not a PCM16 WAV (the engine turns this into a ``BackendProtocolError``)."""


def pcm16_to_wav(pcm16: bytes, sample_rate: int) -> bytes:
    """A mono PCM16 WAV file holding ``pcm16``."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm16)
    return out.getvalue()


class WavStreamReader:
    """Feeds on WAV bytes as they arrive and returns the mono PCM16 samples in them.

    ``sample_rate`` is known once the header has been read (``feed`` returned samples, or ``b""`` after
    the header). Output is always whole samples; a trailing partial frame waits for the next ``feed``.
    """

    def __init__(self) -> None:
        self._head = bytearray()
        self._in_data = False
        self._rest = b""
        self.sample_rate: int | None = None
        self.channels = 1

    def feed(self, data: bytes) -> bytes:
        """Take the next bytes of the body; return the mono PCM16 they complete (maybe ``b""``)."""
        if not self._in_data:
            self._head += data
            if not self._parse_header():
                if len(self._head) > _HEADER_LIMIT:
                    raise WavFormatError(f"no WAV data chunk in the first {_HEADER_LIMIT} bytes")
                return b""
            data = bytes(self._head)
            self._head = bytearray()
        data = self._rest + data
        frame = 2 * self.channels
        whole = len(data) - len(data) % frame
        self._rest = data[whole:]
        samples = data[:whole]
        if self.channels == 1:
            return samples
        mixed = np.frombuffer(samples, dtype="<i2").reshape(-1, self.channels).mean(axis=1)
        return mixed.astype("<i2").tobytes()

    def _parse_header(self) -> bool:
        """Read the header from ``_head``; on success keep only what follows it there."""
        head = bytes(self._head)
        if len(head) < 12:
            return False
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise WavFormatError("the body does not start with a RIFF/WAVE header")
        offset = 12
        while len(head) >= offset + 8:
            chunk_id, size = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
            body = offset + 8
            if chunk_id == b"data":
                if self.sample_rate is None:
                    raise WavFormatError("the WAV data chunk comes before its fmt chunk")
                self._head = bytearray(head[body:])
                self._in_data = True
                return True
            if len(head) < body + size:
                return False
            if chunk_id == b"fmt ":
                self._read_fmt(head[body : body + size])
            offset = body + size + (size & 1)
        return False

    def _read_fmt(self, fmt: bytes) -> None:
        if len(fmt) < 16:
            raise WavFormatError("the WAV fmt chunk is too short")
        tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", fmt)
        if tag not in (_PCM, _EXTENSIBLE) or bits != 16 or channels not in (1, 2):
            raise WavFormatError(
                f"the WAV is format {tag}, {bits}-bit, {channels} channels; only 16-bit PCM mono or stereo "
                "can be used"
            )
        self.channels = channels
        self.sample_rate = rate
