"""Rebuild the global search entries of registered models (after imports and restores)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from patron.core import search


class Command(BaseCommand):
    help = (
        "Rebuild the search entries of every searchable object type (or those named with "
        "--type) in batches; entries of deleted records are removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--type", dest="object_types", action="append", default=[], metavar="APP.MODEL",
            help="Only this object type, e.g. contacts.account (repeatable).",
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Records per batch (default 500).",
        )

    def handle(self, *args: Any, object_types: list[str], batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        types = {t.object_type: t for t in search.registered_types()}
        unknown = sorted(set(object_types) - set(types))
        if unknown:
            raise CommandError(
                f"Not searchable: {', '.join(unknown)}. Choose from: {', '.join(sorted(types))}."
            )
        for object_type in object_types or list(types):

            def report(done: int, name: str = object_type) -> None:
                self.stdout.write(f"{name}: {done} indexed…", ending="\r")

            count = search.reindex(types[object_type].model, batch_size=batch_size, on_batch=report)
            self.stdout.write(f"{object_type}: {count} records indexed.")
