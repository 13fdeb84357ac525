"""Helpers behind the parser: loose construction, wire paths, and strict-mode error mapping."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from voxpipe.realtime._base import ProtocolModel
from voxpipe.realtime._errors import EventValidationError

__all__ = ["first_extra", "loose_construct", "validation_error", "wire_path"]

_adapters: dict[Any, TypeAdapter[Any]] = {}

# Labels pydantic puts in error locations for union branches, which are not wire field names.
_BRANCH_LABELS = frozenset({"bool", "int", "str", "float", "dict", "list", "none", "tagged-union"})


def _adapter(annotation: Any) -> TypeAdapter[Any] | None:
    """A cached TypeAdapter for a field annotation, or ``None`` when it cannot be built or hashed."""
    try:
        adapter = _adapters.get(annotation)
    except TypeError:
        return None
    if adapter is None:
        try:
            adapter = TypeAdapter(annotation)
        except Exception:  # an annotation pydantic cannot adapt on its own: keep raw values
            return None
        _adapters[annotation] = adapter
    return adapter


def _members(annotation: Any) -> tuple[Any, ...]:
    """Flatten ``Annotated`` and unions into their member types."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        out: list[Any] = []
        for member in get_args(annotation):
            out.extend(_members(member))
        return tuple(out)
    return (annotation,)


def _pick_model(annotation: Any, value: dict[str, Any]) -> type[ProtocolModel] | None:
    """Choose the model an object value was meant to be: the one whose ``type`` literal matches."""
    models = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, ProtocolModel)]
    if not models:
        return None
    wanted = value.get("type")
    for model in models:
        field = model.model_fields.get("type")
        if (
            field is not None
            and get_origin(field.annotation) is Literal
            and wanted in get_args(field.annotation)
        ):
            return model
    return models[0]


def _loose_value(annotation: Any, value: Any) -> Any:
    """Validate ``value`` as ``annotation`` if possible, else salvage what can be typed."""
    adapter = _adapter(annotation)
    if adapter is not None:
        try:
            return adapter.validate_python(value)
        except ValidationError:
            pass
    if isinstance(value, dict):
        model = _pick_model(annotation, value)
        if model is not None:
            return loose_construct(model, value)
    elif isinstance(value, list):
        for member in _members(annotation):
            if get_origin(member) is list and get_args(member):
                (item_type,) = get_args(member)
                return [_loose_value(item_type, item) for item in value]
    return value


def loose_construct(cls: type[ProtocolModel], raw: dict[str, Any]) -> Any:
    """Build ``cls`` from ``raw`` without failing: valid fields typed, invalid ones kept raw.

    Required fields that are missing stay missing (``model_construct`` semantics); unknown keys
    become extras. Only used after a validation failure, so speed does not matter here.
    """
    values: dict[str, Any] = {}
    fields = cls.model_fields
    for key, value in raw.items():
        field = fields.get(key)
        if field is None:
            values[key] = value
            continue
        annotation = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
        values[key] = _loose_value(annotation, value)
    return cls.model_construct(**values)


def wire_path(loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into the protocol's ``param`` form: ``session.tools[0].name``.

    Union branch labels that pydantic inserts (``TurnDetection``, ``literal['inf']``,
    ``function-after[...]``, ``int``) are dropped: they are not on the wire.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        if (
            not part
            or part in _BRANCH_LABELS
            or part[0].isupper()
            or any(ch in part for ch in "[](){}'\"<>:-, ")
        ):
            continue
        out = f"{out}.{part}" if out else part
    return out


def validation_error(exc: ValidationError, event_type: str, event_id: str | None) -> EventValidationError:
    """Map the first pydantic error to an :class:`EventValidationError` in the protocol vocabulary."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    param = wire_path(first["loc"]) or None
    kind = first["type"]
    shown = param or "event"
    if kind == "missing":
        code, message = "missing_required_parameter", f"Missing required parameter: '{shown}'."
    elif kind.endswith(("_type", "_parsing")) or kind in ("model_type", "model_attributes_type"):
        code, message = "invalid_type", f"Invalid type for '{shown}': {first['msg']}."
    else:
        code, message = "invalid_value", f"Invalid value for '{shown}': {first['msg']}."
    return EventValidationError(message, param=param, code=code, event_type=event_type, event_id=event_id)


def first_extra(obj: Any, path: str = "") -> str | None:
    """Return the wire path of the first field no model declares, or ``None``.

    Free-form values (dict-typed fields such as tool ``parameters`` or ``metadata``) are not
    models and are not searched.
    """
    if isinstance(obj, BaseModel):
        extra = obj.__pydantic_extra__
        if extra:
            key = next(iter(extra))
            return f"{path}.{key}" if path else key
        for name in obj.__pydantic_fields_set__:
            found = first_extra(getattr(obj, name, None), f"{path}.{name}" if path else name)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for index, item in enumerate(obj):
            found = first_extra(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
