"""voxpipe: realtime voice agents built as pipelines of frames."""

__version__ = "0.1.0"
