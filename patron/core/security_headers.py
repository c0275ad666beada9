"""Browser security headers Django's SecurityMiddleware does not send (issue 8).

Content-Security-Policy: pages load scripts only from Patron's own static files, so an
injected ``<script>`` or ``onerror=`` attribute does not run even if some output were left
unescaped. Styles allow ``'unsafe-inline'`` because templates still use ``style=""``
attributes (layout only; CSS cannot run script). Permissions-Policy turns off device APIs
a CRM never uses, so an injected frame or script cannot ask for them.

Both are set with ``setdefault``: a view that needs a different policy sets its own header.
Referrer-Policy, Cross-Origin-Opener-Policy, X-Content-Type-Options and HSTS come from
SecurityMiddleware and the ``SECURE_*`` settings.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        # data: for the inline SVG favicon and the icons the API docs page embeds.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


class SecurityHeadersMiddleware:
    """Add the Content-Security-Policy and Permissions-Policy headers to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
