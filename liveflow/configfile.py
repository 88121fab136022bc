"""Configuration files described by pydantic models: read a table, check it, say every problem on its line.

Layout: :func:`load_table` reads a YAML (``.yaml``/``.yml``, the default), TOML (``.toml``) or JSON
(``.json``) file into a dict; :func:`validate` checks it against a :class:`ConfigModel` subclass;
:func:`json_schema` gives the model's JSON Schema for ``schemas/`` (written by ``liveflow.tools.generate``).

Invariants:
- every failure is a :class:`ConfigFileError` whose ``problems`` are single lines
  ``<file>: <key.path>: <rule>``, one per problem, in the order of the keys in the file; a line names
  keys and rules, never the value given (so a secret in a bad place is not echoed);
- an unknown key's line names the nearest valid key at that level when one is close;
- a model's cross-field checks (:meth:`ConfigModel.problems`) run only once the fields are valid;
- nothing here touches the network or the environment; :func:`load_table` reads only the path it is given.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import ErrorDetails, core_schema

from liveflow.settings import parse_duration_ms

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://liveflow.dev/schemas/v1/{name}.schema.json"

Loc = tuple[str | int, ...]
MAX_DEPTH = 32  # levels of nesting a configuration file may have (the formats here need a handful)
M = TypeVar("M", bound=BaseModel)


class ConfigFileError(Exception):
    """A configuration file that cannot be used; ``problems`` are one line each, ``str()`` joins them."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ConfigModel(BaseModel):
    """Base of a file's models: unknown keys refused, no type coercion (``"5"`` is not 5), immutable.

    ``schema_name`` and ``schema_title`` name the committed JSON Schema of a top-level model.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    schema_name: ClassVar[str] = ""
    schema_title: ClassVar[str] = ""

    def problems(self) -> Iterator[tuple[Loc, str]]:
        """Cross-field checks once every field is valid: (key path, rule) for each problem."""
        return iter(())


# -- reading ----------------------------------------------------------------------------------------------
class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last silently)
    and flow collections (``[...]``, ``{...}``) nested deeper than :data:`MAX_DEPTH`, before PyYAML's
    scanner spends seconds on thousands of open brackets."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", self.get_mark()
            )
        super().fetch_flow_collection_start(TokenClass)


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool):
            continue  # a complex key: the loader refuses it below
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key, value in pairs:
        if key in table:
            raise ValueError(f"duplicate key {key!r}")
        table[key] = value
    return table


def load_table(path: Path) -> dict[str, Any]:
    """The file's top-level table; by suffix TOML (``.toml``), JSON (``.json``) or else YAML.

    An empty YAML file is an empty table. Raises :class:`ConfigFileError` (one line) when the file cannot
    be read or parsed, its top level is not a table, or its content is out of :func:`check_shape`'s bounds.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError([f"{source}: cannot read the file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise ConfigFileError([f"{source}: not UTF-8 text"]) from None
    suffix = path.suffix.lower()
    kind = {".toml": "TOML", ".json": "JSON"}.get(suffix, "YAML")
    data: object
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text, object_pairs_hook=_json_pairs)
        else:
            data = yaml.load(text, Loader=_UniqueKeyLoader)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError([f"{source}: not valid TOML: {exc}"]) from None
    except json.JSONDecodeError as exc:
        raise ConfigFileError([f"{source}: not valid JSON: {exc.msg} (line {exc.lineno})"]) from None
    except yaml.YAMLError as exc:
        raise ConfigFileError([f"{source}: not valid YAML: {_yaml_problem(exc)}"]) from None
    except ValueError as exc:  # a duplicate JSON key, a number too long to convert, a date out of range
        raise ConfigFileError([f"{source}: not valid {kind}: {str(exc).splitlines()[0]}"]) from None
    except RecursionError:  # the three parsers read nested collections recursively
        raise ConfigFileError([f"{source}: not valid {kind}: nested too deeply"]) from None
    if data is None and suffix not in (".toml", ".json"):
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError([f"{source}: expected a table of keys at the top level, not {_kind(data)}"])
    check_shape(data, source=source, budget=len(text) + 1)
    return data


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_shape(data: object, *, source: str, budget: int) -> None:
    """Bounds on a parsed table, so what checks it next (iterating, recursing) stays cheap and safe.

    At most ``budget`` values counting each use of a YAML alias (a file without aliases has fewer values
    than characters; an alias chain or an alias inside its own anchor has far more), at most
    :data:`MAX_DEPTH` levels of nesting, and no string (key or value) with an unpaired surrogate escape
    (``"\\ud800"``), which is no text. Walked without recursion; a problem is one
    :class:`ConfigFileError` line.
    """
    stack: list[tuple[object, Loc]] = [(data, ())]
    seen = 0
    while stack:
        value, loc = stack.pop()
        seen += 1
        if seen > budget:
            raise ConfigFileError(
                [
                    f"{source}: YAML aliases expand to more values than the file has characters"
                    " (an alias inside its anchor, or a chain of aliases)"
                ]
            )
        if len(loc) > MAX_DEPTH:
            raise ConfigFileError([f"{source}: {key_path(loc)}: nested deeper than {MAX_DEPTH} levels"])
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise ConfigFileError([f"{source}: {key_path(loc) or '(top level)'}: {_SURROGATE_RULE}"])
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    raise ConfigFileError(
                        [f"{source}: {key_path(loc) or '(top level)'}: a key {_SURROGATE_RULE}"]
                    )
                stack.append((item, (*loc, str(key))))
        elif isinstance(value, list):
            stack.extend((item, (*loc, index)) for index, item in enumerate(value))


