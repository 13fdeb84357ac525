"""Small helpers shared across voxpipe."""
