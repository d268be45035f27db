"""Declarative mapping files: load, validate and compile them; apply and render them.

One file per product (``mappings/<system>/<product>.yaml``) says how that
product's messages become canonical events and how lookup results are rendered
in its own XML. docs/mapping.md describes the language.
"""

from .errors import MappingError
from .mapping import Mapping, load_mapping, load_mappings
from .samples import SampleReport, check_all

__all__ = ["Mapping", "MappingError", "SampleReport", "check_all", "load_mapping", "load_mappings"]
