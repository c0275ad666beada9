"""Login throttling in the shared Django cache (file cache or Redis), so that every app
process counts the same failures.

A window starts at the first failure for a key (an email address or a client IP) and lasts
LOGIN_THROTTLE_WINDOW seconds; once LOGIN_THROTTLE_ATTEMPTS failures fall in it, further
attempts for that key are refused until the window ends.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client address; behind PATRON_TRUSTED_PROXIES proxies, taken from X-Forwarded-For.

    Only the hops added by trusted proxies are believed: a client can put anything on the left.
    """
    trusted: int = settings.PATRON_TRUSTED_PROXIES
    candidate = str(request.META.get("REMOTE_ADDR") or "")
    if trusted > 0:
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= trusted:
            candidate = hops[-trusted]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _keys(email: str, ip: str | None) -> list[str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    keys = [f"login-throttle:email:{digest}"]
    if ip:
        keys.append(f"login-throttle:ip:{ip}")
    return keys


def retry_after(*, email: str, ip: str | None) -> int | None:
    """Seconds until ``email`` / ``ip`` may try again, or None when not throttled."""
    now = time.time()
    window = settings.LOGIN_THROTTLE_WINDOW
    waits: list[int] = []
    for key in _keys(email, ip):
        started = cache.get(f"{key}:start")
        if started is None:
            continue
        if int(cache.get(f"{key}:count") or 0) >= settings.LOGIN_THROTTLE_ATTEMPTS:
            waits.append(max(1, math.ceil(float(started) + window - now)))
    return max(waits) if waits else None


def retry_minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def failure_record(*, email: str, ip: str | None) -> None:
    """Count one failed attempt against the email address and the client IP."""
    now = time.time()
    window = settings.LOGIN_THROTTLE_WINDOW
    for key in _keys(email, ip):
        start_key, count_key = f"{key}:start", f"{key}:count"
        cache.add(start_key, now, window)
        started = float(cache.get(start_key) or now)
        remaining = max(1, math.ceil(started + window - now))
        if cache.add(count_key, 1, remaining):
            continue
        try:
            cache.incr(count_key)
        except ValueError:  # expired between add and incr
            cache.set(count_key, 1, remaining)
        # Some backends' incr() resets the expiry; keep it tied to the window.
        cache.touch(count_key, remaining)


def success_reset(*, email: str) -> None:
    """Forget failures for an email after a successful login (the IP count stays)."""
    key = _keys(email, None)[0]
    cache.delete_many([f"{key}:start", f"{key}:count"])
