"""One global search interface over registered models.

Minimal first version (SearchEntry rows, LIKE matching). The backend-specific engines
(PostgreSQL full-text + trigram, SQLite FTS5) replace the matching in ``search``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from patron.core.models import SearchEntry

Describer = Callable[[Any], tuple[str, str, str]]
_registry: dict[str, Describer] = {}


def register(model: type[models.Model], describe: Describer) -> None:
    """``describe(record) -> (title, subtitle, searchable text)``."""
    _registry[model._meta.label_lower] = describe


def index_record(record: models.Model) -> None:
    describe = _registry.get(record._meta.label_lower)
    if describe is None:
        return
    title, subtitle, text = describe(record)
    SearchEntry.objects.update_or_create(
        content_type=ContentType.objects.get_for_model(type(record)),
        object_id=record.pk,
        defaults={"title": title[:300], "subtitle": subtitle[:300], "text": text},
    )


def unindex_record(record: models.Model) -> None:
    SearchEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(record)), object_id=record.pk
    ).delete()


@dataclass(frozen=True)
class Hit:
    object_type: str
    pk: int
    title: str
    subtitle: str
