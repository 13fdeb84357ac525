"""Answer quality of the local LLM as the server uses it: short spoken-style questions, judged by rules.

Run: ``.venv/bin/python bench/answer_quality.py [--llm NAME ...] [--temperature T] [--repeat N]``. Needs the
``local`` extra and the LLM weights (the 1.5B's: ``./scripts/setup-1.5b``). Prints the score and every miss;
always exits 0 (STYLE.md practice 17).

With several ``--llm`` (``--llm qwen2.5-coder-0.5b-instruct --llm qwen2.5-coder-1.5b-instruct``), each model
runs in its own child process, one after the other (so RSS is each model's own, and the load of the shared
machine is the same for both), and a side-by-side table ends the output. Latency figures per model: load
time, first output of the first request (cold: nothing of its prompt cached), the median first output of
the questions (system prompt cached) and of the tool prompts (two passes for a routed model), generation
speed (tokens after the first over the time after the first), RSS after loading and peak.

The requests are what a session sends: the server's default instructions (``DEFAULT_INSTRUCTIONS``), the
question as the user's message, the session's temperature (``--temperature``, 0.8 by default as in the
protocol), and for the tool prompts two declared functions (``get_weather``, ``set_timer``). Rules:

* a question passes when the answer holds one of its expected words (case-insensitive, as a whole word)
  and is at most ``MAX_WORDS`` words (a spoken answer is short), and holds none of its wrong words;
* a tool prompt passes when the expected function is called with the expected arguments (compared
  case-insensitively), and a no-tool prompt passes when no function is called and the answer is short.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

MAX_WORDS = 40


@dataclass(frozen=True)
class Question:
    text: str
    expect: tuple[str, ...]  # any of these words must appear
    wrong: tuple[str, ...] = ()  # none of these may appear


@dataclass(frozen=True)
class ToolPrompt:
    text: str
    call: str | None  # the function expected, or None for "no call"
    arguments: dict[str, Any] = field(default_factory=dict)


QUESTIONS = [
    Question("How many days are there in a week?", ("seven", "7")),
    Question("What is the largest planet in our solar system?", ("jupiter",), ("mercury", "saturn")),
    Question("What is the capital of France?", ("paris",)),
    Question("How many hours are in a day?", ("24", "twenty-four", "twenty four")),
    Question("What colour is the sky on a clear day?", ("blue",)),
    Question("What language do people speak in Brazil?", ("portuguese",)),
    Question("What is two plus two?", ("four", "4")),
    Question("How many legs does a spider have?", ("eight", "8")),
    Question("What do bees make?", ("honey",)),
    Question("What is the freezing point of water in Celsius?", ("zero", "0")),
    Question("Which animal is known as the king of the jungle?", ("lion",)),
    Question("How many months are in a year?", ("twelve", "12")),
    Question("What is the opposite of hot?", ("cold",)),
    Question("What is the capital of Japan?", ("tokyo",)),
    Question("Who wrote Romeo and Juliet?", ("shakespeare",)),
    Question("What planet do we live on?", ("earth",)),
    Question("How many minutes are in an hour?", ("sixty", "60")),
    Question("What is the boiling point of water in Celsius?", ("100", "hundred")),
    Question("What gas do plants take in from the air?", ("carbon", "co2")),
    Question("Which ocean is the largest?", ("pacific",)),
    Question("What is ten minus three?", ("seven", "7")),
    Question("How do you say thank you in Spanish?", ("gracias",)),
    Question("What is the chemical symbol for water?", ("h2o",)),
    Question("What season comes after winter?", ("spring",)),
    Question("What is the tallest animal in the world?", ("giraffe",)),
    Question("How many continents are there?", ("seven", "7")),
    Question("What is the capital of Italy?", ("rome",)),
    Question("What do you call a baby cat?", ("kitten",)),
    Question("Which is bigger, the sun or the moon?", ("sun",)),
    Question("What is five times two?", ("ten", "10")),
    Question("Hi there, how are you today?", ("good", "well", "great", "fine", "thanks", "thank", "doing")),
    Question("Can you say hello in French?", ("bonjour",)),
]

WEATHER = {
    "name": "get_weather",
    "description": "Current weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIMER = {
    "name": "set_timer",
    "description": "Start a countdown timer.",
    "parameters": {"type": "object", "properties": {"minutes": {"type": "integer"}}, "required": ["minutes"]},
}
TOOL_PROMPTS = [
    ToolPrompt("What's the weather like in Paris today?", "get_weather", {"city": "Paris"}),
    ToolPrompt("Is it raining in London right now?", "get_weather", {"city": "London"}),
    ToolPrompt("How warm is it in Tokyo?", "get_weather", {"city": "Tokyo"}),
    ToolPrompt("Set a timer for ten minutes.", "set_timer", {"minutes": 10}),
    ToolPrompt("Please start a five minute timer.", "set_timer", {"minutes": 5}),
    ToolPrompt("Tell me a short joke.", None),
    ToolPrompt("What is the capital of Germany?", None),
    ToolPrompt("Thanks, that's all for now.", None),
    ToolPrompt("How many days are in a week?", None),
    ToolPrompt("Good morning!", None),
]


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", text.lower())


def judge_answer(question: Question, answer: str) -> str | None:
    """None when the answer passes, else why it missed."""
    words = words_of(answer)
    joined = " ".join(words)
    if len(words) > MAX_WORDS:
        return f"too long ({len(words)} words)"
    if not any(re.search(rf"\b{re.escape(w)}\b", joined) for w in question.expect):
        return f"expected one of {question.expect}"
    wrong = [w for w in question.wrong if re.search(rf"\b{re.escape(w)}\b", joined)]
    return f"says {wrong}" if wrong else None


def judge_tool(prompt: ToolPrompt, calls: list[Any], answer: str) -> str | None:
    if prompt.call is None:
        if calls:
            return f"called {[(c.name, c.arguments) for c in calls]}"
        return None if 0 < len(words_of(answer)) <= MAX_WORDS else f"answer of {len(words_of(answer))} words"
    if len(calls) != 1 or calls[0].name != prompt.call:
        return f"expected {prompt.call}, got {[(c.name, c.arguments) for c in calls]} / {answer[:60]!r}"
    got = {k: str(v).lower() for k, v in json.loads(calls[0].arguments).items()}
    want = {k: str(v).lower() for k, v in prompt.arguments.items()}
    return None if got == want else f"arguments {got}, expected {want}"


@dataclass
class Timing:
    first: float  # seconds to the first text or call
    total: float
    output_tokens: int

    @property
    def tokens_per_s(self) -> float | None:
        after = self.total - self.first
        return (self.output_tokens - 1) / after if self.output_tokens > 2 and after > 0 else None


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def ask(
    llm: Any, text: str, tools: list[dict[str, Any]], temperature: float, instructions: str
) -> tuple[str, list[Any], Timing]:
    from voxpipe.server.engines.types import (
        FunctionTool,
        LLMMessage,
        LLMRequest,
        TextDelta,
        ToolCall,
        Usage,
    )

    declared = tuple(FunctionTool(t["name"], t["description"], t["parameters"]) for t in tools)
    request = LLMRequest(
        instructions=instructions,
        messages=(LLMMessage("user", text),),
        tools=declared,
        temperature=temperature,
    )
    started = time.perf_counter()
    first: float | None = None
    answer, calls, produced = "", [], 0
    async for chunk in llm.stream(request):
        if isinstance(chunk, Usage):
            produced += chunk.output_tokens
            continue
        if first is None:
            first = time.perf_counter() - started
        if isinstance(chunk, TextDelta):
            answer += chunk.text
        elif isinstance(chunk, ToolCall):
            calls.append(chunk)
    total = time.perf_counter() - started
    return answer.strip(), calls, Timing(total if first is None else first, total, produced)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def run_model(args: argparse.Namespace, model: str) -> dict[str, Any]:
    """Every prompt against one model; prints the misses and returns the figures."""
    from voxpipe.server.config import DEFAULT_INSTRUCTIONS
    from voxpipe.server.engines.local.llm import LlamaLLMEngine

    instructions = args.instructions or DEFAULT_INSTRUCTIONS

    print(f"== {model}: load average at start {load_average()}; {os.cpu_count()} CPUs", flush=True)
    llm = LlamaLLMEngine(model)
    started = time.perf_counter()
    await llm.warm_up()
    load_s = time.perf_counter() - started
    rss_loaded = rss_mb()
    misses: list[str] = []
    total = passed = 0
    question_timings: list[Timing] = []
    tool_timings: list[Timing] = []
    for _ in range(args.repeat):
        for question in QUESTIONS:
            answer, calls, timing = await ask(llm, question.text, [], args.temperature, instructions)
            question_timings.append(timing)
            why = judge_answer(question, answer) if not calls else "called a tool with none declared"
            total += 1
            passed += why is None
            if why:
                misses.append(f"  Q  {question.text!r}: {why}; answer {answer!r}")
        for prompt in TOOL_PROMPTS:
            tools = [WEATHER, TIMER]
            answer, calls, timing = await ask(llm, prompt.text, tools, args.temperature, instructions)
            tool_timings.append(timing)
            why = judge_tool(prompt, calls, answer)
            total += 1
            passed += why is None
            if why:
                misses.append(f"  T  {prompt.text!r}: {why}")
    await llm.aclose()
    speeds = [s for s in (t.tokens_per_s for t in question_timings) if s is not None]
    figures = {
        "model": model,
        "score": f"{passed}/{total}",
        "misses": len(misses),
        "load s": round(load_s, 2),
        "first output, cold s": round(question_timings[0].first, 2),
        "first output, questions p50 s": round(statistics.median(t.first for t in question_timings[1:]), 2),
        "first output, tool prompts p50 s": round(statistics.median(t.first for t in tool_timings), 2),
        "generation tok/s p50": round(statistics.median(speeds), 1) if speeds else None,
        "mean time per answer s": round(statistics.mean(t.total for t in question_timings + tool_timings), 2),
        "RSS after load MB": round(rss_loaded),
        "RSS peak MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load average": load_average(),
    }
    print(f"model {model}, temperature {args.temperature}, {args.repeat} pass(es)")
    print(f"instructions: {instructions!r}")
    print(f"score {passed}/{total} ({passed / total:.0%}); {figures}")
    print("misses:" if misses else "no misses")
    for line in misses:
        print(line)
    print(f"load average at end: {load_average()}", flush=True)
    return figures


def side_by_side(results: list[dict[str, Any]]) -> None:
    width = max(len(key) for key in results[0])
    print("\n== side by side (one run, models one after the other)")
    for key in results[0]:
        print(f"{key:<{width}}  " + "  ".join(f"{r.get(key)!s:>28}" for r in results))


def main(args: argparse.Namespace) -> None:
    models = args.llm or ["qwen2.5-coder-0.5b-instruct"]
    if args.child or len(models) == 1:
        figures = asyncio.run(run_model(args, models[0]))
        if args.child:
            print("FIGURES " + json.dumps(figures), flush=True)
        return
    results = []
    for model in models:  # each in its own process: its own RSS, the same machine
        command = [sys.executable, __file__, "--child", "--llm", model]
        command += ["--temperature", str(args.temperature), "--repeat", str(args.repeat)]
        if args.instructions:
            command += ["--instructions", args.instructions]
        child = subprocess.run(command, capture_output=True, text=True, check=False)
        for line in child.stdout.splitlines():
            if line.startswith("FIGURES "):
                results.append(json.loads(line.removeprefix("FIGURES ")))
            else:
                print(line)
        if child.returncode != 0:
            print(f"{model}: exit status {child.returncode}: {child.stderr[-2000:]}")
    if results:
        side_by_side(results)


if __name__ == "__main__":
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument(
        "--llm",
        "--llm-model",
        action="append",
        default=None,
        metavar="NAME",
        help="a local LLM (repeat to compare; default qwen2.5-coder-0.5b-instruct)",
    )
    parser.add_argument("--temperature", type=float, default=0.8, help="the session's temperature (0.8)")
    parser.add_argument("--instructions", default=None, help="instructions to try instead of the default")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the prompts (sampling varies)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    main(parser.parse_args())
