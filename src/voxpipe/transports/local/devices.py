"""The sound card, through ``sounddevice`` (PortAudio): opening the microphone and the speaker.

Everything that can go wrong with a machine's audio becomes one :class:`AudioDeviceError` whose message
says what to do: PortAudio missing (``sounddevice`` cannot load it), no such device, a device that
refuses the format. ``voxpipe talk`` prints that message as its one line.

The :class:`AudioDevices` interface is what the local transport needs from a sound card; tests give the
transport a fake one (a WAV file for a microphone, a list of chunks for a speaker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from voxpipe.errors import VoxpipeWorldError

__all__ = ["AudioDeviceError", "AudioDevices", "InputStream", "OutputStream", "SoundDevices"]

logger = logging.getLogger(__name__)

PORTAUDIO_HINT = (
    "install PortAudio (Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio)"
)


class AudioDeviceError(VoxpipeWorldError):
    """The machine's audio cannot be used: no PortAudio, no such device, or the device refused."""


class InputStream(Protocol):
    """A running microphone stream."""

    def close(self) -> None:
        """Stop and release the device."""


class OutputStream(Protocol):
    """A running speaker stream."""

    def write(self, pcm: bytes) -> None:
        """Queue mono PCM16 for playback; may block until the device has room."""

    def clear(self) -> None:
        """Drop what the device has queued but not played."""

    def close(self) -> None:
        """Stop and release the device."""


class AudioDevices(Protocol):
    """Opens the microphone and the speaker."""

    def check(self, *, input_device: Any, output_device: Any, need_input: bool, need_output: bool) -> None:
        """Raise :class:`AudioDeviceError` when the devices cannot be used (before anything starts)."""

    def open_input(
        self, device: Any, sample_rate: int, block_frames: int, on_audio: Callable[[bytes], None]
    ) -> InputStream:
        """Start the microphone: ``on_audio(pcm)`` is called (from the audio thread) per block."""

    def open_output(self, device: Any, sample_rate: int) -> OutputStream:
        """Start the speaker."""


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError as exc:
        raise AudioDeviceError('sounddevice is not installed: pip install "voxpipe[audio]"') from exc
    except OSError as exc:  # sounddevice imports, then fails to load the PortAudio library
        raise AudioDeviceError(f"no audio: the PortAudio library is missing; {PORTAUDIO_HINT}") from exc
    return sounddevice


class _SoundOutput:
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, pcm: bytes) -> None:
        self._stream.write(pcm)

    def clear(self) -> None:
        self._stream.abort()
        self._stream.start()

    def close(self) -> None:
        self._stream.abort()
        self._stream.close()


class SoundDevices:
    """The real sound card (``sounddevice``): 16-bit mono streams at the rate asked for."""

    def check(self, *, input_device: Any, output_device: Any, need_input: bool, need_output: bool) -> None:
        """Find the devices now, so that a machine without audio fails with one clear message."""
        sd = _sounddevice()
        for needed, device, kind in (
            (need_input, input_device, "input"),
            (need_output, output_device, "output"),
        ):
            if not needed:
                continue
            try:
                sd.query_devices(device, kind=kind)
            except (ValueError, sd.PortAudioError) as exc:
                what = (
                    f"audio {kind} device {device!r}"
                    if device is not None
                    else f"default audio {kind} device"
                )
                raise AudioDeviceError(
                    f"no {what} ({exc}); list devices with: python -m sounddevice"
                ) from exc

    def open_input(
        self, device: Any, sample_rate: int, block_frames: int, on_audio: Callable[[bytes], None]
    ) -> InputStream:
        """Open and start the microphone."""
        sd = _sounddevice()

        def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            if status:
                logger.debug("microphone: %s", status)
            on_audio(bytes(indata))

        try:
            stream = sd.RawInputStream(
                samplerate=sample_rate,
                channels=1,
                dtype="int16",
                blocksize=block_frames,
                device=device,
                callback=callback,
            )
            stream.start()
        except (ValueError, sd.PortAudioError) as exc:
            raise AudioDeviceError(f"cannot open the microphone at {sample_rate} Hz: {exc}") from exc
        return stream

    def open_output(self, device: Any, sample_rate: int) -> OutputStream:
        """Open and start the speaker."""
        sd = _sounddevice()
        try:
            stream = sd.RawOutputStream(samplerate=sample_rate, channels=1, dtype="int16", device=device)
            stream.start()
        except (ValueError, sd.PortAudioError) as exc:
            raise AudioDeviceError(f"cannot open the speaker at {sample_rate} Hz: {exc}") from exc
        return _SoundOutput(stream)
