"""Helpers of the local-model engine tests: where the speech fixtures are, loading them, skipping."""

from __future__ import annotations

import importlib.util
import os
import wave
from pathlib import Path

import numpy as np
import pytest
import soxr


def shared_dir() -> Path:
    """``/work/shared`` next to the repository, or ``$VOXPIPE_SHARED_DIR``."""
    env = os.environ.get("VOXPIPE_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared"


def speech_path(name: str) -> Path:
    path = shared_dir() / "fixtures" / "speech" / name
    if not path.exists():
        pytest.skip(f"speech fixture {path} not found (set VOXPIPE_SHARED_DIR)")
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
