"""Input checked against the schemas' own annotations: plain dataclasses, no pydantic.

A request body, a query parameter or a queue message is described once, as a dataclass
whose fields carry `Annotated` constraints (`MaxLen(320)`, `Ge(1)`, `Trim()`). At run time
`parse` reads those annotations and reports every bad field at once. At development time
pydantic reads the same classes for the OpenAPI document (`local/openapi.py`): each
constraint here tells it its JSON Schema keyword. So the document and the checks cannot
drift, and no function pays for importing pydantic (see docs/performance.md).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union

T = TypeVar("T")
Check = Callable[[Any], Any]

_INTEGER = re.compile(r"[+-]?\d{1,18}")


class Invalid(ValueError):
    """Some fields are not valid: `errors` has one {field, reason} per bad field."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


class _Bad(Exception):
    """One value is not valid; the message is the reason."""


# ---- constraints: one JSON Schema keyword each --------------------------------------------


class Constraint:
    keyword = ""

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict:
        # Called by pydantic when it builds the OpenAPI document; never at run time.
        schema = handler(core_schema)
        if self.keyword:
            schema[self.keyword] = self.value
        return schema

    def check(self, value: Any) -> Any:
        return value


class MinLen(Constraint):
    keyword = "minLength"

    def check(self, value: Any) -> Any:
        if len(value) < self.value:
            raise _Bad(f"must have at least {self.value} character{'s' * (self.value != 1)}")
        return value


class MaxLen(Constraint):
    keyword = "maxLength"

    def check(self, value: Any) -> Any:
        if len(value) > self.value:
            raise _Bad(f"must have at most {self.value} characters")
        return value


class MinItems(Constraint):
    keyword = "minItems"

    def check(self, value: Any) -> Any:
        if len(value) < self.value:
            raise _Bad(f"must have at least {self.value} item{'s' * (self.value != 1)}")
        return value


class MaxItems(Constraint):
    keyword = "maxItems"

    def check(self, value: Any) -> Any:
        if len(value) > self.value:
            raise _Bad(f"must have at most {self.value} items")
        return value


class Ge(Constraint):
    keyword = "minimum"

    def check(self, value: Any) -> Any:
        if value < self.value:
            raise _Bad(f"must be at least {self.value}")
        return value


class Le(Constraint):
    keyword = "maximum"

    def check(self, value: Any) -> Any:
        if value > self.value:
            raise _Bad(f"must be at most {self.value}")
        return value


class Trim(Constraint):
    """Surrounding whitespace is dropped before the other constraints (names)."""

    def check(self, value: Any) -> Any:
        return value.strip()


class Format(Constraint):
    """Documents the format (`email`); the domain checks it, with its own reasons."""

    keyword = "format"


class Describe(Constraint):
    """A field's description in the OpenAPI document."""

    keyword = "description"


# ---- checks built from type hints ---------------------------------------------------------

_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", dict: "an object"}


def _exact(kind: type) -> Check:
    def check(value: Any) -> Any:
        # bool is an int in Python, not in JSON: compare the exact type.
        if type(value) is not kind:
            raise _Bad(f"must be {_TYPE_NAMES[kind]}")
        if isinstance(value, str):
            _unicode(value)
        return value

    return check


