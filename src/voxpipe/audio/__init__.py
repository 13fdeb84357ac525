"""Audio plumbing for voice pipelines: resampling, G.711, fixed-size chunks, WAV files and levels.

Everything works on bytes of signed 16-bit little-endian PCM with interleaved channels, the format frames
carry; G.711 codes are one byte per sample. The modules import only numpy, soxr and the stdlib.

- ``resample``: ``StreamResampler`` (stateful, for live audio) and ``resample`` (whole signals).
- ``g711``: ``ulaw_encode``/``ulaw_decode``, ``alaw_encode``/``alaw_decode``.
- ``chunking``: ``Rechunker`` and duration arithmetic.
- ``wav``: ``read_wav``, ``write_wav``, ``WavWriter``.
- ``pcm``: float conversion, mono downmix, RMS/dBFS/peak levels.
"""

from voxpipe.audio.chunking import Rechunker, bytes_per_ms, duration_ms, frames_for_ms, silence
from voxpipe.audio.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from voxpipe.audio.pcm import (
    PCM16,
    downmix_to_mono,
    float32_to_pcm16,
    pcm16_array,
    pcm16_from_samples,
    pcm16_to_float32,
    peak,
    rms,
    rms_dbfs,
)
from voxpipe.audio.resample import Quality, StreamResampler, resample
from voxpipe.audio.wav import UnsupportedWavError, WavAudio, WavWriter, read_wav, write_wav

__all__ = [
    "PCM16",
    "Quality",
    "Rechunker",
    "StreamResampler",
    "UnsupportedWavError",
    "WavAudio",
    "WavWriter",
    "alaw_decode",
    "alaw_encode",
    "bytes_per_ms",
    "downmix_to_mono",
    "duration_ms",
    "float32_to_pcm16",
    "frames_for_ms",
    "pcm16_array",
    "pcm16_from_samples",
    "pcm16_to_float32",
    "peak",
    "read_wav",
    "resample",
    "rms",
    "rms_dbfs",
    "silence",
    "ulaw_decode",
    "ulaw_encode",
    "write_wav",
]
