"""Provider-neutral descriptions of the tools a model may call (pipecat's ``adapters.schemas`` path)."""

from voxpipe.adapters.schemas.function_schema import FunctionSchema
from voxpipe.adapters.schemas.tools_schema import ToolsSchema

__all__ = ["FunctionSchema", "ToolsSchema"]
