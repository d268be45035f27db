"""What a mapping may say about a canonical model: its fields, their aliases and kinds.

Both halves of the engine check names against the model at load time: inbound
field keys (snake_case field names, or their camelCase wire aliases) and the
dotted paths of the response template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum

from pydantic import BaseModel

from ..xmlmodel import unwrap_annotation


@dataclass(frozen=True)
class FieldType:
    """A field's shape: ``kind`` is model, enum, date, datetime, bool, int, float or str."""

    kind: str
    py: type
    is_list: bool = False

    @property
    def label(self) -> str:
        inner = self.py.__name__
        return f"list of {inner}" if self.is_list else inner


@dataclass(frozen=True)
class ModelField:
    name: str
    alias: str
    type: FieldType
    required: bool


def field_type(annotation) -> FieldType:
    """Unwrap Optional/Annotated/list to the kind the engine needs."""
    annotation, is_list = unwrap_annotation(annotation)
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            kind = "model"
        elif issubclass(annotation, Enum):
            kind = "enum"
        elif issubclass(annotation, bool):
            kind = "bool"
        elif issubclass(annotation, datetime):
            kind = "datetime"
        elif issubclass(annotation, date):
            kind = "date"
        elif issubclass(annotation, int):
            kind = "int"
        elif issubclass(annotation, float):
            kind = "float"
        else:
            kind = "str"
        return FieldType(kind, annotation, is_list)
    return FieldType("str", str, is_list)


def model_fields(cls: type[BaseModel]) -> dict[str, ModelField]:
    """Every field of ``cls`` keyed by its Python name."""
    out = {}
    for name, info in cls.model_fields.items():
        out[name] = ModelField(name, info.alias or name, field_type(info.annotation), info.is_required())
    return out


def find_field(cls: type[BaseModel], key: str) -> ModelField | None:
    """The field ``key`` names, by Python name or wire alias."""
    fields = model_fields(cls)
    if key in fields:
        return fields[key]
    for f in fields.values():
        if f.alias == key:
            return f
    return None
