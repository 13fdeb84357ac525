"""Tool descriptions and their conversion to provider formats.

``FunctionSchema`` and ``ToolsSchema`` describe tools once; ``to_openai_chat_tools`` and
``to_openai_realtime_tools`` turn them (or tool dicts in either OpenAI shape) into what each API expects.
"""

from voxpipe.adapters._openai import (
    OPENAI_CHAT_TOOLS_KEY,
    OPENAI_REALTIME_TOOLS_KEY,
    ToolsInput,
    to_function_schemas,
    to_openai_chat_tools,
    to_openai_realtime_tools,
)
from voxpipe.adapters.schemas.function_schema import FunctionSchema, validate_function_name
from voxpipe.adapters.schemas.tools_schema import ToolsSchema

__all__ = [
    "OPENAI_CHAT_TOOLS_KEY",
    "OPENAI_REALTIME_TOOLS_KEY",
    "FunctionSchema",
    "ToolsInput",
    "ToolsSchema",
    "to_function_schemas",
    "to_openai_chat_tools",
    "to_openai_realtime_tools",
    "validate_function_name",
]
