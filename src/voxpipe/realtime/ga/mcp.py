"""GA MCP events: tool listing and remote tool calls run by the server."""

from typing import Literal

from voxpipe.realtime._base import ServerEventBase

__all__ = [
    "McpListToolsCompletedEvent",
    "McpListToolsFailedEvent",
    "McpListToolsInProgressEvent",
    "ResponseMcpCallArgumentsDeltaEvent",
    "ResponseMcpCallArgumentsDoneEvent",
    "ResponseMcpCallCompletedEvent",
    "ResponseMcpCallFailedEvent",
    "ResponseMcpCallInProgressEvent",
]


class _McpListToolsEvent(ServerEventBase):
    item_id: str
    """The ``mcp_list_tools`` item."""


class McpListToolsInProgressEvent(_McpListToolsEvent):
    """``mcp_list_tools.in_progress``: listing an MCP server's tools."""

    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"


class McpListToolsCompletedEvent(_McpListToolsEvent):
    """``mcp_list_tools.completed``: the tool list is in the item."""

    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"


class McpListToolsFailedEvent(_McpListToolsEvent):
    """``mcp_list_tools.failed``: listing failed."""

    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"


class ResponseMcpCallArgumentsDeltaEvent(ServerEventBase):
    """``response.mcp_call_arguments.delta``: more arguments of an MCP call."""

    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    response_id: str
    """The response."""
    item_id: str
    """The ``mcp_call`` item."""
    output_index: int
    """Index of the item in the response's output."""
    delta: str
    """New argument text."""
    obfuscation: str | None = None
    """Padding that hides the delta's length."""


class ResponseMcpCallArgumentsDoneEvent(ServerEventBase):
    """``response.mcp_call_arguments.done``: the MCP call's arguments are complete."""

    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    response_id: str
    """The response."""
    item_id: str
    """The ``mcp_call`` item."""
    output_index: int
    """Index of the item in the response's output."""
    arguments: str
    """The full arguments, a JSON string."""


class _McpCallEvent(ServerEventBase):
    item_id: str
    """The ``mcp_call`` item."""
    output_index: int
    """Index of the item in the response's output."""


class ResponseMcpCallInProgressEvent(_McpCallEvent):
    """``response.mcp_call.in_progress``: the server is calling the MCP tool."""

    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"


class ResponseMcpCallCompletedEvent(_McpCallEvent):
    """``response.mcp_call.completed``: the MCP tool answered."""

    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"


class ResponseMcpCallFailedEvent(_McpCallEvent):
    """``response.mcp_call.failed``: the MCP call failed."""

    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"
