"""Helpers shared by every app's tests: factories for the platform, query counting,
and the visibility matrix."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from patron.core.choices import OrgWideAccess
from patron.core.models import ObjectPermission, OrgWideDefault

_counter = itertools.count(1)


def run_together(*calls: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """Run ``calls`` in threads released at the same moment (races on a real database);
    their results in order. An exception in any thread fails the caller, and each thread
    closes its own database connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except BaseException as error:  # reported to the caller, not swallowed
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not errors, errors
    return results


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


@dataclass(frozen=True)
class Endpoint:
    """One page or API endpoint that shows a record.

    ``kind`` decides how "sees it" is judged: ``list``, ``search`` and ``export`` must answer
    200 and contain (or not contain) the record's marker text; ``detail`` must answer 200 for a
    user who may see the record and 404 or 403 for one who may not.
    """

    name: str
    url: str
    kind: str
    headers: dict[str, str] = field(default_factory=dict)


def check_visibility_matrix(
    endpoints: list[Endpoint], *, marker: str, allowed: Any, denied: Any
) -> None:
    """Assert every endpoint shows the record to ``allowed`` and hides it from ``denied``.

    Pages echo their query (search box, filters): query with a part of ``marker``, never all
    of it, or the echo counts as "shown".
    """
    from django.test import Client

    failures: list[str] = []
    for user, may_see in ((allowed, True), (denied, False)):
        client = Client()
        client.force_login(user)
        for endpoint in endpoints:
            response = client.get(endpoint.url, headers=endpoint.headers)
            body = response.getvalue() if response.streaming else response.content
            shown = marker.encode() in body
            who = f"{user} ({'may' if may_see else 'may not'} see)"
            if endpoint.kind == "detail":
                ok = response.status_code == 200 if may_see else response.status_code in (403, 404)
            else:
                ok = response.status_code == 200 and shown == may_see
            if not ok:
                failures.append(
                    f"{endpoint.name} {endpoint.url}: {who} got {response.status_code}, "
                    f"marker {'shown' if shown else 'absent'}"
                )
    if failures:
        raise AssertionError("Visibility matrix failures:\n" + "\n".join(failures))
