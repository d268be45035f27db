"""Canonical models to and from contract XML, driven by the models' own fields.

The directory's XSD (``cpbridge/directory/contract/directory.xsd``) is written
to the same rule this module follows, and a test holds the two together:

* one element per field, named by the field's alias, in field order;
* a list field is its element repeated (no wrapper);
* ``None`` is an absent element; booleans are ``true``/``false``; dates ISO 8601;
* the ``type`` discriminator of events is not in the XML (the operation says it).
"""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from enum import Enum

from lxml import etree
from pydantic import BaseModel, ValidationError

from .faults import Fault

_SKIP = {"type"}


def unwrap_annotation(annotation):
    """(inner type, is_list) for Optional[...], list[...], Annotated[...] and Literal[...] annotations."""
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            is_list = True
            annotation = typing.get_args(annotation)[0]
        elif origin is typing.Literal:
            annotation = str
        else:
            return annotation, is_list


def text_value(value) -> str:
    """The XML text of a canonical value: true/false, enum values, ISO 8601 dates, '' for None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def to_xml(model: BaseModel, tag: str, ns: str, nsmap: dict | None = None) -> etree._Element:
    """Render ``model`` as element ``{ns}tag``."""
    el = etree.Element(f"{{{ns}}}{tag}", nsmap=nsmap)
    _fill(el, model, ns)
    return el


def _fill(el: etree._Element, model: BaseModel, ns: str) -> None:
    for name, info in type(model).model_fields.items():
        if name in _SKIP:
            continue
        value = getattr(model, name)
        if value is None:
            continue
        alias = info.alias or name
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(el, f"{{{ns}}}{alias}")
            if isinstance(item, BaseModel):
                _fill(child, item, ns)
            else:
                child.text = text_value(item)


def _to_data(el: etree._Element, cls: type[BaseModel]) -> dict:
    fields = {(info.alias or name): info for name, info in cls.model_fields.items() if name not in _SKIP}
    data: dict = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        info = fields.get(local)
        if info is None:
            raise Fault("InvalidRequest", f"unexpected element <{local}> in <{etree.QName(el).localname}>", field=local)
        inner, is_list = unwrap_annotation(info.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            value = _to_data(child, inner)
        else:
            value = (child.text or "").strip()
        if is_list:
            data.setdefault(local, []).append(value)
        else:
            data[local] = value
    return data


def from_xml(el: etree._Element, cls: type[BaseModel], **extra) -> BaseModel:
    """Parse element ``el`` into ``cls``; a bad value is a Fault naming the field."""
    data = _to_data(el, cls)
    data.update(extra)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise fault_from_validation(exc) from None


def fault_from_validation(exc: ValidationError) -> Fault:
    """Turn the first pydantic error into an InvalidRequest fault naming its field path."""
    err = exc.errors()[0]
    path = ".".join(str(p) for p in err["loc"])
    return Fault("InvalidRequest", f"{path}: {err['msg']}", field=path)
