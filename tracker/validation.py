"""Turns pydantic's errors into one TrackerValidationError that names the field."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel

from .errors import TrackerValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
# Branch names that pydantic puts into error locations; a user never wrote them.
_UNION_TAGS = {"bySubjectGrade", "byCode", "options", "flag"}
# Validation context key: read what others send (a request body, a config file) leniently.
LENIENT = "lenient"
log = logging.getLogger("tracker.validation")


def is_lenient(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(LENIENT))


class WireModel(BaseModel):
    """Accepts JavaScript spelling (``runId``) and Python spelling (``run_id``); dumps camelCase."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )
    # Keys a lenient read drops without a warning (another client's spelling of the same thing).
    quiet_keys: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_unknown(cls, data: Any, info: ValidationInfo) -> Any:
        """Strict by default (``extra="forbid"``); a lenient read drops unknown keys instead."""
        if not isinstance(data, dict) or not is_lenient(info):
            return data
        known = known_keys(cls)
        return {key: value for key, value in data.items() if key in known}


@cache
def known_keys(model: type[BaseModel]) -> dict[str, str]:
    """Every spelling of a field (name and alias) -> the field name."""
    keys: dict[str, str] = {}
    for name, info in model.model_fields.items():
        keys[name] = name
        if info.alias:
            keys[info.alias] = name
    return keys


def unknown_keys(model: BaseModel, raw: Any, path: str = "") -> list[str]:
    """Paths of the keys in ``raw`` that ``model`` (validated from it) has no field for."""
    if not isinstance(raw, dict):
        return []
    known = known_keys(type(model))
    quiet = model.quiet_keys if isinstance(model, WireModel) else frozenset()
    found: list[str] = []
    for key, value in raw.items():
        here = f"{path}.{key}" if path else str(key)
        name = known.get(key) if isinstance(key, str) else None
        if name is None:
            if key not in quiet:
                found.append(here)
            continue
        child = getattr(model, name)
        if isinstance(child, BaseModel):
            found += unknown_keys(child, value, here)
        elif isinstance(child, list | tuple) and isinstance(value, list):
            for index, (item, raw_item) in enumerate(zip(child, value, strict=False)):
                if isinstance(item, BaseModel):
                    found += unknown_keys(item, raw_item, f"{here}[{index}]")
        elif isinstance(child, dict) and isinstance(value, dict):
            for item_key, item in child.items():
                if isinstance(item, BaseModel):
                    found += unknown_keys(item, value.get(item_key), f"{here}.{item_key}")
    return found


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


def validate(
    model: type[ModelT], data: Any, *, prefix: str = "", lenient: str | None = None
) -> ModelT:
    """Validates ``data`` into ``model`` or raises TrackerValidationError naming the field.

    ``lenient`` (what is read, e.g. ``"heartbeat body"``) ignores unknown keys, as other
    clients and newer versions may send more, and logs a warning naming each one: a typo
    should be noticed, not refused.
    """
    try:
        if lenient is None:
            return model.model_validate(data)
        parsed = model.model_validate(data, context={LENIENT: True})
    except ValidationError as exc:
        err = describe(exc)
        if prefix:
            err = TrackerValidationError(
                f"{prefix}.{err.field}" if err.field else prefix,
                err.message,
                [{"field": f"{prefix}.{d['field']}", "message": d["message"]} for d in err.errors],
            )
        raise err from None
    ignored = unknown_keys(parsed, data)
    if ignored:
        log.warning("%s: ignored unknown key(s) %s", lenient, ", ".join(ignored))
    return parsed


def not_bool(value: Any) -> Any:
    """Numbers from JavaScript must not be booleans, which pydantic would read as 0/1."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value
