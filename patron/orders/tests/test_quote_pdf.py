"""The quote PDF: WeasyPrint renders it with the quote's number, the organisation's logo when
there is one and the TCO when asked; without WeasyPrint's libraries the answer is a clear 503."""

from __future__ import annotations

import sys
import zlib
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from patron.core.org import org_settings
from patron.core.testing import grant
from patron.orders import quote_services as qs
from patron.orders.models import Quote
from patron.orders.quote_pdf import quote_document_context, quote_pdf
from patron.orders.tests.conftest import api_client, login

pytestmark = pytest.mark.django_db

# A 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def quote_roles(order_roles):
    for role in order_roles.values():
        grant(role, "orders.quote", "create", "read", "update")


@pytest.fixture
def quote(rep, deal):
    quote = qs.quote_create_from_opportunity(user=rep, opportunity=deal, copy_lines=False)
    qs.quote_line_add(user=rep, quote=quote, description="Setup", quantity="1", unit_price="900")
    return Quote.objects.get(pk=quote.pk)


def _text(pdf: bytes) -> str:
    """The PDF's bytes with its deflated streams inflated, to look for words in it."""
    parts = [pdf.decode("latin-1")]
    for chunk in pdf.split(b"stream")[1:]:
        body = chunk.split(b"endstream")[0].strip(b"\r\n")
        try:
            parts.append(zlib.decompress(body).decode("latin-1"))
        except zlib.error:
            continue
    return "".join(parts)


def test_the_pdf_is_a_pdf_that_names_the_quote(quote):
    pdf = quote_pdf(quote)

    assert pdf.startswith(b"%PDF")
    assert f"Quote {quote.number}" in _text(pdf)


def test_the_organisations_logo_is_embedded_when_there_is_one(quote, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    without = _text(quote_pdf(quote))
    organisation = org_settings()
    organisation.logo.save("logo.png", ContentFile(PNG))

    assert quote_document_context(quote)["logo"].startswith("data:image/png;base64,")
    assert "/Subtype /Image" in _text(quote_pdf(quote))
    assert "/Subtype /Image" not in without


def test_the_tco_is_in_the_pdf_only_when_asked(quote, rep):
    qs.tco_item_add(user=rep, quote=quote, category="licence", amount="1000", recurrence="one_time")
    quote = Quote.objects.get(pk=quote.pk)
    assert "tco" not in quote_document_context(quote)

    quote = qs.quote_update(user=rep, quote=quote, tco_in_pdf=True, tco_years=2)
    context = quote_document_context(quote)
    assert context["tco"].cumulative == [Decimal("1000.00"), Decimal("1000.00")]
    assert quote_pdf(quote).startswith(b"%PDF")


def test_the_page_and_the_api_serve_the_pdf_to_readers_only(quote, rep, other_rep):
    page = login(rep).get(f"/quotes/{quote.pk}/pdf/")
    assert page.status_code == 200
    assert page["Content-Type"] == "application/pdf"
    assert page.content.startswith(b"%PDF")

    api = api_client(rep, "sales:read").get(f"/api/v1/quotes/{quote.pk}/pdf")
    assert api.status_code == 200
    assert api.content.startswith(b"%PDF")

    assert login(other_rep).get(f"/quotes/{quote.pk}/pdf/").status_code == 404
    assert api_client(other_rep).get(f"/api/v1/quotes/{quote.pk}/pdf").status_code == 404


def test_without_weasyprint_the_pdf_is_a_503_saying_what_to_install(quote, rep, monkeypatch):
    # None in sys.modules makes ``import weasyprint`` fail as on a machine without it.
    monkeypatch.setitem(sys.modules, "weasyprint", None)

    page = login(rep).get(f"/quotes/{quote.pk}/pdf/")
    assert page.status_code == 503
    assert "libpango" in page.content.decode()

    api = api_client(rep).get(f"/api/v1/quotes/{quote.pk}/pdf")
    assert api.status_code == 503
    assert "libpango" in api.json()["detail"]
