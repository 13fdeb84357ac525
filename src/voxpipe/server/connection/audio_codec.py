"""Audio in and out of a session: base64 wire audio <-> PCM16 at 24 kHz, and engine rates <-> 24 kHz.

Input: ``input_audio_buffer.append`` carries base64 PCM16 at 24 kHz, or G.711 μ-law/A-law at 8 kHz; the
session stores everything as PCM16 24 kHz. Output: TTS audio at the engine's rate becomes the session's
output format. Stream resamplers keep their filter state across chunks (no clicks at chunk edges).
"""

from __future__ import annotations

import base64
import binascii

from voxpipe.audio import StreamResampler, alaw_decode, alaw_encode, resample, ulaw_decode, ulaw_encode
from voxpipe.server.connection.errors import ProtocolError
from voxpipe.server.connection.settings import AudioCodec

__all__ = ["AudioDecoder", "AudioEncoder", "decode_base64", "encode_clip"]

_RATE = 24000


def decode_base64(data: str, param: str) -> bytes:
    """Strict base64 decoding; anything else is a ``ProtocolError`` (code ``invalid_audio``)."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(
            f"Invalid '{param}': not valid base64 ({len(data)} characters).",
            code="invalid_audio",
            param=param,
        ) from None


class AudioDecoder:
    """Turns one session's appended audio into PCM16 24 kHz, whatever ``input_audio_format`` says."""

    def __init__(self, codec: AudioCodec) -> None:
        self.codec = codec
        self._resampler = None if codec is AudioCodec.PCM16 else StreamResampler(8000, _RATE, quality="QQ")

    def decode(self, raw: bytes) -> bytes:
        """Decode one append's bytes.

        Raises:
            ProtocolError: PCM16 audio with an odd number of bytes.
        """
        if self.codec is AudioCodec.PCM16:
            if len(raw) % 2:
                raise ProtocolError(
                    f"Invalid 'audio': PCM16 audio must be whole 2-byte samples, got {len(raw)} bytes.",
                    code="invalid_audio",
                    param="audio",
                )
            return raw
        linear = ulaw_decode(raw) if self.codec is AudioCodec.ULAW else alaw_decode(raw)
        assert self._resampler is not None
        return self._resampler.process(linear)


class AudioEncoder:
    """Turns PCM16 at ``in_rate`` (a TTS engine's) into the session's output format.

    ``pcm24k`` returns the 24 kHz PCM16 of the same audio, which the conversation stores.
    """

    def __init__(self, in_rate: int, codec: AudioCodec) -> None:
        self.codec = codec
        self._to_24k = StreamResampler(in_rate, _RATE, quality="QQ") if in_rate != _RATE else None
        self._to_8k = StreamResampler(_RATE, 8000, quality="QQ") if codec is not AudioCodec.PCM16 else None

    def encode(self, pcm: bytes) -> tuple[bytes, bytes]:
        """Return ``(wire bytes, pcm16 24 kHz)`` for one chunk of engine audio."""
        pcm24k = self._to_24k.process(pcm) if self._to_24k is not None else pcm
        return self._wire(pcm24k), pcm24k

    def flush(self) -> tuple[bytes, bytes]:
        """What the resamplers still hold, at the end of the audio."""
        pcm24k = self._to_24k.flush() if self._to_24k is not None else b""
        wire = self._wire(pcm24k)
        if self._to_8k is not None:
            tail = self._to_8k.flush()
            wire += ulaw_encode(tail) if self.codec is AudioCodec.ULAW else alaw_encode(tail)
        return wire, pcm24k

    def _wire(self, pcm24k: bytes) -> bytes:
        if self._to_8k is None:
            return pcm24k
        narrow = self._to_8k.process(pcm24k)
        return ulaw_encode(narrow) if self.codec is AudioCodec.ULAW else alaw_encode(narrow)


def encode_clip(pcm24k: bytes, codec: AudioCodec) -> bytes:
    """Encode a whole PCM16 24 kHz clip (for ``conversation.item.retrieved``)."""
    if codec is AudioCodec.PCM16:
        return pcm24k
    narrow = resample(pcm24k, _RATE, 8000)
    return ulaw_encode(narrow) if codec is AudioCodec.ULAW else alaw_encode(narrow)
