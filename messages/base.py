"""The frozen base model, field violations and the machinery for cross-field rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from types import UnionType
from typing import Any, Self, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

Loc = tuple[str | int, ...]
"""A location inside a message, as pydantic writes it: field names and list indices."""

Rule = tuple[Loc, str]
"""A broken cross-field rule: where, and what is wrong."""

RULE_ERROR = "rule"
"""The pydantic error type of a broken cross-field rule."""


class FieldViolation(BaseModel):
    """One broken rule of a message: the field's dotted path and what is wrong with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    message: str


def format_loc(loc: Sequence[str | int]) -> str:
    """Write a location as a dotted path with list indices in brackets (`a.b[2].c`)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def violations_from(
    error: ValidationError,
    *,
    skip: Callable[[ErrorDetails], bool] | None = None,
    strip: int = 0,
) -> list[FieldViolation]:
    """Translate a pydantic error into field violations, leaving out `strip` leading locations.

    Discriminated unions put the tag first in a location; `strip=1` leaves it out.
    """
    out: list[FieldViolation] = []
    for detail in error.errors(include_url=False, include_input=False):
        if skip is not None and skip(detail):
            continue
        message = detail["msg"].removeprefix("Value error, ")
        out.append(FieldViolation(path=format_loc(detail["loc"][strip:]) or "$", message=message))
    return out


def part(value: Any, key: str) -> Any:
    """Read `key` from raw input or a model, tolerantly: None where it cannot be read."""
    if isinstance(value, dict):
        return value.get(key)
    if isinstance(value, BaseModel):
        return getattr(value, key, None)
    return None


def items(value: Any) -> list[Any]:
    """Read a list from raw input tolerantly: an empty list where it is not one."""
    return list(value) if isinstance(value, list | tuple) else []


class Frozen(BaseModel):
    """Base of every message model: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """The cross-field rules that `value` (raw input or a model) breaks; none here."""
        return ()


class Checked(Frozen):
    """A model with rules that span its fields, stated in `cross_rules`.

    A valid model is checked after validation (`own_rules`, the fast path); `violations` also
    checks the rules on the raw input of an invalid message, so one pass reports every violation
    with its field path.
    """

    def own_rules(self) -> Iterable[Rule]:
        """The rules this validated model breaks (a subclass may read its fields faster)."""
        return self.cross_rules(self)

    @model_validator(mode="after")
    def _check_cross_rules(self) -> Self:
        broken = list(self.own_rules())
        if broken:
            raise ValidationError.from_exception_data(type(self).__name__, rule_errors(broken))
        return self


def rule_errors(rules: Iterable[Rule]) -> list[InitErrorDetails]:
    """Broken cross-field rules as the line errors of a pydantic ValidationError."""
    return [
        InitErrorDetails(type=PydanticCustomError(RULE_ERROR, message), loc=loc, input=None)
        for loc, message in rules
    ]


def broken_rules(model: type[BaseModel], value: Any, loc: Loc = ()) -> Iterator[Rule]:
    """Every cross-field rule that raw input breaks, in `model` and in the models inside it."""
    if issubclass(model, Frozen):
        for where, message in model.cross_rules(value):
            yield (*loc, *where), message
    if not isinstance(value, dict):
        return
    for name, field in model.model_fields.items():
        key = field.alias or name
        inner = value.get(key, value.get(name))
        for kind, many in _nested_models(field.annotation):
            if many:
                for index, element in enumerate(items(inner)):
                    yield from broken_rules(kind, element, (*loc, key, index))
            elif inner is not None:
                yield from broken_rules(kind, inner, (*loc, key))


def _nested_models(annotation: Any) -> list[tuple[type[BaseModel], bool]]:
    """The models a field holds, each with whether it holds a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        return [(kind, True) for kind, _ in _nested_models(args[0])]
    if origin in (Union, UnionType):
        return [found for arg in args for found in _nested_models(arg)]
    return []


def violations(
    model: type[BaseModel],
    raw: Any,
    error: ValidationError,
    *,
    skip: Callable[[ErrorDetails], bool] | None = None,
    strip: int = 0,
) -> list[FieldViolation]:
    """Every violation of `raw` as `model`: the validation errors and every broken rule."""
    found = violations_from(error, skip=skip, strip=strip)
    seen = {(v.path, v.message) for v in found}
    for loc, message in broken_rules(model, raw):
        violation = FieldViolation(path=format_loc(loc) or "$", message=message)
        if (violation.path, violation.message) not in seen:
            seen.add((violation.path, violation.message))
            found.append(violation)
    return found
