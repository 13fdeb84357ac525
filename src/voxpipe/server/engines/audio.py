"""Caller-side audio helpers of the engine interfaces, re-exported from ``voxpipe.audio`` (one definition).

Engines declare their rate and the caller resamples (see ``base``). ``PCMResampler`` is
``voxpipe.audio.StreamResampler`` under the name engine code has used since the interfaces came first.
"""

from __future__ import annotations

from voxpipe.audio import StreamResampler as PCMResampler
from voxpipe.audio import float32_to_pcm16, pcm16_to_float32

__all__ = ["PCMResampler", "float32_to_pcm16", "pcm16_to_float32"]
