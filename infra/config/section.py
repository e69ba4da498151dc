"""The base of every section model: camelCase keys, unknown keys refused, finite numbers, no booleans for numbers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from .types import (
    accepts_bool,
    reject_bool,
)


class Section(BaseModel):
    """Common settings: camelCase keys in the file, unknown keys rejected, values frozen.

    Numbers are finite (no ``.inf`` or ``.nan``: no target takes them) and never
    booleans (pydantic would read ``true`` as 1): both rules apply to every field of
    every section, present and future, from this one place.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None or accepts_bool(field.annotation):
            return value
        return reject_bool(value)
