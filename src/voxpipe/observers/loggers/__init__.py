"""Observers that log what they see."""
