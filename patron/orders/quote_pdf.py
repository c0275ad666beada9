"""A quote as a PDF, rendered on the server by WeasyPrint from an HTML template.

WeasyPrint needs the system's Pango libraries. They are optional at run time: without them
rendering raises ``PdfUnavailable`` (503, naming what to install), never a server error.
Only ``data:`` URLs are fetched while rendering (the logo is embedded), so a quote's text
can never make the server fetch a remote or local file.
"""

from __future__ import annotations

import base64
import mimetypes
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from patron.core.exceptions import PatronError
from patron.core.org import org_settings
from patron.orders import quote_selectors
from patron.orders.models import Quote
from patron.orders.tco import cost_items, tco_chart_svg, tco_table

INSTALL_HINT = (
    "PDF rendering needs WeasyPrint's system libraries; an administrator installs them with "
    "`apt-get install -y libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0`."
)
MAX_LOGO_BYTES = 2 * 1024 * 1024


class PdfUnavailable(PatronError):
    status = 503
    title = "PDF rendering unavailable"


def _logo_data_url() -> str:
    """The organisation's logo as a data: URL, or "" when there is none (or it is unreadable)."""
    logo = org_settings().logo
    if not logo:
        return ""
    try:
        with logo.open("rb") as handle:
            content = handle.read(MAX_LOGO_BYTES + 1)
    except OSError:
        return ""
    if len(content) > MAX_LOGO_BYTES:
        return ""
    mime = mimetypes.guess_type(logo.name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(content).decode()}"


def quote_document_context(quote: Quote) -> dict[str, Any]:
    """What the PDF shows: organisation, quote, lines, totals, terms and (if asked) the TCO."""
    organisation = org_settings()
    context: dict[str, Any] = {
        "organisation": organisation.name,
        "logo": _logo_data_url(),
        "quote": quote,
        "lines": quote_selectors.quote_lines(quote=quote),
        "issued": timezone.localdate(quote.created_at),
    }
    if quote.tco_in_pdf and quote.tco_years:
        table = tco_table(cost_items(quote_selectors.tco_items(quote=quote)), quote.tco_years)
        context["tco"] = table
        context["tco_chart"] = mark_safe(tco_chart_svg(table, currency=quote.currency))  # noqa: S308 - built from numbers and escaped text
    return context


def quote_pdf(quote: Quote) -> bytes:
    """The quote's PDF; ``PdfUnavailable`` when WeasyPrint cannot run on this machine."""
    html = render_to_string("orders/quote_pdf.html", quote_document_context(quote))
    try:
        # Imported here: its system libraries load on import and are optional.
        import weasyprint  # type: ignore[import-untyped]
    except (ImportError, OSError) as error:
        raise PdfUnavailable(f"{INSTALL_HINT} ({error})") from None
    fetcher = weasyprint.URLFetcher(allowed_protocols={"data"})
    document = weasyprint.HTML(string=html, url_fetcher=fetcher)
    pdf: bytes = document.write_pdf()
    return pdf


def pdf_filename(quote: Quote) -> str:
    return f"{quote.number}.pdf"
