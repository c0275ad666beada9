"""vCard reading (4.0, 3.0 and, leniently, 2.1) and writing (4.0, RFC 6350): pure functions.

Reading is written by hand rather than with vobject because the quirks real address books
produce (bare 2.1 parameters, quoted-printable soft breaks, CHARSET, Apple's grouped
``item1.`` labels, base64 photos without folding spaces) need leniency vobject lacks.
Nothing here touches the database: ``parse_vcards`` turns bytes into ``CardData`` values and
``write_vcard`` turns a contact's values into one card's text.
"""

from __future__ import annotations

import datetime
import quopri
import re
import uuid
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

MAX_LINE_OCTETS = 75
MAX_LANGUAGE_LENGTH = 10  # Contact.language
# uuid5 namespace for contact UIDs: one contact always gets the same UID.
UID_NAMESPACE = uuid.UUID("6f1d3c2a-8f7e-4b8e-9a39-2f4a6c1d5e70")

# Common country names address books write in ADR, mapped to ISO 3166 codes.
COUNTRY_CODES = {
    "united states": "US",
    "united states of america": "US",
    "usa": "US",
    "u.s.a.": "US",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "germany": "DE",
    "deutschland": "DE",
    "france": "FR",
    "spain": "ES",
    "españa": "ES",
    "italy": "IT",
    "italia": "IT",
    "netherlands": "NL",
    "the netherlands": "NL",
    "belgium": "BE",
    "switzerland": "CH",
    "schweiz": "CH",
    "austria": "AT",
    "österreich": "AT",
    "sweden": "SE",
    "sverige": "SE",
    "norway": "NO",
    "denmark": "DK",
    "finland": "FI",
    "ireland": "IE",
    "portugal": "PT",
    "poland": "PL",
    "canada": "CA",
    "mexico": "MX",
    "brazil": "BR",
    "australia": "AU",
    "new zealand": "NZ",
    "japan": "JP",
    "china": "CN",
    "中国": "CN",
    "india": "IN",
    "singapore": "SG",
}


class VCardError(ValueError):
    """The file as a whole cannot be read as vCards (nothing is imported)."""


@dataclass
class Property:
    name: str
    params: dict[str, list[str]]
    value: str
    group: str = ""

    def param(self, key: str) -> list[str]:
        return self.params.get(key, [])

    @property
    def types(self) -> set[str]:
        return {t.lower() for t in self.param("TYPE")}

    @property
    def pref(self) -> int:
        """Preference, lower is preferred: PREF=n (4.0), TYPE=pref or bare PREF (3.0/2.1)."""
        for value in self.param("PREF"):
            if value.isdigit():
                return int(value)
        return 1 if "pref" in self.types else 100


@dataclass
class Channel:
    kind: str
    value: str
    pref: int
    prop: str


