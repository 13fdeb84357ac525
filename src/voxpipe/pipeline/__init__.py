"""Pipelines, tasks that run them, and the runner."""
