"""This machine's microphone and speaker (``sounddevice``; ``pip install "voxpipe[audio]"``).

:class:`LocalAudioTransport` and :class:`LocalAudioTransportParams` live in
:mod:`voxpipe.transports.local.audio`; the sound card itself in :mod:`voxpipe.transports.local.devices`.
"""