@dataclass
class CardData:
    """One card's values, already decoded; ``notes`` say what was left out and why."""

    number: int
    formatted_name: str = ""
    first_name: str = ""
    last_name: str = ""
    salutation: str = ""
    title: str = ""
    organisation: str = ""
    department: str = ""
    language: str = ""
    time_zone: str = ""
    note: str = ""
    birthdate: datetime.date | None = None
    emails: list[Channel] = field(default_factory=list)
    phones: list[Channel] = field(default_factory=list)
    addresses: list[dict[str, str | bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        joined = " ".join(p for p in (self.first_name, self.last_name) if p)
        return joined or self.formatted_name or "no name"


# ---------- reading ----------


def _decode(data: bytes) -> str:
    """UTF-8 text; files in another charset are read byte for byte (CHARSET fixes values)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _split_name_params(head: str) -> tuple[str, str, dict[str, list[str]]]:
    """``item1.TEL;TYPE=work,voice;CELL`` -> group, name, params (bare values are TYPE)."""
    parts = _split_unquoted(head, ";")
    group, _, name = parts[0].rpartition(".")
    params: dict[str, list[str]] = {}
    for part in parts[1:]:
        if not part:
            continue
        key, sep, raw = part.partition("=")
        if not sep:
            bare = key.strip().upper()
            if bare in ("QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"):
                params.setdefault("ENCODING", []).append(bare)
            elif bare == "PREF":
                params.setdefault("TYPE", []).append("pref")
            else:
                params.setdefault("TYPE", []).append(bare.lower())
            continue
        key = key.strip().upper()
        values = [v.strip().strip('"') for v in _split_unquoted(raw, ",")]
        if key == "TYPE":
            # TYPE="work,voice" (quoted list, 4.0) means the same as TYPE=work,voice.
            values = [t.strip() for v in values for t in v.split(",")]
        params.setdefault(key, []).extend(v for v in values if v)
    return group, name.strip().upper(), params


def _split_unquoted(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _colon_index(line: str) -> int:
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            return index
    return -1


def _is_quoted_printable(head: str) -> bool:
    return "QUOTED-PRINTABLE" in head.upper()


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Unfolded content lines with their first physical line number.

    Folding is CRLF or LF followed by a space or tab. Quoted-printable values (2.1) continue
    after a line ending in ``=``; 2.1 base64 values continue on lines without a colon.
    """
    physical = re.split(r"\r\n|\n|\r", text)
    current: str | None = None
    start = 0
    for number, line in enumerate(physical, 1):
        if line[:1] in (" ", "\t") and current is not None:
            current += line[1:]
            continue
        if current is not None:
            colon = _colon_index(current)
            head = current[:colon] if colon >= 0 else ""
            if _is_quoted_printable(head) and current.endswith("="):
                current = current[:-1] + line
                continue
            if line and colon >= 0 and _colon_index(line) < 0 and "BASE64" in head.upper():
                current += line.strip()
                continue
            yield start, current
        current, start = line, number
    if current is not None:
        yield start, current


def parse_vcards(data: bytes) -> list[list[Property]]:
    """The cards in ``data`` as lists of properties, or VCardError saying what is wrong."""
    if not data.strip():
        raise VCardError("The file is empty.")
    # NUL never occurs in a vCard and no database stores it in text.
    if b"\x00" in data:
        raise VCardError("This is not a vCard file (it holds binary data); choose a .vcf file.")
    text = _decode(data)
    cards: list[list[Property]] = []
    current: list[Property] | None = None
    begin_line = 0
    for number, line in _logical_lines(text):
        if not line.strip():
            continue
        colon = _colon_index(line)
        if colon < 0:
            # A stray line (a broken fold or text around the cards) is ignored.
            continue
        group, name, params = _split_name_params(line[:colon])
        value = line[colon + 1 :]
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            if current is not None:
                raise VCardError(
                    f"The card that begins on line {begin_line} has no END:VCARD before the "
                    f"next BEGIN:VCARD on line {number}."
                )
            current, begin_line = [], number
        elif name == "END" and value.strip().upper() == "VCARD":
            if current is None:
                raise VCardError(f"Line {number} has END:VCARD without a BEGIN:VCARD before it.")
            cards.append(current)
            current = None
        elif current is not None:
            current.append(Property(name=name, params=params, value=value, group=group))
    if current is not None:
        raise VCardError(f"The card that begins on line {begin_line} has no END:VCARD.")
    if not cards:
        raise VCardError("This is not a vCard file: it has no BEGIN:VCARD … END:VCARD card.")
    return cards


def _charset_text(prop: Property, raw: bytes) -> str:
    charset = (prop.param("CHARSET") or ["utf-8"])[0]
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def raw_value(prop: Property) -> str:
    """The value with transfer encodings (quoted-printable, CHARSET) undone, still escaped."""
    encodings = {e.upper() for e in prop.param("ENCODING")}
    if "QUOTED-PRINTABLE" in encodings:
        return _charset_text(prop, quopri.decodestring(prop.value.encode("latin-1", "replace")))
    if prop.param("CHARSET"):
        try:
            return _charset_text(prop, prop.value.encode("latin-1"))
        except UnicodeEncodeError:
            return prop.value
    return prop.value


def unescape(text: str) -> str:
    r"""Undo RFC 6350 escaping: ``\\`` ``\,`` ``\;`` ``\n``/``\N``."""
    return re.sub(
        r"\\(.)", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text, flags=re.S
    ).replace("\r\n", "\n")


def components(text: str) -> list[str]:
    """A structured value (N, ADR, ORG) split on unescaped ``;``, each part unescaped."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            current.append(char + next(chars, ""))
        elif char == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [unescape(p).strip() for p in parts]


def _email_kind(types: set[str]) -> str:
    if "work" in types:
        return "work"
    if types & {"home", "personal"}:
        return "personal"
    return "other"


def _phone_kind(types: set[str]) -> str:
    if "fax" in types:
        return "fax"
    if types & {"cell", "mobile", "iphone"}:
        return "mobile"
    if "home" in types:
        return "home"
    if "work" in types:
        return "work"
    return "other"


def _address_kind(types: set[str]) -> str:
    for kind in ("work", "home"):
        if kind in types:
            return kind
    if "x-billing" in types:
        return "billing"
    if "x-shipping" in types:
        return "shipping"
    return "other"


# Apple Contacts labels (item1.X-ABLabel) for grouped properties without a TYPE.
_APPLE_LABELS = {"home": "home", "work": "work", "mobile": "cell", "iphone": "cell"}


def _label_types(label: str) -> set[str]:
    text = label.strip().lower().removeprefix("_$!<").removesuffix(">!$_")
    return {_APPLE_LABELS[text]} if text in _APPLE_LABELS else set()


def _country(value: str, card: CardData) -> str:
    text = value.strip()
    if not text:
        return ""
    if len(text) == 2 and text.isalpha():
        return text.upper()
    code = COUNTRY_CODES.get(text.lower())
    if code is None:
        card.notes.append(f"ADR country {text!r} is not a known country; left out.")
        return ""
    return code


def _birthdate(value: str, card: CardData) -> datetime.date | None:
    text = value.strip().split("T", 1)[0]
    for layout in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(text, layout).date()
        except ValueError:
            continue
    card.notes.append(f"BDAY {value!r} is not a full date; left out.")
    return None


def _time_zone(zone: str, card: CardData) -> str:
    """An IANA time zone name; offsets (3.0 ``-05:00``) cannot say which zone, so are noted."""
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        card.notes.append(f"TZ {zone!r} is not a time zone name; left out.")
        return ""
    return zone


def _most_preferred(props: list[Property]) -> Property | None:
    return min(props, key=lambda p: p.pref) if props else None


def read_card(number: int, properties: list[Property]) -> CardData:
    """The values of one card; properties Patron does not keep (PHOTO, X-...) are ignored."""
    card = CardData(number=number)
    by_name: dict[str, list[Property]] = {}
    labels: dict[str, set[str]] = {}
    for prop in properties:
        by_name.setdefault(prop.name, []).append(prop)
        if prop.name == "X-ABLABEL" and prop.group:
            labels[prop.group.lower()] = _label_types(unescape(raw_value(prop)))

    def types(prop: Property) -> set[str]:
        found = prop.types - {"pref", "internet", "voice", "x400", "intl", "postal", "parcel"}
        return found or labels.get(prop.group.lower(), set())

    if fn := _most_preferred(by_name.get("FN", [])):
        card.formatted_name = unescape(raw_value(fn)).strip()
    if name := _most_preferred(by_name.get("N", [])):
        parts = [*components(raw_value(name)), "", "", "", "", ""]
        card.last_name, card.first_name = parts[0], " ".join(p for p in parts[1:3] if p)
        card.salutation = parts[3]
    if not card.last_name and card.formatted_name:
        first, _, last = card.formatted_name.rpartition(" ")
        card.first_name = card.first_name or first
        card.last_name = last
    if org := _most_preferred(by_name.get("ORG", [])):
        parts = [*components(raw_value(org)), ""]
        card.organisation, card.department = parts[0], "; ".join(p for p in parts[1:] if p)
    for key, attribute in (("TITLE", "title"), ("NOTE", "note")):
        if found := _most_preferred(by_name.get(key, [])):
            setattr(card, attribute, unescape(raw_value(found)).strip())
    if lang := _most_preferred(by_name.get("LANG", [])):
        language = unescape(raw_value(lang)).strip()
        if len(language) <= MAX_LANGUAGE_LENGTH:
            card.language = language
        else:
            card.notes.append(f"LANG {language!r} is longer than a language tag; left out.")
    if tz := _most_preferred(by_name.get("TZ", [])):
        card.time_zone = _time_zone(unescape(raw_value(tz)).strip(), card)
    if bday := _most_preferred(by_name.get("BDAY", [])):
        card.birthdate = _birthdate(unescape(raw_value(bday)), card)
    for prop in by_name.get("EMAIL", []):
        value = unescape(raw_value(prop)).strip().removeprefix("mailto:")
        if value:
            card.emails.append(Channel(_email_kind(types(prop)), value, prop.pref, "EMAIL"))
    for prop in by_name.get("TEL", []):
        value = unescape(raw_value(prop)).strip().removeprefix("tel:")
        if value:
            card.phones.append(Channel(_phone_kind(types(prop)), value, prop.pref, "TEL"))
    preferred_address = _most_preferred(by_name.get("ADR", []))
    for prop in by_name.get("ADR", []):
        parts = [*components(raw_value(prop)), "", "", "", "", "", "", ""]
        street = ", ".join(p for p in (parts[0], parts[1]) if p)
        street = "\n".join(p for p in (street, parts[2]) if p)
        address: dict[str, str | bool] = {
            "kind": _address_kind(types(prop)),
            "street": street,
            "city": parts[3],
            "region": parts[4],
            "postal_code": parts[5],
            "country": _country(parts[6], card),
            "is_primary": prop is preferred_address,
        }
        if any(address[k] for k in ("street", "city", "region", "postal_code", "country")):
            card.addresses.append(address)
    return card


def read_cards(data: bytes) -> list[CardData]:
    """Every card in ``data``, numbered from 1; VCardError if the file is not vCards."""
    return [read_card(number, props) for number, props in enumerate(parse_vcards(data), 1)]


# ---------- writing ----------


def escape(text: str) -> str:
    r"""RFC 6350 text escaping: ``\`` ``,`` ``;`` and newlines."""
    return (
        text.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """``line`` folded at 75 octets with CRLF + space, never splitting a UTF-8 character."""
    out: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > MAX_LINE_OCTETS:
            out.append("".join(current))
            current, size = [" "], 1
        current.append(char)
        size += width
    out.append("".join(current))
    return "\r\n".join(out) + "\r\n"


def content_line(name: str, value: str, params: Iterable[tuple[str, str]] = ()) -> str:
    head = name + "".join(f";{key}={val}" for key, val in params)
    return fold(f"{head}:{value}")


def structured(*parts: str) -> str:
    return ";".join(escape(p) for p in parts)


def contact_uid(pk: int) -> str:
    return f"urn:uuid:{uuid.uuid5(UID_NAMESPACE, f'contacts.contact:{pk}')}"


EMAIL_TYPES = {"work": "work", "personal": "home"}
PHONE_TYPES = {
    "work": "work,voice",
    "mobile": "cell",
    "home": "home,voice",
    "fax": "fax",
    "other": "voice",
}
ADDRESS_TYPES = {"work": "work", "home": "home", "billing": "x-billing", "shipping": "x-shipping"}


@dataclass(frozen=True)
class ContactCard:
    """What a card says about one contact (the caller leaves out what the user may not see)."""

    pk: int
    first_name: str
    last_name: str
    salutation: str = ""
    title: str = ""
    organisation: str = ""
    department: str = ""
    language: str = ""
    time_zone: str = ""
    note: str = ""
    birthdate: datetime.date | None = None
    updated_at: datetime.datetime | None = None
    emails: tuple[tuple[str, str, bool], ...] = ()
    phones: tuple[tuple[str, str, bool], ...] = ()
    addresses: tuple[dict[str, str | bool], ...] = ()


def _typed(kind: str, table: dict[str, str], primary: bool) -> list[tuple[str, str]]:
    params = [("TYPE", table[kind])] if kind in table else []
    return [*params, ("PREF", "1")] if primary else params


def write_vcard(card: ContactCard) -> str:
    """One vCard 4.0 with CRLF line endings, folded at 75 octets."""
    full_name = " ".join(p for p in (card.first_name, card.last_name) if p)
    lines = [
        "BEGIN:VCARD\r\n",
        "VERSION:4.0\r\n",
        "PRODID:-//Patron//Patron CRM//EN\r\n",
        content_line("UID", contact_uid(card.pk)),
        content_line("FN", escape(full_name)),
        content_line("N", structured(card.last_name, card.first_name, "", card.salutation, "")),
    ]
    if card.organisation or card.department:
        lines.append(content_line("ORG", structured(card.organisation, card.department)))
    if card.title:
        lines.append(content_line("TITLE", escape(card.title)))
    for kind, email, primary in card.emails:
        lines.append(content_line("EMAIL", escape(email), _typed(kind, EMAIL_TYPES, primary)))
    for kind, number, primary in card.phones:
        params = [("VALUE", "uri"), *_typed(kind, PHONE_TYPES, primary)]
        lines.append(content_line("TEL", f"tel:{number}", params))
    for address in card.addresses:
        value = structured(
            "",
            "",
            str(address["street"]),
            str(address["city"]),
            str(address["region"]),
            str(address["postal_code"]),
            str(address["country"]),
        )
        params = _typed(str(address["kind"]), ADDRESS_TYPES, bool(address["is_primary"]))
        lines.append(content_line("ADR", value, params))
    if card.language:
        lines.append(content_line("LANG", escape(card.language)))
    if card.time_zone:
        lines.append(content_line("TZ", escape(card.time_zone)))
    if card.birthdate:
        lines.append(content_line("BDAY", card.birthdate.strftime("%Y%m%d")))
    if card.note:
        lines.append(content_line("NOTE", escape(card.note)))
    if card.updated_at:
        stamp = card.updated_at.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        lines.append(content_line("REV", stamp))
    lines.append("END:VCARD\r\n")
    return "".join(lines)
