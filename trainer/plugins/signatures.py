"""A plugin constructor's typed arguments, read from its syntax: each keyword parameter of
`__init__` with its annotation and literal default becomes a typed field of a pydantic model,
so the server validates a run config's `args` (and the form shows typed inputs) without
importing the plugin.

Supported annotations: `int`, `float`, `str`, `bool`, `Literal[...]`, `list[...]` and
`tuple[...]` of those, `Optional[...]` / `X | None` / `Union[...]` of those. A parameter with
another annotation, or none, takes any JSON value.
"""

from __future__ import annotations

import ast
import types
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model

# Names torchdash passes itself to a constructor that names them: never a user's argument.
INJECTED = frozenset({"split", "input_shape", "num_classes", "num_outputs"})

_SCALARS: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}
_LISTS = {"list", "List", "Sequence"}
_TUPLES = {"tuple", "Tuple"}


@dataclass(frozen=True)
class PluginParam:
    """One keyword argument of a plugin's constructor."""

    name: str
    annotation: Any  # the type its JSON value must have (`Any`: any JSON value)
    source: str  # the annotation as written ("" when there is none)
    required: bool  # the constructor gives it no default
    default: Any = None  # the default, when it is a literal (`has_default`)
    has_default: bool = False  # False for a required one, or a default that is not a literal


def _dotted(node: ast.expr) -> str:
    """`typing.Optional` -> "Optional": the last part of a (dotted) name, else ""."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def annotation_type(node: ast.expr | None) -> Any:
    """The Python type an annotation's syntax names, or None where it is not supported."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        if node.value is None:
            return type(None)
        if isinstance(node.value, str):  # a string annotation: "int", "list[float]"
            try:
                return annotation_type(ast.parse(node.value, mode="eval").body)
            except SyntaxError:
                return None
        return None
    if isinstance(node, ast.Name | ast.Attribute):
        name = _dotted(node)
        return type(None) if name == "None" else _SCALARS.get(name)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union([annotation_type(node.left), annotation_type(node.right)])
    if isinstance(node, ast.Subscript):
        head = _dotted(node.value)
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if head == "Literal":
            return _literal(items)
        if head == "Optional" and len(items) == 1:
            inner = annotation_type(items[0])
            return None if inner is None else Optional[inner]  # noqa: UP045 (a runtime value)
        if head == "Union":
            return _union([annotation_type(item) for item in items])
        if head in _LISTS and len(items) == 1:
            inner = annotation_type(items[0])
            return None if inner is None else list[inner]  # type: ignore[valid-type]
        if head in _TUPLES:
            return _tuple(items)
    return None


def _union(members: list[Any]) -> Any:
    if any(member is None for member in members):
        return None
    return Union[tuple(members)]  # noqa: UP007 (built at run time from a list)


def _literal(items: list[ast.expr]) -> Any:
    try:
        values = tuple(ast.literal_eval(item) for item in items)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if not values or not all(isinstance(v, str | int | float | bool | None) for v in values):
        return None
    return Literal[values]


def _tuple(items: list[ast.expr]) -> Any:
    if len(items) == 2 and isinstance(items[1], ast.Constant) and items[1].value is Ellipsis:
        inner = annotation_type(items[0])
        return None if inner is None else tuple[inner, ...]  # type: ignore[valid-type]
    members = [annotation_type(item) for item in items]
    if not members or any(member is None for member in members):
        return None
    return tuple[tuple(members)]  # type: ignore[misc]


_NO_DEFAULT = object()  # the parameter has no default
_NOT_LITERAL = object()  # its default is an expression (a constant's name, a call)


def _literal_default(node: ast.expr | None) -> Any:
    """A default's value when it is a literal (a number, a string, a list of them...)."""
    if node is None:
        return _NO_DEFAULT
    try:
        return _as_json(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _as_json(value: Any) -> Any:
    """A literal as the JSON value a config holds (a tuple as a list); TypeError for one that
    has none (bytes, a set, a complex number)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_as_json(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _as_json(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def read_params(function: ast.FunctionDef) -> tuple[list[PluginParam], bool]:
    """The keyword parameters of a constructor (`self` and the injected names left out), and
    whether it also takes any other keyword (`**kwargs`)."""
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults += arguments.defaults
    # `self` first, then the positional-only ones: neither is ever given by keyword.
    start = max(1, len(arguments.posonlyargs))
    keyword = list(zip(positional, defaults, strict=True))[start:]
    keyword += zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
    params = [_param(arg, default) for arg, default in keyword if arg.arg not in INJECTED]
    return params, arguments.kwarg is not None


def _param(arg: ast.arg, default_node: ast.expr | None) -> PluginParam:
    annotation = annotation_type(arg.annotation)
    default = _literal_default(default_node)
    if annotation is None:
        annotation = Any
    elif default is None and not _allows_none(annotation):
        annotation = Optional[annotation]  # noqa: UP045 (`x: int = None` means an optional int)
    source = ast.unparse(arg.annotation) if arg.annotation is not None else ""
    if default is _NO_DEFAULT:
        return PluginParam(arg.arg, annotation, source, required=True)
    if default is _NOT_LITERAL:
        return PluginParam(arg.arg, annotation, source, required=False)
    return PluginParam(arg.arg, annotation, source, False, default, has_default=True)


def _allows_none(annotation: Any) -> bool:
    if annotation is type(None) or annotation is Any:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return None in get_args(annotation)
    if origin is Union or origin is types.UnionType:
        return any(_allows_none(member) for member in get_args(annotation))
    return False


def params_model(name: str, params: list[PluginParam], open_ended: bool) -> type[BaseModel]:
    """A pydantic model of these arguments: strict types (the values go to the constructor as
    given), unknown names refused unless the constructor takes `**kwargs`."""
    fields: dict[str, Any] = {}
    for index, param in enumerate(params):
        # Fields are named by position and aliased to the parameter: a parameter may be called
        # anything, `_private` or `model_config` included. One whose default is not a literal
        # gets None as a placeholder (params_schema leaves it out).
        default = ... if param.required else param.default
        description = None
        if param.annotation is Any:  # the form edits it as JSON; say what the code expects
            description = f"{param.source}, as JSON" if param.source else "any JSON value"
        field = Field(default, alias=param.name, title=param.name, description=description)
        fields[f"p{index}"] = (param.annotation, field)
    config = ConfigDict(extra="allow" if open_ended else "forbid", strict=True, title=name)
    return create_model(f"{name}Args", __config__=config, **fields)


def params_schema(model: type[BaseModel], params: list[PluginParam], doc: str) -> dict:
    """The JSON Schema of the args object, without the placeholder default of an argument whose
    real default is not a literal."""
    schema = model.model_json_schema()
    properties = schema.get("properties", {})
    for param in params:
        if not param.required and not param.has_default:
            properties.get(param.name, {}).pop("default", None)
    if doc:
        schema["description"] = doc
    return schema