_SURROGATE_RULE = "contains an unpaired surrogate escape (\\ud800-\\udfff), which is not text"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else problem


def _kind(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "true/false", int: "a number", float: "a number"}
    return names.get(type(value), type(value).__name__)


# -- checking ---------------------------------------------------------------------------------------------
def validate(model: type[M], data: Mapping[str, Any], *, source: str) -> M:
    """``model.model_validate(data)``; a problem of any kind becomes a :class:`ConfigFileError` line."""
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda error: _file_order(data, error["loc"]))
        raise ConfigFileError([_line(model, error, source) for error in errors]) from None
    if isinstance(value, ConfigModel):
        problems = [f"{source}: {key_path(loc) or '(top level)'}: {rule}" for loc, rule in value.problems()]
        if problems:
            raise ConfigFileError(problems)
    return value


def _file_order(data: object, loc: Sequence[str | int]) -> list[int]:
    """Where a location is in the file: the position of each key in its table (or of each list item)."""
    order: list[int] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            order.append(list(node).index(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            order.append(part)
            node = node[part]
        # else: a union member's tag or a missing key: the problem sorts with its table
    return order


def key_path(loc: Iterable[str | int]) -> str:
    """``("routes", 0, "channels")`` -> ``routes[0].channels``."""
    text = ""
    for part in loc:
        shown = part if isinstance(part, int) or part.isprintable() else _escaped(part)
        text += f"[{shown}]" if isinstance(part, int) else (f".{shown}" if text else str(shown))
    return text


def _escaped(key: str) -> str:
    """A key with its non-printable characters (line breaks, controls, bidi overrides) as ``\\uXXXX``, so a
    problem stays one line and shows what the file holds."""
    return "".join(char if char.isprintable() else f"\\u{ord(char):04x}" for char in key)


def nearest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to a misspelt ``word``, if one is close enough.

    A ratio of 0.6 needs the shorter of two strings to be at least 3/7 of the longer, so the other
    choices are left out first: a megabyte of a value then costs no ``difflib`` pass over it.
    """
    candidates = [c for c in choices if 7 * min(len(c), len(word)) >= 3 * max(len(c), len(word))]
    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6) if candidates else []
    return found[0] if found else None


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for a close choice, else empty."""
    close = nearest(word, choices) if isinstance(word, str) else None
    return f"; did you mean {close!r}?" if close else ""


_RULES: dict[str, str] = {
    "missing": "required",
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "finite_number": "expected a finite number",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _line(model: type[BaseModel], error: ErrorDetails, source: str) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    shown, owner, leaf = _walk(model, error["loc"])
    if kind == "extra_forbidden":
        valid = _field_names(owner) if owner is not None else []
        name = str(shown[-1]) if shown else ""
        rule = "unknown key" + did_you_mean(name, valid)
        if rule == "unknown key" and valid:
            rule += f"; valid keys: {', '.join(valid)}"
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        key = str(ctx.get("discriminator", "type")).strip("'")
        shown = [*shown, key]
        tags = _union_tags(leaf, key)
        if kind == "union_tag_invalid":
            rule = f"unknown {key} {ctx.get('tag')!r}; expected one of {', '.join(tags)}"
            rule += did_you_mean(ctx.get("tag"), tags)
        else:
            rule = f"required: one of {', '.join(tags)}"
    elif kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        rule = f"expected one of {', '.join(expected)}" + did_you_mean(error.get("input"), expected)
    elif kind in _BOUNDS:
        bound = next(iter(ctx.values()), "")
        rule = f"must be {_BOUNDS[kind]} {bound}"
    elif kind in _RULES:
        rule = _RULES[kind]
    elif kind in ("value_error", "assertion_error"):
        rule = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    else:
        message = str(error["msg"])
        rule = message[:1].lower() + message[1:]
    return f"{source}: {key_path(shown) or '(top level)'}: {rule}"


def _walk(model: type[BaseModel], loc: Sequence[str | int]) -> tuple[list[str | int], Any, Any]:
    """Follow an error's location through the model's types.

    Returns the key path as the user wrote it (union member tags dropped), the model class in which the
    last key was looked up (for suggestions), and the annotation reached at the end.
    """
    shown: list[str | int] = []
    node: Any = model
    owner: Any = None
    for part in loc:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            owner = node
            shown.append(part)
            field = _fields_by_key(node).get(str(part))
            node = field.annotation if field is not None else None
            continue
        members = _union_members(node)
        if members:
            chosen = next((m for m in members if _has_tag(m, part)), None)
            if chosen is not None:  # a discriminated union: the part is the member's tag, not a key
                node = chosen
                continue
            node = None
            continue
        origin = typing.get_origin(node)
        args = typing.get_args(node)
        shown.append(part)
        if origin in (dict, Mapping) and len(args) == 2:
            node = args[1]
        elif origin in (list, tuple, Sequence) and args:
            node = args[0]
        else:
            node = None
    return shown, owner, _unwrap(node)


def _unwrap(node: Any) -> Any:
    while True:
        if typing.get_origin(node) is Annotated:
            node = typing.get_args(node)[0]
            continue
        members = [m for m in _union_args(node) if m is not type(None)]
        if members and len(members) == 1:
            node = members[0]
            continue
        return node


def _union_args(node: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(node)
    return typing.get_args(node) if origin in (typing.Union, types.UnionType) else ()


def _union_members(node: Any) -> list[type[BaseModel]]:
    return [m for m in map(_unwrap, _union_args(node)) if isinstance(m, type) and issubclass(m, BaseModel)]


def _has_tag(member: type[BaseModel], tag: object) -> bool:
    return any(tag in _literal_values(field.annotation) for field in member.model_fields.values())


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    annotation = _unwrap(annotation)
    return typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()


def _union_tags(node: Any, key: str) -> list[str]:
    tags: list[str] = []
    for member in _union_members(node):
        field = _fields_by_key(member).get(key)
        if field is not None:
            tags.extend(str(v) for v in _literal_values(field.annotation))
    return tags


def _fields_by_key(model: type[BaseModel]) -> dict[str, Any]:
    return {field.alias or name: field for name, field in model.model_fields.items()}


def _field_names(model: type[BaseModel]) -> list[str]:
    return list(_fields_by_key(model))


# -- value types ------------------------------------------------------------------------------------------
DurationMs = Annotated[
    int,
    BeforeValidator(parse_duration_ms),
    Field(ge=0),
    WithJsonSchema(
        {
            "description": "a duration: 500ms, 30s, 10m, 1h or a number of seconds",
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"},
                {"type": "number", "minimum": 0},
            ],
        }
    ),
]
"""A duration in a file (``500ms``, ``30s``, ``10m``, ``1h``, a number of seconds) as whole milliseconds.

Give defaults as the file would (``Field("10s", validate_default=True)``), so the schema shows them so.
"""


@cache
def time_zones() -> frozenset[str]:
    """The IANA names of the tz database that :mod:`zoneinfo` sees."""
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(name: str) -> str:
    """``name`` if it is a time zone of the tz database, else a ValueError suggesting the nearest one."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, a name too long
        raise ValueError(
            f"unknown time zone {name!r} (not in the tz database){did_you_mean(name, time_zones())}"
        ) from None
    return name


@dataclass(frozen=True, slots=True)
class OneOf:
    """``Annotated[str, OneOf(names)]``: a string that must be one of ``names`` (nearest one suggested)."""

    values: tuple[str, ...]
    what: str = "value"

    def check(self, value: str) -> str:
        if value not in self.values:
            raise ValueError(
                f"unknown {self.what} {value!r}; expected one of {', '.join(self.values)}"
                + did_you_mean(value, self.values)
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: Callable[[Any], core_schema.CoreSchema]
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Callable[[Any], dict[str, Any]]) -> Any:
        result = handler(schema)
        result["enum"] = list(self.values)
        return result


TimeZoneName = Annotated[
    str,
    AfterValidator(check_time_zone),
    WithJsonSchema({"type": "string", "description": "an IANA time zone name of the tz database"}),
]
"""A time zone name such as ``Asia/Shanghai``, checked against the tz database."""


# -- schemas ----------------------------------------------------------------------------------------------
class _Generator(GenerateJsonSchema):
    """pydantic's generator without the per-field titles it derives from Python names."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def json_schema(model: type[ConfigModel]) -> dict[str, Any]:
    """The model's JSON Schema (draft 2020-12) with ``$schema``, ``$id`` and ``title``, for ``schemas/``."""
    body = model.model_json_schema(schema_generator=_Generator)
    body.pop("title", None)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID.format(name=model.schema_name),
        "title": model.schema_title or model.__name__,
        **body,
    }
