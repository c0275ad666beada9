"""The vCard pages: export of one contact and of a list, import with its report."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from patron.contacts.models import Contact
from patron.contacts.services import account_create, contact_channels_replace, contact_create
from patron.contacts.vcard import read_cards
from patron.core.choices import OrgWideAccess, SecurityEventKind
from patron.core.models import SecurityEvent
from patron.core.testing import assert_max_queries, grant, set_org_default
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db

VCARDS = Path(__file__).parent / "vcards"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_contact(user, last_name: str, email: str, **fields):
    contact = contact_create(user=user, last_name=last_name, **fields)
    return contact_channels_replace(
        user=user,
        contact=contact,
        emails=[{"kind": "work", "email": email, "is_primary": True}],
        phones=[
            {"kind": "mobile", "number": "+14155550100", "is_primary": True},
            {"kind": "home", "number": "+14155550111"},
        ],
        addresses=[{"kind": "work", "street": "1 Main St", "city": "Springfield", "country": "US"}],
    )


def body(response) -> bytes:
    data: bytes = response.getvalue() if response.streaming else response.content
    return data


# ---------- export ----------


def test_one_contact_downloads_as_a_named_vcard(rep):
    contact = make_contact(rep, "Ångström", "zoe@example.com", first_name="Zoë")
    response = client_for(rep).get(f"/contacts/{contact.pk}/vcard/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vcard; charset=utf-8"
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''zo%C3%AB-%C3%A5ngstr%C3%B6m.vcf"
    )
    (card,) = read_cards(response.content)
    assert card.last_name == "Ångström"
    assert [p.value for p in card.phones] == ["+14155550100", "+14155550111"]
    assert card.phones[0].pref == 1


def test_contact_the_user_cannot_see_gets_404(rep, other_rep):
    contact = make_contact(other_rep, "Hidden", "hidden@example.com")
    response = client_for(rep).get(f"/contacts/{contact.pk}/vcard/")
    assert response.status_code == 404


def test_birthdate_hidden_from_the_role_is_left_out(rep, admin_user):
    contact = contact_create(
        user=admin_user, last_name="Born", owner=rep, birthdate=datetime.date(1990, 1, 2)
    )
    as_rep = client_for(rep).get(f"/contacts/{contact.pk}/vcard/")
    as_admin = client_for(admin_user).get(f"/contacts/{contact.pk}/vcard/")
    assert b"BDAY" not in as_rep.content
    assert b"BDAY:19900102" in as_admin.content


@pytest.fixture
def reader(sales_roles):
    """A user whose role may read and create contacts but not export them."""
    role = make_role("Reader")
    grant(role, "contacts.contact", "read", "create")
    set_org_default("contacts.contact", OrgWideAccess.PUBLIC_READ)
    return UserFactory(role=role)


def test_export_needs_the_export_permission(reader, rep):
    contact = make_contact(rep, "Lee", "ana@example.com")
    client = client_for(reader)
    assert client.get(f"/contacts/{contact.pk}/vcard/").status_code == 403
    assert client.get("/contacts/vcard/").status_code == 403
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.EXPORT).exists()


def test_list_export_holds_only_visible_contacts_matching_the_filters(rep, other_rep):
    make_contact(rep, "Alpha", "alpha@example.com", title="CEO")
    make_contact(rep, "Beta", "beta@example.com", title="Intern")
    make_contact(other_rep, "Gamma", "gamma@example.com", title="CEO")
    response = client_for(rep).get("/contacts/vcard/?title=ceo")
    assert response.status_code == 200
    assert response.streaming
    names = [c.last_name for c in read_cards(body(response))]
    assert names == ["Alpha"]
    event = SecurityEvent.objects.get(kind=SecurityEventKind.EXPORT, user=rep)
    assert event.detail["format"] == "vcard"
    assert event.detail["rows"] == 1


def test_list_export_query_count_does_not_grow_with_contacts(rep):
    client = client_for(rep)
    make_contact(rep, "First", "first@example.com")
    with assert_max_queries(50) as few:
        small = body(client.get("/contacts/vcard/"))
    for index in range(15):
        make_contact(rep, f"Person{index}", f"p{index}@example.com")
    with assert_max_queries(len(few.captured_queries)):
        large = body(client.get("/contacts/vcard/"))
    assert small.count(b"BEGIN:VCARD") == 1
    assert large.count(b"BEGIN:VCARD") == 16


def test_list_export_over_the_cap_is_refused_with_a_message(rep, monkeypatch):
    from patron.contacts import vcard_services, vcard_views

    monkeypatch.setattr(vcard_services, "MAX_EXPORT_CONTACTS", 1)
    monkeypatch.setattr(vcard_views, "MAX_EXPORT_CONTACTS", 1)
    make_contact(rep, "One", "one@example.com")
    make_contact(rep, "Two", "two@example.com")
    response = client_for(rep).get("/contacts/vcard/")
    assert response.status_code == 400
    assert b"more than 1 contacts" in response.content
    assert not SecurityEvent.objects.filter(kind=SecurityEventKind.EXPORT).exists()


# ---------- import ----------


def upload(client: Client, name: str, data: bytes):
    return client.post(
        "/contacts/vcard/import/", {"file": SimpleUploadedFile(name, data, "text/vcard")}
    )


def test_import_page_shows_the_upload_form(rep):
    response = client_for(rep).get("/contacts/vcard/import/")
    assert response.status_code == 200
    assert 'enctype="multipart/form-data"' in response.content.decode()
    assert 'name="file"' in response.content.decode()


def test_import_page_needs_create_permission(db):
    role = make_role("Viewer")
    grant(role, "contacts.contact", "read")
    client = client_for(UserFactory(role=role))
    assert client.get("/contacts/vcard/import/").status_code == 403
    response = upload(client, "a.vcf", (VCARDS / "apple_contacts_3.0.vcf").read_bytes())
    assert response.status_code == 403
    assert not Contact.objects.exists()


def test_import_reports_created_skipped_and_failed_cards_and_keeps_the_good_ones(rep):
    account = account_create(user=rep, name="Acme Corp")
    make_contact(rep, "Existing", "lilei@example.cn")
    response = upload(
        client_for(rep), "google.vcf", (VCARDS / "google_contacts_3.0.vcf").read_bytes()
    )
    assert response.status_code == 200
    report = response.context["report"]
    assert report.skipped == [
        {
            "card": 1,
            "name": "雷 李",
            "reason": "A contact with the email lilei@example.cn already exists.",
        }
    ]
    assert [f["card"] for f in report.failed] == [2]
    assert report.failed[0]["name"] == "Ana Lee"
    assert report.failed[0]["errors"][0].startswith("TEL 'abc' is not a phone number")
    (created,) = report.created
    bob = Contact.objects.get(pk=created["id"])
    assert (bob.last_name, bob.account_id, bob.email) == ("Stone", account.pk, "bob@acme.example")
    assert f'href="/contacts/{bob.pk}/"' in response.content.decode()
    assert "TEL &#x27;abc&#x27; is not a phone number" in response.content.decode()
    assert not Contact.objects.filter(last_name="Lee").exists()


def test_import_of_address_book_quirks(rep):
    client = client_for(rep)
    for name in ("apple_contacts_3.0.vcf", "outlook_2.1.vcf", "folded_photo_4.0.vcf"):
        response = upload(client, name, (VCARDS / name).read_bytes())
        assert response.status_code == 200
        assert len(response.context["report"].created) == 1, response.context["report"]
    zoe = Contact.objects.get(last_name="Ångström")
    assert zoe.email == "zoe@nordic.example"
    assert sorted(e.email for e in zoe.emails.all()) == [
        "zoe.home@mail.example",
        "zoe@nordic.example",
    ]
    assert zoe.phone == "+46701234567"
    assert zoe.phones.count() == 3
    assert zoe.department == "Research"
    juergen = Contact.objects.get(last_name="Müller")
    assert juergen.first_name == "Jürgen"
    assert {p.kind for p in juergen.phones.all()} == {"work", "mobile", "fax"}
    address = juergen.addresses.get()
    assert (address.street, address.country) == ("Hauptstraße 5\nHinterhaus", "DE")
    long_name = Contact.objects.get(last_name="Ångström-Lindqvist")
    assert (long_name.language, long_name.time_zone) == ("sv", "Europe/Stockholm")
    assert long_name.birthdate is None


def test_org_without_a_visible_account_is_left_empty_with_a_note(rep):
    response = upload(
        client_for(rep), "apple.vcf", (VCARDS / "apple_contacts_3.0.vcf").read_bytes()
    )
    (created,) = response.context["report"].created
    assert Contact.objects.get(pk=created["id"]).account_id is None
    assert "ORG 'Nordic Widgets AB' matches no account you can see" in created["notes"][0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"hello world", "it has no BEGIN:VCARD"),
        (b"\x00\x01\x02binary junk", "binary data"),
        (b"BEGIN:VCARD\r\nFN:A\r\n", "has no END:VCARD"),
    ],
)
def test_malformed_file_gets_a_clear_error_and_imports_nothing(rep, data, message):
    response = upload(client_for(rep), "bad.vcf", data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Contact.objects.exists()


def test_file_over_the_size_limit_is_refused(rep, monkeypatch):
    from patron.contacts import vcard_views

    monkeypatch.setattr(vcard_views, "MAX_UPLOAD_BYTES", 100)
    data = (VCARDS / "apple_contacts_3.0.vcf").read_bytes()
    response = upload(client_for(rep), "big.vcf", data)
    assert response.status_code == 422
    assert "the limit is 0 MB" in response.content.decode()
    assert not Contact.objects.exists()


def test_export_then_import_into_a_clean_database_gives_the_same_contacts(admin_user):
    originals = [
        make_contact(admin_user, "Ångström", "zoe@example.com", first_name="Zoë"),
        make_contact(admin_user, "李", "lilei@example.cn", first_name="雷", title="CTO, Asia"),
    ]
    contact_channels_replace(
        user=admin_user,
        contact=originals[0],
        emails=[
            {"kind": "personal", "email": "zoe@home.example"},
            {"kind": "work", "email": "zoe@example.com", "is_primary": True},
            {"kind": "other", "email": "zoe@other.example"},
        ],
        addresses=[
            {"kind": "home", "street": "Gatan 1\nLgh 1101", "city": "Lund", "country": "SE"},
            {
                "kind": "billing",
                "street": "Box 12; c/o Acme",
                "city": "Malmö",
                "postal_code": "211 20",
                "is_primary": True,
            },
        ],
    )

    def snapshot() -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for contact in Contact.objects.order_by("last_name"):
            rows.append(
                (
                    contact.first_name,
                    contact.last_name,
                    contact.title,
                    contact.email,
                    contact.phone,
                    sorted((e.kind, e.email, e.is_primary) for e in contact.emails.all()),
                    sorted((p.kind, p.number, p.is_primary) for p in contact.phones.all()),
                    sorted(
                        (a.kind, a.street, a.city, a.postal_code, a.country, a.is_primary)
                        for a in contact.addresses.all()
                    ),
                )
            )
        return rows

    before = snapshot()
    client = client_for(admin_user)
    exported = body(client.get("/contacts/vcard/"))
    Contact.all_objects.all().delete()
    response = upload(client, "contacts.vcf", exported)
    assert len(response.context["report"].created) == 2
    assert snapshot() == before


def test_file_with_too_many_cards_is_refused_before_anything_is_saved(rep, monkeypatch):
    from patron.contacts import vcard_services

    monkeypatch.setattr(vcard_services, "MAX_IMPORT_CARDS", 2)
    data = b"BEGIN:VCARD\r\nFN:A B\r\nEND:VCARD\r\n" * 3
    response = upload(client_for(rep), "many.vcf", data)
    assert response.status_code == 422
    assert "The file holds 3 cards; import at most 2 at a time" in response.content.decode()
    assert not Contact.objects.exists()


def test_contact_pages_link_to_vcard_export_and_import(client, rep):
    from patron.contacts.services import contact_create

    contact = contact_create(user=rep, last_name="Lee", email="ana@example.com")
    client.force_login(rep)
    detail = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert f'href="/contacts/{contact.pk}/vcard/"' in detail
    listing = client.get("/contacts/?q=Lee").content.decode()
    assert 'href="/contacts/vcard/?q=Lee' in listing
    assert 'href="/contacts/vcard/import/"' in listing
    refreshed = client.get("/contacts/?q=Le", headers={"HX-Request": "true"}).content.decode()
    assert 'id="vcard-export"' in refreshed
    assert "vcard" not in client.get("/accounts/").content.decode().lower()
