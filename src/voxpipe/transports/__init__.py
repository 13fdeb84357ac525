"""Transports: where audio enters and leaves a pipeline.

:class:`UserSpeechDetector` is what an input transport uses to run a VAD analyzer on its audio; a transport
written outside this package (``voxpipe web``'s WebSocket fallback, your own) uses it the same way.
"""

from voxpipe.transports._vad_input import UserSpeechDetector

__all__ = ["UserSpeechDetector"]
