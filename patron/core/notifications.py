"""In-app notifications (the bell in the layout): send once, list, mark read.

Any app sends with ``notification_send``; a repeated send with the same ``dedupe_key`` for
the same user changes nothing, so a task that runs twice notifies once.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from patron.core.exceptions import RecordNotFound
from patron.core.models import Notification

TITLE_MAX = Notification._meta.get_field("title").max_length or 300
URL_MAX = Notification._meta.get_field("url").max_length or 500


def notification_send(
    *,
    user: Any,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    dedupe_key: str = "",
) -> tuple[Notification, bool]:
    """The notification for ``user`` and whether it is new (False: already sent once)."""
    if dedupe_key:
        existing = Notification.objects.filter(user=user, dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing, False
    row = Notification(
        user=user,
        kind=kind,
        title=title[:TITLE_MAX],
        body=body,
        url=url if len(url) <= URL_MAX else "",
        dedupe_key=dedupe_key,
    )
    try:
        # A savepoint, so losing a race to a concurrent send leaves the caller's
        # transaction usable.
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return Notification.objects.get(user=user, dedupe_key=dedupe_key), False
    return row, True


def notification_list(*, user: Any) -> QuerySet[Notification]:
    """``user``'s notifications (no one else's), newest first."""
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def notification_get(*, user: Any, pk: Any) -> Notification:
    row = Notification.objects.filter(user=user, pk=pk).first() if str(pk).isdigit() else None
    if row is None:
        raise RecordNotFound(f"No notification with id {pk}.")
    return row


def notification_unread_count(*, user: Any) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_mark_read(*, user: Any, notification: Notification) -> Notification:
    """Mark one of ``user``'s notifications read (marking it again keeps the first time)."""
    if notification.user_id != user.pk:
        raise RecordNotFound(f"No notification with id {notification.pk}.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


def notification_mark_all_read(*, user: Any) -> int:
    """Mark every unread notification of ``user`` read; the number marked."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
