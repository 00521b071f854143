"""The frozen base model, field violations and the machinery for cross-field rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

Loc = tuple[str | int, ...]
"""A location inside a message, as pydantic writes it: field names and list indices."""

Rule = tuple[Loc, str]
"""A broken cross-field rule: where, and what is wrong."""


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
    """Base of every message model: immutable, unknown fields rejected, cross-field rules checked.

    A subclass states rules that span fields in `cross_rules`; they are checked even when other
    fields are invalid (on the raw input, tolerantly), so one pass reports every violation with
    its field path.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    rule_type: ClassVar[str] = "rule"

    @classmethod
    def cross_rules(cls, value: Any) -> Iterable[Rule]:
        """Yield the cross-field rules that `value` (raw input or a model) breaks."""
        return ()

    @model_validator(mode="wrap")
    @classmethod
    def _check_cross_rules(cls, value: Any, handler: Callable[[Any], Any]) -> Any:
        if isinstance(value, cls):
            return handler(value)
        errors: list[InitErrorDetails] = []
        model = None
        try:
            model = handler(value)
        except ValidationError as exc:
            errors.extend(_reraise_details(exc))
        source = model if model is not None else value
        for loc, message in cls.cross_rules(source):
            errors.append(
                InitErrorDetails(
                    type=PydanticCustomError(cls.rule_type, message),
                    loc=loc,
                    input=None,
                )
            )
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return model


def _reraise_details(exc: ValidationError) -> list[InitErrorDetails]:
    """Carry the errors of an inner validation over into a combined error, messages kept."""
    return [
        InitErrorDetails(
            type=PydanticCustomError(detail["type"], detail["msg"]),
            loc=detail["loc"],
            input=detail.get("input"),
        )
        for detail in exc.errors(include_url=False)
    ]
