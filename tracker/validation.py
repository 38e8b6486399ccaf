"""Turns pydantic's errors into one TrackerValidationError that names the field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from .errors import TrackerValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
# Branch names that pydantic puts into error locations; a user never wrote them.
_UNION_TAGS = {"bySubjectGrade", "byCode", "options", "flag"}


class WireModel(BaseModel):
    """Accepts JavaScript spelling (``runId``) and Python spelling (``run_id``); dumps camelCase."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class FieldValueError(ValueError):
    """Raised by a model-level check to name the field it is about (pydantic gives no location)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("metrics", "totalQuestions")`` -> ``"metrics.totalQuestions"``; list indexes as ``[0]``.

    Union branches that pydantic adds to the location (``function-after[...]``, tagged names)
    are not fields a user wrote, so they are left out.
    """
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in item or item in _UNION_TAGS:
            continue
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def describe(error: ValidationError) -> TrackerValidationError:
    details = []
    for item in error.errors(include_url=False):
        message = str(item["msg"])
        message = message.removeprefix("Value error, ")
        path = field_path(tuple(item["loc"]))
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, FieldValueError):
            path = f"{path}.{cause.field}" if path else cause.field
        details.append({"field": path, "message": message})
    first = details[0] if details else {"field": "", "message": "invalid input"}
    return TrackerValidationError(first["field"], first["message"], details)


def validate(model: type[ModelT], data: Any, *, prefix: str = "") -> ModelT:
    """Validates ``data`` into ``model`` or raises TrackerValidationError naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = describe(exc)
        if prefix:
            err = TrackerValidationError(
                f"{prefix}.{err.field}" if err.field else prefix,
                err.message,
                [{"field": f"{prefix}.{d['field']}", "message": d["message"]} for d in err.errors],
            )
        raise err from None


def not_bool(value: Any) -> Any:
    """Numbers from JavaScript must not be booleans, which pydantic would read as 0/1."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value
