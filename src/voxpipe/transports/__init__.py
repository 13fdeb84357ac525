"""Transports: where audio enters and leaves a pipeline."""
