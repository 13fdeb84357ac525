"""Tests of the engine interfaces, the registry and the local model engines."""
