"""Write the OpenAPI document of /api/v1/, or check that a committed copy is current.

The document is generated without this installation's custom fields, so it is the same
on every machine (the live /api/v1/openapi.json adds them); ``--with-custom-fields``
includes them.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from patron.core.api.base import PatronAPI, mounted_api

API_NAMESPACE = "api-v1"


def render_schema(*, with_custom_fields: bool = False) -> str:
    api = mounted_api(API_NAMESPACE)
    prefix = reverse(f"{API_NAMESPACE}:api-root")
    if isinstance(api, PatronAPI):
        schema = api.get_openapi_schema(
            path_prefix=prefix, include_custom_fields=with_custom_fields
        )
    else:
        schema = api.get_openapi_schema(path_prefix=prefix)
    return json.dumps(schema, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = "Write the /api/v1/ OpenAPI document (sorted keys, indent 2), or --check a copy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output", "-o", help="Write the document to this file instead of stdout."
        )
        parser.add_argument(
            "--check",
            metavar="PATH",
            help="Exit non-zero if the document at PATH differs from the generated one.",
        )
        parser.add_argument(
            "--with-custom-fields",
            action="store_true",
            help="Include this database's custom fields (never for the committed copy).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        document = render_schema(with_custom_fields=options["with_custom_fields"])
        if options["check"]:
            self._check(Path(options["check"]), document)
            return
        if options["output"]:
            Path(options["output"]).write_text(document, encoding="utf-8")
            self.stdout.write(f"Wrote {options['output']}.")
            return
        self.stdout.write(document, ending="")

    def _check(self, path: Path, document: str) -> None:
        if not path.exists():
            raise CommandError(
                f"{path} does not exist. Create it with: "
                f"python manage.py openapi_schema --output {path}"
            )
        committed = path.read_text(encoding="utf-8")
        if committed == document:
            self.stdout.write(f"{path} matches the generated OpenAPI document.")
            return
        diff = list(
            difflib.unified_diff(
                committed.splitlines(),
                document.splitlines(),
                fromfile=str(path),
                tofile="generated",
                lineterm="",
                n=1,
            )
        )
        shown = "\n".join(diff[:40]) + ("\n..." if len(diff) > 40 else "")
        raise CommandError(
            f"{path} is out of date with the API code. Regenerate it with: "
            f"python manage.py openapi_schema --output {path}\n"
            f"and describe the change in docs/api-changelog.md.\n{shown}"
        )
