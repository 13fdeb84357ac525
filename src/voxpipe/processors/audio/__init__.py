"""Processors that work on audio."""
