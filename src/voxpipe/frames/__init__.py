"""Frame types; import them from ``voxpipe.frames.frames``."""
