"""The audio codecs of a session, built on first use so that importing the service loads neither numpy
nor soxr (``import voxpipe.services.openai_realtime_beta`` stays fast)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from voxpipe.services._realtime_service.audio import InputAudioEncoder, OutputAudioDecoder

__all__ = ["decoder", "encoder"]


def encoder(audio_format: str | None, continues: InputAudioEncoder | None = None) -> InputAudioEncoder:
    """An input encoder for the session's ``input_audio_format`` (replacing ``continues``, if given)."""
    from voxpipe.services._realtime_service.audio import InputAudioEncoder

    return InputAudioEncoder(audio_format, continues=continues)


def decoder(audio_format: str | None) -> OutputAudioDecoder:
    """An output decoder for the session's ``output_audio_format``."""
    from voxpipe.services._realtime_service.audio import OutputAudioDecoder

    return OutputAudioDecoder(audio_format)