def _unicode(value: str) -> None:
    """JSON's \\ud800 escapes decode to lone surrogates: text no encoder (argon2's, a hash's,
    DynamoDB's) can take."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad("must be valid Unicode text (no lone surrogates)") from None


def _from_text(kind: type) -> Check:
    """A query-string value (always text) read as the type the parameter declares."""
    if kind is int:

        def integer(value: Any) -> Any:
            if not isinstance(value, str) or not _INTEGER.fullmatch(value):
                raise _Bad("must be an integer")
            return int(value)

        return integer
    return _exact(kind)


@cache
def checker(hint: Any, *, text: bool = False) -> Check:
    """The check of one annotated type; `text` for query-string values."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        base, *metadata = typing.get_args(hint)
        inner = checker(base, text=text)
        constraints = [m for m in metadata if isinstance(m, Constraint)]

        def constrained(value: Any) -> Any:
            value = inner(value)
            if value is None:  # `X | None` annotated: the constraints are X's
                return None
            for constraint in constraints:
                value = constraint.check(value)
            return value

        return constrained
    if origin in (Union, types.UnionType):
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(options) != 1 or len(typing.get_args(hint)) != 2:
            raise TypeError(f"only `X | None` unions are supported, not {hint}")
        some = checker(options[0], text=text)
        return lambda value: None if value is None else some(value)
    if origin is Literal:
        allowed = typing.get_args(hint)
        reason = "must be one of: " + ", ".join(map(str, allowed))

        def one_of(value: Any) -> Any:
            if not any(type(value) is type(a) and value == a for a in allowed):
                raise _Bad(reason)
            return value

        return one_of
    if origin is list:
        (item_hint,) = typing.get_args(hint)
        each = checker(item_hint)

        def sequence(value: Any) -> Any:
            if type(value) is not list:
                raise _Bad("must be an array")
            checked = []
            for index, item in enumerate(value):
                try:
                    checked.append(each(item))
                except _Bad as bad:
                    raise _Bad(f"item {index}: {bad}") from None
            return checked

        return sequence
    if origin is dict:
        key, item = (checker(arg) for arg in typing.get_args(hint))

        def mapping(value: Any) -> Any:
            if type(value) is not dict:
                raise _Bad("must be an object")
            return {key(k): item(v) for k, v in value.items()}

        return mapping
    if hint in _TYPE_NAMES:
        return _from_text(hint) if text else _exact(hint)
    raise TypeError(f"no check for {hint}")


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    check: Check
    required: bool


@cache
def _fields(cls: type) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple(
        _Field(
            field.name,
            checker(hints[field.name]),
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING,
        )
        for field in dataclasses.fields(cls)
    )


def parse(cls: type[T], payload: Any, *, where: str = "body", unknown: str = "refuse") -> T:
    """An instance of the dataclass from decoded JSON, or Invalid naming every bad field.

    Fields that are not declared are refused (requests), or ignored with
    `unknown="ignore"` (queue messages: a newer sender may add fields during a deploy).
    """
    return cls(**parse_fields(cls, payload, where=where, unknown=unknown))


def parse_fields(
    cls: type, payload: Any, *, where: str = "body", unknown: str = "refuse"
) -> dict[str, Any]:
    """The fields the payload has, checked against the dataclass, or Invalid naming every
    bad field: what a PATCH changes (a field sent as null is there, with None; a field
    not sent is not). `parse` makes the instance from them, defaults filling the rest."""
    if type(payload) is not dict:
        raise Invalid([{"field": where, "reason": "must be a JSON object"}])
    errors: list[dict[str, str]] = []
    values: dict[str, Any] = {}
    fields = _fields(cls)
    for field in fields:
        if field.name not in payload:
            if field.required:
                errors.append({"field": field.name, "reason": "required"})
            continue
        try:
            values[field.name] = field.check(payload[field.name])
        except _Bad as bad:
            errors.append({"field": field.name, "reason": str(bad)})
    known = {field.name for field in fields}
    if unknown == "refuse":
        errors += [
            {"field": str(name), "reason": "is not an accepted field"}
            for name in payload
            if name not in known
        ]
    if errors:
        raise Invalid(errors)
    return values


def check_value(hint: Any, value: Any, *, field: str, text: bool = False) -> Any:
    """One value (a query or path parameter) checked against its annotation."""
    try:
        return checker(hint, text=text)(value)
    except _Bad as bad:
        raise Invalid([{"field": field, "reason": str(bad)}]) from None


def as_dict(instance: Any) -> dict[str, Any]:
    """Every field of a parsed payload (defaults included)."""
    return {field.name: getattr(instance, field.name) for field in dataclasses.fields(instance)}
