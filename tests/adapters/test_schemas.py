"""FunctionSchema / ToolsSchema: validation, the default dict, and conversion to both OpenAI shapes."""

from __future__ import annotations

import pytest

from voxpipe.adapters import (
    FunctionSchema,
    ToolsSchema,
    to_function_schemas,
    to_openai_chat_tools,
    to_openai_realtime_tools,
)
from voxpipe.adapters.schemas.function_schema import FunctionSchema as SpecFunctionSchema
from voxpipe.adapters.schemas.tools_schema import ToolsSchema as SpecToolsSchema
from voxpipe.errors import VoxpipeUsageError

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
}


def weather() -> FunctionSchema:
    return FunctionSchema(
        name="get_weather",
        description="Get weather information",
        properties={"location": {"type": "string"}},
        required=["location"],
    )


def test_spec_import_paths_are_the_same_classes() -> None:
    assert SpecFunctionSchema is FunctionSchema
    assert SpecToolsSchema is ToolsSchema


def test_default_dict_is_openais_function_shape() -> None:
    assert weather().to_default_dict() == {
        "name": "get_weather",
        "description": "Get weather information",
        "parameters": WEATHER_PARAMETERS,
    }


def test_default_dict_is_a_fresh_copy() -> None:
    schema = weather()
    schema.to_default_dict()["parameters"]["required"].append("x")
    assert schema.required == ["location"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("a" * 65, "65 characters"),
        ("get weather", "' '"),
        ("get.weather", "'.'"),
        ("météo", "'é'"),
    ],
)
def test_invalid_names_are_refused_with_the_reason(name: str, why: str) -> None:
    with pytest.raises(VoxpipeUsageError, match="invalid function name") as raised:
        FunctionSchema(name=name, description="d", properties={}, required=[])
    assert why in str(raised.value)


def test_valid_names_at_the_limits() -> None:
    assert FunctionSchema(name="a" * 64, description="", properties={}).name == "a" * 64
    assert FunctionSchema(name="A-b_9", description="", properties={}).name == "A-b_9"


def test_name_must_be_a_string() -> None:
    with pytest.raises(VoxpipeUsageError, match="must be a string"):
        FunctionSchema(name=42, description="", properties={})  # type: ignore[arg-type]


def test_required_must_name_properties() -> None:
    with pytest.raises(VoxpipeUsageError, match=r"requires \['city'\]"):
        FunctionSchema(
            name="f", description="", properties={"location": {"type": "string"}}, required=["city"]
        )


def test_properties_and_required_types_are_checked() -> None:
    with pytest.raises(VoxpipeUsageError, match="properties of function 'f'"):
        FunctionSchema(name="f", description="", properties=["location"])  # type: ignore[arg-type]
    with pytest.raises(VoxpipeUsageError, match="property 'x'"):
        FunctionSchema(name="f", description="", properties={"x": "string"})
    with pytest.raises(VoxpipeUsageError, match="list of argument names"):
        FunctionSchema(name="f", description="", properties={"x": {}}, required="x")
    with pytest.raises(VoxpipeUsageError, match="description"):
        FunctionSchema(name="f", description=None, properties={})  # type: ignore[arg-type]


def test_tools_schema_checks_its_tools() -> None:
    with pytest.raises(VoxpipeUsageError, match="FunctionSchema objects"):
        ToolsSchema(standard_tools=[{"name": "f"}])  # type: ignore[list-item]
    with pytest.raises(VoxpipeUsageError, match="two standard tools are named 'get_weather'"):
        ToolsSchema(standard_tools=[weather(), weather()])
    with pytest.raises(VoxpipeUsageError, match="custom_tools"):
        ToolsSchema(standard_tools=[], custom_tools={"openai": {"type": "x"}})  # type: ignore[dict-item]
    tools = ToolsSchema(standard_tools=[weather()])
    assert tools.names() == ["get_weather"]
    assert len(tools) == 1
    assert tools.custom_tools == {}


def test_realtime_shape_from_tools_schema() -> None:
    tools = ToolsSchema(standard_tools=[weather()])
    assert to_openai_realtime_tools(tools) == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Get weather information",
            "parameters": WEATHER_PARAMETERS,
        }
    ]


def test_chat_shape_from_list_of_schemas() -> None:
    assert to_openai_chat_tools([weather()]) == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get weather information",
                "parameters": WEATHER_PARAMETERS,
            },
        }
    ]


