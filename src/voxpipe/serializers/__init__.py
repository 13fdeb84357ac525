"""Wire formats for transports: frames to WebSocket messages and back.

- ``base``: :class:`FrameSerializer` (the interface) and :class:`MalformedMessageError`.
- ``twilio``: :class:`TwilioFrameSerializer`, Twilio Media Streams (μ-law 8 kHz in JSON).
- ``raw_pcm``: :class:`RawPCMSerializer`, bare PCM16 binary messages.
- ``frames``: the frames only telephone formats make (DTMF digits, playback marks).

Serializers import only ``voxpipe.frames``, ``voxpipe.audio`` and ``voxpipe.errors``.
"""

from voxpipe.serializers.base import FrameSerializer, MalformedMessageError
from voxpipe.serializers.frames import DTMF_DIGITS, InputDTMFFrame, MarkReachedFrame, OutputMarkFrame
from voxpipe.serializers.raw_pcm import RawPCMSerializer
from voxpipe.serializers.twilio import TWILIO_SAMPLE_RATE, TwilioFrameSerializer

__all__ = [
    "DTMF_DIGITS",
    "TWILIO_SAMPLE_RATE",
    "FrameSerializer",
    "InputDTMFFrame",
    "MalformedMessageError",
    "MarkReachedFrame",
    "OutputMarkFrame",
    "RawPCMSerializer",
    "TwilioFrameSerializer",
]
