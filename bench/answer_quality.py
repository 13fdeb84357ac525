"""Answer quality of the local LLM as the server uses it: short spoken-style questions, judged by rules.

Run: ``.venv/bin/python bench/answer_quality.py [--llm-model NAME] [--temperature T] [--repeat N]``. Needs the
``local`` extra and the LLM weights. Prints the score and every miss; always exits 0 (STYLE.md practice 17).

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


async def ask(
    llm: Any, text: str, tools: list[dict[str, Any]], temperature: float, instructions: str
) -> tuple[str, list[Any], float]:
    from voxpipe.server.engines.types import FunctionTool, LLMMessage, LLMRequest, TextDelta, ToolCall

    declared = tuple(FunctionTool(t["name"], t["description"], t["parameters"]) for t in tools)
    request = LLMRequest(
        instructions=instructions,
        messages=(LLMMessage("user", text),),
        tools=declared,
        temperature=temperature,
    )
    started = time.perf_counter()
    answer, calls = "", []
    async for chunk in llm.stream(request):
        if isinstance(chunk, TextDelta):
            answer += chunk.text
        elif isinstance(chunk, ToolCall):
            calls.append(chunk)
    return answer.strip(), calls, time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    from voxpipe.server.config import DEFAULT_INSTRUCTIONS
    from voxpipe.server.engines.local.llm import LlamaLLMEngine

    instructions = args.instructions or DEFAULT_INSTRUCTIONS

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    llm = LlamaLLMEngine(args.llm_model)
    await llm.warm_up()
    misses: list[str] = []
    total = passed = 0
    seconds: list[float] = []
    for _ in range(args.repeat):
        for question in QUESTIONS:
            answer, calls, spent = await ask(llm, question.text, [], args.temperature, instructions)
            seconds.append(spent)
            why = judge_answer(question, answer) if not calls else "called a tool with none declared"
            total += 1
            passed += why is None
            if why:
                misses.append(f"  Q  {question.text!r}: {why}; answer {answer!r}")
        for prompt in TOOL_PROMPTS:
            tools = [WEATHER, TIMER]
            answer, calls, spent = await ask(llm, prompt.text, tools, args.temperature, instructions)
            seconds.append(spent)
            why = judge_tool(prompt, calls, answer)
            total += 1
            passed += why is None
            if why:
                misses.append(f"  T  {prompt.text!r}: {why}")
    await llm.aclose()
    print(f"model {args.llm_model}, temperature {args.temperature}, {args.repeat} pass(es)")
    print(f"instructions: {instructions!r}")
    mean = sum(seconds) / len(seconds)
    print(f"score {passed}/{total} ({passed / total:.0%}); mean time per answer {mean:.2f} s")
    print("misses:" if misses else "no misses")
    for line in misses:
        print(line)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--llm-model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--temperature", type=float, default=0.8, help="the session's temperature (0.8)")
    parser.add_argument("--instructions", default=None, help="instructions to try instead of the default")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the prompts (sampling varies)")
    asyncio.run(main(parser.parse_args()))