@pytest.mark.parametrize("convert", [to_openai_chat_tools, to_openai_realtime_tools])
def test_dicts_in_either_shape_normalise_to_the_target(convert) -> None:
    chat = {"type": "function", "function": weather().to_default_dict()}
    realtime = {"type": "function", **weather().to_default_dict()}
    bare = weather().to_default_dict()
    expected = convert([weather()])[0]
    assert convert([chat]) == [expected]
    assert convert([realtime]) == [expected]
    assert convert([bare]) == [expected]


def test_round_trip_between_shapes() -> None:
    chat = to_openai_chat_tools(ToolsSchema(standard_tools=[weather()]))
    assert to_openai_chat_tools(to_openai_realtime_tools(chat)) == chat


def test_dict_schema_is_kept_as_written_and_strict_only_for_chat() -> None:
    parameters = {
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "required": ["q"],
        "additionalProperties": False,
    }
    entry = {"type": "function", "function": {"name": "search", "parameters": parameters, "strict": True}}
    chat = to_openai_chat_tools([entry])[0]
    assert chat["function"]["parameters"] == parameters
    assert chat["function"]["strict"] is True
    assert chat["function"]["description"] == ""
    realtime = to_openai_realtime_tools([entry])[0]
    assert "strict" not in realtime
    assert realtime["parameters"] == parameters


def test_dict_without_parameters_gets_an_empty_object_schema() -> None:
    [tool] = to_openai_realtime_tools([{"type": "function", "name": "ping"}])
    assert tool["parameters"] == {"type": "object", "properties": {}, "required": []}


def test_invalid_dict_function_name_is_refused() -> None:
    with pytest.raises(VoxpipeUsageError, match="invalid function name"):
        to_openai_realtime_tools([{"type": "function", "name": "bad name"}])
    with pytest.raises(VoxpipeUsageError, match="needs a 'name'"):
        to_openai_chat_tools([{"type": "function", "function": {"description": "x"}}])


def test_non_function_tools_pass_through_unchanged() -> None:
    mcp = {"type": "mcp", "server_label": "docs", "server_url": "https://example.invalid"}
    assert to_openai_realtime_tools([mcp, weather()])[0] == mcp
    assert to_openai_chat_tools([mcp]) == [mcp]


def test_custom_tools_go_only_to_their_provider() -> None:
    realtime_only = {"type": "mcp", "server_label": "docs"}
    chat_only = {"type": "web_search"}
    tools = ToolsSchema(
        standard_tools=[weather()],
        custom_tools={"openai_realtime": [realtime_only], "openai": [chat_only], "gemini": [{"x": 1}]},
    )
    assert to_openai_realtime_tools(tools)[1:] == [realtime_only]
    assert to_openai_chat_tools(tools)[1:] == [chat_only]


def test_none_and_empty_give_no_tools() -> None:
    assert to_openai_realtime_tools(None) == []
    assert to_openai_chat_tools([]) == []
    assert to_openai_chat_tools(ToolsSchema(standard_tools=[])) == []


def test_wrong_tool_containers_are_refused() -> None:
    with pytest.raises(VoxpipeUsageError, match="tools must be"):
        to_openai_chat_tools({"type": "function", "name": "f"})  # type: ignore[arg-type]
    with pytest.raises(VoxpipeUsageError, match="a tool must be"):
        to_openai_chat_tools(["get_weather"])  # type: ignore[list-item]


def test_to_function_schemas_reads_every_form() -> None:
    chat = to_openai_chat_tools([weather()])
    assert to_function_schemas(chat) == [weather()]
    assert to_function_schemas(ToolsSchema(standard_tools=[weather()])) == [weather()]
    assert to_function_schemas([{"type": "mcp"}]) == []
    assert to_function_schemas(None) == []


def test_from_dict_reads_all_shapes() -> None:
    default = weather().to_default_dict()
    for shape in (default, {"type": "function", **default}, {"type": "function", "function": default}):
        assert FunctionSchema.from_dict(shape) == weather()


def test_exported_names_exist() -> None:
    import voxpipe.adapters as adapters
    import voxpipe.adapters.schemas as schemas
    import voxpipe.processors.aggregators as aggregators

    for module in (adapters, schemas, aggregators):
        assert module.__all__ == sorted(module.__all__, key=lambda n: (not n.isupper(), n))
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
