"""vCard reading and writing without the database: escaping, folding, quirks, bad files."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.contacts.vcard import (
    ContactCard,
    VCardError,
    components,
    escape,
    fold,
    read_cards,
    unescape,
    write_vcard,
)

VCARDS = Path(__file__).parent / "vcards"


def test_escape_and_unescape_are_inverse_for_specials():
    text = "a,b;c\\d\nnew line"
    assert escape(text) == "a\\,b\\;c\\\\d\\nnew line"
    assert unescape(escape(text)) == text


def test_structured_value_splits_only_on_unescaped_semicolons():
    assert components("Lee\\;Smith;Ana;;Dr.;") == ["Lee;Smith", "Ana", "", "Dr.", ""]
    assert components("a\\\\;b") == ["a\\", "b"]


def test_fold_keeps_lines_within_75_octets_and_multibyte_characters_whole():
    line = "NOTE:" + "李" * 60
    folded = fold(line)
    physical = folded.split("\r\n")[:-1]
    assert all(len(p.encode("utf-8")) <= 75 for p in physical)
    assert all(p.startswith(" ") for p in physical[1:])
    assert "".join([physical[0], *(p[1:] for p in physical[1:])]) == line


def test_written_card_uses_crlf_and_reads_back():
    card = ContactCard(
        pk=7,
        first_name="Zoë",
        last_name="Ångström",
        title="Head, R&D; Nordics",
        organisation="Nordic Widgets AB",
        note="Line one\nLine two, with comma",
        birthdate=datetime.date(1985, 4, 12),
        updated_at=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        emails=(("work", "zoe@nordic.example", True), ("personal", "z@home.example", False)),
        phones=(("mobile", "+46701234567", True), ("fax", "+4681234567", False)),
        addresses=(
            {
                "kind": "home",
                "street": "Drottninggatan 1; 2 tr",
                "city": "Stockholm",
                "region": "",
                "postal_code": "111 51",
                "country": "SE",
                "is_primary": True,
            },
        ),
    )
    text = write_vcard(card)
    assert text.startswith("BEGIN:VCARD\r\nVERSION:4.0\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert "EMAIL;TYPE=work;PREF=1:zoe@nordic.example\r\n" in text
    assert "TEL;VALUE=uri;TYPE=cell;PREF=1:tel:+46701234567\r\n" in text
    assert "TITLE:Head\\, R&D\\; Nordics\r\n" in text
    assert "REV:20260102T030405Z\r\n" in text
    (back,) = read_cards(text.encode())
    assert (back.first_name, back.last_name, back.title) == ("Zoë", "Ångström", card.title)
    assert back.note == card.note
    assert back.birthdate == card.birthdate
    assert [(e.kind, e.value, e.pref) for e in back.emails] == [
        ("work", "zoe@nordic.example", 1),
        ("personal", "z@home.example", 100),
    ]
    assert [p.kind for p in back.phones] == ["mobile", "fax"]
    assert back.addresses[0]["street"] == "Drottninggatan 1; 2 tr"


def test_uid_is_stable_per_contact():
    first = write_vcard(ContactCard(pk=1, first_name="", last_name="A"))
    again = write_vcard(ContactCard(pk=1, first_name="", last_name="B"))
    other = write_vcard(ContactCard(pk=2, first_name="", last_name="A"))
    uid = next(line for line in first.split("\r\n") if line.startswith("UID:"))
    assert uid.startswith("UID:urn:uuid:")
    assert uid in again
    assert uid not in other


def test_apple_card_uses_group_labels_and_type_pref():
    (card,) = read_cards((VCARDS / "apple_contacts_3.0.vcf").read_bytes())
    assert (card.first_name, card.last_name) == ("Zoë", "Ångström")
    assert (card.organisation, card.department) == ("Nordic Widgets AB", "Research")
    assert [(e.kind, e.pref) for e in card.emails] == [("other", 1), ("personal", 100)]
    assert [p.kind for p in card.phones] == ["mobile", "work", "mobile"]
    assert card.addresses[0]["country"] == "SE"
    assert card.note == "Met at Nordic Conf, 2025.\nLikes tea."


def test_outlook_21_quoted_printable_charset_and_bare_parameters():
    (card,) = read_cards((VCARDS / "outlook_2.1.vcf").read_bytes())
    assert (card.first_name, card.last_name) == ("Jürgen", "Müller")
    assert card.title == "Verkaufsleiter Süd"
    assert [p.kind for p in card.phones] == ["work", "mobile", "fax"]
    assert card.emails[0].pref == 1
    address = card.addresses[0]
    assert address["street"] == "Hauptstraße 5\nHinterhaus"
    assert (address["city"], address["country"], address["kind"]) == ("Berlin", "DE", "work")
    assert card.note == "Zeile eins\nZeile zwei"


def test_folded_40_card_with_a_large_photo_reads_every_other_field():
    (card,) = read_cards((VCARDS / "folded_photo_4.0.vcf").read_bytes())
    assert card.last_name == "Ångström-Lindqvist"
    assert card.salutation == "Dr."
    assert card.note.endswith("with an escaped comma and a semicolon; too.")
    assert [p.kind for p in card.phones] == ["mobile"]
    assert (card.language, card.time_zone) == ("sv", "Europe/Stockholm")
    assert card.birthdate == datetime.date(1985, 4, 12)


def test_fn_is_used_when_n_is_missing_and_odd_values_become_notes():
    data = (
        b"BEGIN:VCARD\nVERSION:3.0\nFN:Mary Ann Smith\nTZ:-05:00\nBDAY:--0412\n"
        b"LANG:en-GB-x-very-long\nEND:VCARD\n"
    )
    (card,) = read_cards(data)
    assert card.language == ""
    assert (card.first_name, card.last_name) == ("Mary Ann", "Smith")
    assert card.time_zone == ""
    assert any(note.startswith("TZ '-05:00'") for note in card.notes)
    assert any(note.startswith("BDAY") for note in card.notes)
    assert any(note.startswith("LANG") for note in card.notes)


def test_21_base64_photo_without_folding_spaces_is_skipped():
    data = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\nN:Lee;Ana\r\nPHOTO;ENCODING=BASE64;TYPE=JPEG:\r\n"
        b"/9j/4AAQSkZJRgABAQEASABIAAD\r\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n\r\n"
        b"TEL;CELL:+1 415 555 0100\r\nEND:VCARD\r\n"
    )
    (card,) = read_cards(data)
    assert card.last_name == "Lee"
    assert [(p.kind, p.value) for p in card.phones] == [("mobile", "+1 415 555 0100")]


@pytest.mark.parametrize("zone", ["Foo/Bar", "../../etc/passwd", "+01:00"])
def test_time_zones_that_are_not_iana_names_are_left_out(zone):
    data = f"BEGIN:VCARD\nN:Lee;Ana\nTZ:{zone}\nEND:VCARD\n".encode()
    (card,) = read_cards(data)
    assert card.time_zone == ""
    assert card.notes == [f"TZ {zone!r} is not a time zone name; left out."]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"   \r\n", "empty"),
        ((VCARDS / "not_a_vcard.vcf").read_bytes(), "no BEGIN:VCARD"),
        ((VCARDS / "begin_without_end.vcf").read_bytes(), "no END:VCARD"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"BEGIN:VCARD\r\nFN:A" + b" " * 5000 + b"\x00\r\nEND:VCARD\r\n", "binary"),
        (b"END:VCARD\r\n", "without a BEGIN"),
        (b"BEGIN:VCARD\nFN:A\nBEGIN:VCARD\nFN:B\nEND:VCARD\n", "before the next BEGIN"),
    ],
)
def test_malformed_files_are_refused_with_a_reason(data, message):
    with pytest.raises(VCardError, match=message):
        read_cards(data)


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\r"),
        min_size=1,
    ).filter(lambda text: text.strip() == text and text.strip()),
)
def test_any_text_survives_escaping_and_folding(text):
    card = ContactCard(pk=1, first_name="", last_name=text, title=text, note=text)
    (back,) = read_cards(write_vcard(card).encode("utf-8"))
    assert (back.last_name, back.title, back.note) == (text, text, text)
