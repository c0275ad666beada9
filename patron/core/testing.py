"""Helpers shared by every app's tests: factories for the platform, query counting,
and the visibility matrix."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.core.choices import OrgWideAccess
from patron.core.models import ObjectPermission, OrgWideDefault

_counter = itertools.count(1)


def grant(role: Any, object_type: str, *actions: str) -> ObjectPermission:
    """Give ``role`` the listed actions (create, read, update, delete, export, import)."""
    perm, _ = ObjectPermission.objects.get_or_create(role=role, object_type=object_type)
    for action in actions:
        setattr(perm, f"can_{action}", True)
    perm.save()
    return perm


def set_org_default(object_type: str, access: str = OrgWideAccess.PRIVATE) -> None:
    OrgWideDefault.objects.update_or_create(object_type=object_type, defaults={"access": access})


@contextmanager
def assert_max_queries(limit: int) -> Iterator[CaptureQueriesContext]:
    """Fail when the block runs more than ``limit`` queries (lists must not grow with rows)."""
    with CaptureQueriesContext(connection) as ctx:
        yield ctx
    count = len(ctx.captured_queries)
    if count > limit:
        listing = "\n".join(f"{i}. {q['sql']}" for i, q in enumerate(ctx.captured_queries, 1))
        raise AssertionError(f"{count} queries, expected at most {limit}:\n{listing}")


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"
