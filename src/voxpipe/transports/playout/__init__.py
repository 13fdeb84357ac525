"""The playout engine: one real-time clock for every audio output (and the pacing of file input).

Public API:

- :class:`Playout` and :class:`PlayoutParams`: the engine. It paces audio to a sink in chunks
  (``chunk_ms``), optionally ``lead_ms`` ahead of the listener, keeps the position heard, announces the
  bot's speaking, handles interruption (drop, clear, report the position), drains on end and bounds its
  buffer (``write`` waits while it is full). See ``voxpipe.transports.playout._engine`` for the details.
- :class:`AudioSink`: what an output implements: ``write(pcm)`` (and optionally ``clear()``, ``aclose()``).
- :class:`AudioOutputTransport`: the output processor over the engine; a new output is a subclass whose
  :meth:`~AudioOutputTransport.open_sink` returns its sink.
- :class:`PlayoutListener`: what the engine tells its owner (speaking, ticks, interruption position).
- :class:`ListenerClock`: the listener's timeline; input transports that pace audio use it too.
- :class:`PlayoutResampler`: any rate and channel count to the mono playout rate.
"""

from voxpipe.transports.playout._clock import ListenerClock
from voxpipe.transports.playout._engine import Playout, PlayoutListener, PlayoutParams
from voxpipe.transports.playout._output import AudioOutputTransport, PlayoutResampler
from voxpipe.transports.playout._sink import AudioSink

__all__ = [
    "AudioOutputTransport",
    "AudioSink",
    "ListenerClock",
    "Playout",
    "PlayoutListener",
    "PlayoutParams",
    "PlayoutResampler",
]
