"""WAV file transports: play a recording into a pipeline, record the bot's answer to a file."""

from voxpipe.transports.file.input import WavFileInputParams, WavFileInputTransport
from voxpipe.transports.file.output import WavFileOutputParams, WavFileOutputTransport

__all__ = ["WavFileInputParams", "WavFileInputTransport", "WavFileOutputParams", "WavFileOutputTransport"]
