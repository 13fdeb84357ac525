"""A browser as a pipeline's microphone and speaker, over WebRTC (``pip install "voxpipe[webrtc]"``).

- :class:`WebRTCConnection`: one browser's peer connection: answer its offer, its audio, a data channel.
- :class:`WebRTCTransport` (with :class:`WebRTCParams`): the input and output processors over it.

``voxpipe web`` serves a page that uses it (see :mod:`voxpipe.web`).
"""

from voxpipe.transports.webrtc.connection import ConnectionState, WebRTCConnection
from voxpipe.transports.webrtc.params import WebRTCParams
from voxpipe.transports.webrtc.transport import WebRTCTransport

__all__ = ["ConnectionState", "WebRTCConnection", "WebRTCParams", "WebRTCTransport"]
