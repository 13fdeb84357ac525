"""Helpers of the local-model engine tests: where the speech fixtures are, loading them, skipping."""

from __future__ import annotations

import importlib.util
import os
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr

SPEECH_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "speech"
"""The speech fixtures, kept in the repository (``tests/fixtures/speech``)."""


def speech_path(name: str) -> Path:
    """A speech fixture by file name (it must exist: the fixtures are part of the repository)."""
    path = SPEECH_DIR / name
    assert path.is_file(), path
    return path


def load_speech(name: str, rate: int = 16_000) -> np.ndarray:
    """A fixture as int16 samples at ``rate``."""
    with wave.open(str(speech_path(name))) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        native = wav.getframerate()
    if native != rate:
        samples = soxr.resample(samples, native, rate)
    return samples


def require(*modules: str) -> None:
    """Skip the calling test module unless every module is importable."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(
            f"needs {', '.join(missing)}: pip install 'voxpipe[local]' and "
            "requirements/local-models-nodeps.txt",
            allow_module_level=True,
        )


def normalise(text: str) -> str:
    """Lower case, letters and digits only, single spaces: for keyword checks."""
    kept = "".join(c if c.isalnum() else " " for c in text.lower())
    return " ".join(kept.split())


def require_opt_in(variable: str, fix: str, *modules: str) -> None:
    """Like ``require`` for opt-in models: skip without them, unless ``$variable`` is 1, then fail.

    CI sets the variable (``.ci/run``), so a model it meant to install can never be skipped silently.
    """
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    message = f"needs {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}: {fix}"
    if os.environ.get(variable) == "1":
        pytest.fail(f"{variable}=1 but the opt-in model is not installed; {message}", pytrace=False)
    pytest.skip(f"opt-in model ({message}, or set {variable}=1 with ./scripts/test)", allow_module_level=True)
