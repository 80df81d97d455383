"""Checks shared by the repository tests: an entity declares every attribute its repository writes."""

from __future__ import annotations

from typing import Any

from botscope.store.entity import Entity
from botscope.store.table import strip_keys


def undeclared_attributes(entity_type: type[Entity], raw_item: dict[str, Any]) -> set[str]:
    """Attributes of a stored item (storage keys aside) that ``entity_type`` would silently drop."""
    return set(strip_keys(raw_item)) - set(entity_type.model_fields)
