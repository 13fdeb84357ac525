"""``voxpipe serve``: argument parsing, engine choice and its plain fallback message."""

from __future__ import annotations

import pytest

from voxpipe import cli
from voxpipe.server.engines import Engines, EngineUnavailableError


def test_serve_arguments() -> None:
    args = cli.build_parser().parse_args(
        ["serve", "--host", "0.0.0.0", "--port", "9000", "--engines", "test"]
    )
    assert (args.command, args.host, args.port, args.engines) == ("serve", "0.0.0.0", 9000, "test")
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["serve", "--engines", "cloud"])


def test_falls_back_to_test_engines_and_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from voxpipe.server import engines as engines_module

    real_load = engines_module.load_engines

    def load(name: str, **options: object) -> Engines:
        if name == "local":
            raise EngineUnavailableError("the local engines need faster-whisper, not installed")
        return real_load(name, **options)

    monkeypatch.setattr(engines_module, "load_engines", load)
    engines, name = cli._choose_engines(None)
    assert name == "test" and isinstance(engines, Engines)
    err = capsys.readouterr().err
    assert "faster-whisper" in err
    assert "falling back to the deterministic TEST engines" in err


def test_explicit_engines_do_not_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from voxpipe.server import engines as engines_module

    def load(name: str, **options: object) -> Engines:
        raise EngineUnavailableError("missing")

    monkeypatch.setattr(engines_module, "load_engines", load)
    with pytest.raises(EngineUnavailableError):
        cli._choose_engines("local")
