"""The benchmark data set: a realistic CRM database, bulk-loaded (used by bench/generate.py).

Not a benchmark itself (``make bench`` skips files starting with ``_``). Call ``build(scale)``
after ``django.setup()`` on a freshly migrated, empty database. At scale 1.0 PostgreSQL gets
200 users, 200,000 accounts, 1,000,000 contacts (each with its primary email and phone row),
1,000,000 opportunities, 5,000,000 activities (with their links), 500,000 leads and the
search entries of every account, contact, opportunity and lead; SQLite gets a tenth.

Skew: accounts are ranked, and contacts, opportunities and activities pick their account with
Zipf-like weights (rank ** -0.9), so the few largest accounts own tens of thousands of rows; the
top accounts are parents of many children (a hierarchy up to three levels). Owners follow the
account's owner mostly, and reps within a region are skewed too.

Visibility: every record type is private by org-wide default. Roles: CEO > three regional VPs
> two managers each > a rep role per manager, 200 users in all; 20 teams. The Central region
owns about 27 to 29 % of the records, and a "Key accounts" team (which the Central VP is on) about
3 % more, so ``BENCH_USER`` sees roughly 30 % of every list. Fixed emails let benchmarks find
the users again in a kept database.

Rows are plain tuples: PostgreSQL loads them with ``COPY ... FREEZE`` (psycopg's
``cursor.copy``) into each table truncated in the same transaction, with its secondary indexes
dropped during the load and rebuilt after it and foreign-key triggers off
(``session_replication_role = replica``; the generator writes only ids it has created).
Frozen rows are all-visible, so no VACUUM pass is needed before index-only scans. SQLite gets
multi-row ``executemany`` inserts in one transaction per table.
"""

from __future__ import annotations

import bisect
import csv
import datetime
import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAVEN = Path("/work/shared/datasets/maven-crm-sales")
MAVEN_FALLBACK = Path(__file__).resolve().parent.parent / "patron/contacts/demo_data"
PASSWORD = "bench-password"
BENCH_USER = "vp.central@bench.example"
ADMIN_USER = "admin@bench.example"
OBJECT_TYPES = (
    "contacts.account",
    "contacts.contact",
    "pipeline.opportunity",
    "activities.activity",
    "leads.lead",
)
REGIONS = (("Central", 0.29), ("East", 0.37), ("West", 0.34))
TEAMS = 20
KEY_TEAM_SHARE = 0.03
ZIPF = 0.9

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty",
    "Mark", "Sandra", "Paul", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Kenneth",
    "Donna", "Joshua", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa",
    "Timothy", "Deborah", "Ana", "Ben", "Chloe", "Elena", "Farid", "Grace", "Hiro", "Ines",
    "Jonas", "Kemi", "Liam", "Maya", "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Sanjay",
    "Tara", "Umar", "Vera", "Wen", "Ximena", "Yusuf", "Zoe", "Aisha", "Bjorn", "Carmen",
    "Dmitri", "Esther", "Fatima", "Giulia", "Hamid", "Ingrid", "Jamal", "Katarzyna", "Lucia",
    "Mateo", "Nadia", "Oskar", "Priya", "Rafael", "Sofia", "Tomasz", "Ulla", "Valentina",
    "Wei", "Yara", "Zeynep", "Arjun", "Beatriz", "Chen", "Diego", "Emma",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
    "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris",
    "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
    "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson",
    "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Andersen",
    "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Hughes", "Ito", "Jensen", "Kowalski",
    "Larsen", "Moreau", "Novak", "Okafor", "Park", "Quintero", "Rossi", "Silva", "Tanaka",
    "Urban", "Varga", "Weber", "Xu", "Zimmer", "Schmidt", "Muller", "Kim", "Patel", "Singh",
    "Kumar", "Cohen", "Murphy", "Kelly", "Sullivan", "Bianchi", "Romano", "Yamamoto",
    "Nakamura", "Ivanova", "Petrov", "Horvat", "Nowak", "Lindqvist", "Virtanen", "Oliveira",
    "Santos", "Fernandez", "Moreno", "Dijkstra", "Jansen", "Haddad", "Mensah", "Abara",
    "Brinkmann", "Marxen", "Losch", "Neubert", "Sewald", "Rouche", "Snelling", "Lampkin",
    "Hillebrand", "Vencill", "Frase", "Berthelot", "Freudenburg", "Colclough", "Huffines",
    "Schlecht", "Mclelland", "Cosme", "Papadopoulos", "Kinder", "Farren", "Hammack", "Cress",
)  # fmt: skip
TITLES = (
    ("Chief Executive Officer", "Executive"), ("Chief Financial Officer", "Finance"),
    ("Head of Procurement", "Procurement"), ("IT Director", "IT"),
    ("Operations Manager", "Operations"), ("Purchasing Specialist", "Procurement"),
    ("VP Engineering", "Engineering"), ("Account Executive", "Sales"),
    ("Marketing Manager", "Marketing"), ("Office Manager", "Administration"),
    ("Software Engineer", "Engineering"), ("Controller", "Finance"),
)  # fmt: skip
CITIES = (
    ("New York", "NY", "10001"), ("Chicago", "IL", "60601"), ("San Francisco", "CA", "94105"),
    ("Boston", "MA", "02110"), ("Seattle", "WA", "98101"), ("Denver", "CO", "80202"),
    ("Austin", "TX", "78701"), ("Atlanta", "GA", "30303"), ("Miami", "FL", "33131"),
    ("Minneapolis", "MN", "55401"), ("Phoenix", "AZ", "85004"), ("Portland", "OR", "97204"),
)  # fmt: skip
# US area codes; numbers are +1 <area> <local>, with local numbers unique per record kind.
AREAS = (
    "212", "312", "415", "617", "206", "303", "512", "404", "305", "612",
    "602", "503", "213", "713", "214", "215", "202", "702", "615", "919",
)  # fmt: skip
ACCOUNT_SUFFIXES = (
    "", " Holdings", " Group", " Labs", " International", " Systems", " Partners",
    " Solutions", " Industries", " Digital", " Logistics", " Health", " Energy", " Capital",
)  # fmt: skip
# (name, probability, forecast category, share of the rows)
STAGES = (
    ("Prospecting", 10, "pipeline", 0.12),
    ("Qualification", 20, "pipeline", 0.10),
    ("Proposal", 60, "best_case", 0.08),
    ("Negotiation", 80, "commit", 0.05),
    ("Won", 100, "closed_won", 0.30),
    ("Lost", 0, "closed_lost", 0.35),
)
LEAD_STATUSES = (("new", "New"), ("working", "Working"), ("nurturing", "Nurturing"),
                 ("qualified", "Qualified"), ("disqualified", "Disqualified"))  # fmt: skip
LEAD_SOURCES = ("web_form", "api", "import", "referral", "event", "partner", "cold_call",
                "advertising")  # fmt: skip
ACTIVITY_KINDS = (("task", 0.25), ("call", 0.3), ("email", 0.25), ("appointment", 0.1),
                  ("note", 0.1))  # fmt: skip


@dataclass(frozen=True)
class Counts:
    users: int
    accounts: int
    contacts: int
    opportunities: int
    activities: int
    leads: int

    @classmethod
    def at(cls, scale: float, vendor: str) -> Counts:
        factor = scale if vendor == "postgresql" else scale / 10
        return cls(
            users=200,
            accounts=max(100, round(200_000 * factor)),
            contacts=max(500, round(1_000_000 * factor)),
            opportunities=max(500, round(1_000_000 * factor)),
            activities=max(2_500, round(5_000_000 * factor)),
            leads=max(250, round(500_000 * factor)),
        )


@dataclass
class Users:
    """Who owns what: rep ids per region (with their skew weights) and their teams."""

    reps_by_region: dict[str, list[int]] = field(default_factory=dict)
    rep_weights: dict[str, list[float]] = field(default_factory=dict)
    team_of: dict[int, int] = field(default_factory=dict)
    key_team: int = 0
    admin: int = 0


def maven_accounts() -> list[tuple[str, str, int]]:
    """(name, sector, employees) of the Maven sample accounts."""
    folder = MAVEN if MAVEN.is_dir() else MAVEN_FALLBACK
    with (folder / "accounts.csv").open(newline="") as handle:
        return [
            (row["account"], row["sector"].replace("technolgy", "technology"),
             int(row["employees"] or 0))
            for row in csv.DictReader(handle)
        ]  # fmt: skip


def maven_people() -> tuple[list[str], list[str]]:
    """(agents, managers) of the Maven sample sales teams."""
    folder = MAVEN if MAVEN.is_dir() else MAVEN_FALLBACK
    with (folder / "sales_teams.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    managers = sorted({row["manager"] for row in rows})
    return [row["sales_agent"] for row in rows], managers


def maven_products() -> list[str]:
    folder = MAVEN if MAVEN.is_dir() else MAVEN_FALLBACK
    with (folder / "products.csv").open(newline="") as handle:
        return [row["product"] for row in csv.DictReader(handle)]


def zipf_cumulative(n: int, exponent: float = ZIPF) -> list[float]:
    return list(itertools.accumulate((rank + 1) ** -exponent for rank in range(n)))


def pick(rng: random.Random, cumulative: list[float]) -> int:
    """An index drawn with the weights behind ``cumulative`` (0-based)."""
    return bisect.bisect(cumulative, rng.random() * cumulative[-1])


def phone(area_index: int, local: int) -> str:
    return f"+1{AREAS[area_index % len(AREAS)]}{local:07d}"


def phone_search_terms(e164: str) -> list[str]:
    """What ``contacts.search.phone_terms`` gives for a +1 number, without parsing it
    (``check_phone_terms`` compares the two on a sample)."""
    digits = e164[1:]
    area, exchange, line = digits[1:4], digits[4:7], digits[7:]
    national = f"({area}) {exchange}-{line}"
    return [e164, digits, f"+1 {area}-{exchange}-{line}", national, digits[1:]]


def join_terms(parts: Iterable[str]) -> str:
    return " ".join(dict.fromkeys(p for p in parts if p))


def slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


class Clock:
    """Timestamps and dates as the text each database expects, drawn from a fixed pool."""

    def __init__(self, vendor: str, rng: random.Random) -> None:
        self.now = datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0)
        suffix = "+00" if vendor == "postgresql" else ""
        # One stamp every ~5 minutes over three years.
        self.stamps = [
            (self.now - datetime.timedelta(seconds=300 * n + rng.randrange(300))).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
            + suffix
            for n in range(315_000)
        ]
        self.today = self.now.date()

    def stamp(self, rng: random.Random) -> str:
        return self.stamps[int(rng.random() * len(self.stamps))]

    def date(self, offset_days: int) -> str:
        return (self.today + datetime.timedelta(days=offset_days)).isoformat()


class Loader:
    """Writes tuples into a table: COPY FREEZE on PostgreSQL, executemany on SQLite."""

    def __init__(self, log: Callable[[str], None]) -> None:
        from django.db import connection

        self.vendor = connection.vendor
        self.log = log
        self.timings: list[tuple[str, int, float]] = []
        self.loaded: set[str] = set()
        if self.vendor == "postgresql":
            import psycopg

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self.pg = psycopg.connect(**params, autocommit=True)
            self.pg.execute("SET maintenance_work_mem = '512MB'")
            self.pg.execute("SET synchronous_commit = off")

    def close(self) -> None:
        if self.vendor == "postgresql":
            self.pg.close()

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        began = time.perf_counter()
        if self.vendor == "postgresql":
            count = self._copy(table, columns, rows)
        else:
            count = self._insert(table, columns, rows)
        seconds = time.perf_counter() - began
        self.timings.append((table, count, seconds))
        self.loaded.add(table)
        rate = count / seconds if seconds else 0.0
        self.log(f"  {table:<28} {count:>10,} rows {seconds:>7.1f} s {rate:>10,.0f} rows/s")
        return count

    def _copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        self._check_truncate_is_safe(table)
        count = 0
        with self.pg.transaction():
            self.pg.execute("SET LOCAL session_replication_role = replica")
            indexes = self.pg.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname"
                " NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                (table, table),
            ).fetchall()
            for name, _definition in indexes:
                self.pg.execute(f'DROP INDEX "{name}"')
            # Truncated in this transaction, so COPY may write the rows frozen.
            self.pg.execute(f'TRUNCATE "{table}" CASCADE')
            names = ", ".join(f'"{c}"' for c in columns)
            with self.pg.cursor() as cursor:
                with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN (FREEZE)') as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
                for _name, definition in indexes:
                    cursor.execute(definition)
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"
                    f' (SELECT COALESCE(MAX(id), 0) + 1 FROM "{table}"), false)'
                )
        return count

    def _check_truncate_is_safe(self, table: str) -> None:
        """TRUNCATE ... CASCADE empties the tables that reference ``table``: none may hold
        rows this loader wrote (tables are loaded parents first)."""
        referencing = self.pg.execute(
            """
            WITH RECURSIVE refs(rel) AS (
                SELECT %s::regclass
                UNION SELECT c.conrelid FROM pg_constraint c JOIN refs ON c.confrelid = refs.rel
                WHERE c.contype = 'f'
            )
            SELECT relname FROM refs JOIN pg_class ON pg_class.oid = refs.rel
            """,
            (table,),
        ).fetchall()
        clash = {name for (name,) in referencing} & self.loaded
        if clash:
            raise RuntimeError(f"Loading {table} would truncate {sorted(clash)}: fix the order.")

    def _insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        from django.db import connection, transaction

        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("%s" for _ in columns)
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
        count = 0
        iterator = iter(rows)
        with transaction.atomic(), connection.cursor() as cursor:
            while chunk := list(itertools.islice(iterator, 5_000)):
                cursor.executemany(sql, chunk)
                count += len(chunk)
        return count


# --- users, roles, teams, permissions ---------------------------------------------------------


def build_users(rng: random.Random, counts: Counts) -> Users:
    from django.contrib.auth.hashers import make_password

    from patron.core.testing import grant, set_org_default
    from patron.users.models import Role, Team, User
    from patron.users.services import role_create

    agents, managers = maven_people()
    hashed = make_password(PASSWORD)
    actions = ("create", "read", "update", "delete", "export")
    result = Users()
    users: list[User] = []

    def person(email: str, name: str, role: Role | None) -> User:
        user = User(email=email, full_name=name, role=role, password=hashed)
        users.append(user)
        return user

    ceo_role = role_create(name="Bench CEO")
    person("ceo@bench.example", "Maven Chief", ceo_role)
    admin = User(email=ADMIN_USER, full_name="Bench Admin", password=hashed, is_superuser=True)
    admin.is_staff = True
    users.append(admin)
    roles = [ceo_role]
    rep_roles: dict[str, list[Role]] = {}
    spare = [f"{first} {last}" for first, last in zip(FIRST_NAMES, LAST_NAMES, strict=False)]
    manager_names = iter(managers + spare)
    for region, _share in REGIONS:
        vp_role = role_create(name=f"Bench VP {region}", parent=ceo_role)
        person(f"vp.{region.lower()}@bench.example", f"VP {region}", vp_role)
        roles.append(vp_role)
        for k in range(2):
            manager_role = role_create(name=f"Bench Manager {region} {k + 1}", parent=vp_role)
            rep_role = role_create(name=f"Bench Rep {region} {k + 1}", parent=manager_role)
            person(
                f"manager.{region.lower()}{k + 1}@bench.example", next(manager_names), manager_role
            )
            roles += [manager_role, rep_role]
            rep_roles.setdefault(region, []).append(rep_role)
    reps_total = counts.users - len(users)
    rep_names = agents + [
        f"{FIRST_NAMES[(n * 7) % len(FIRST_NAMES)]} {LAST_NAMES[(n * 11) % len(LAST_NAMES)]}"
        for n in range(reps_total)
    ]
    region_reps: dict[str, list[User]] = {region: [] for region, _ in REGIONS}
    for n in range(reps_total):
        region = REGIONS[n % len(REGIONS)][0]
        role = rep_roles[region][(n // len(REGIONS)) % 2]
        region_reps[region].append(person(f"rep{n + 1}@bench.example", rep_names[n], role))
    User.objects.bulk_create(users)
    for role in roles:
        for object_type in OBJECT_TYPES:
            grant(role, object_type, *actions)
    for object_type in OBJECT_TYPES:
        set_org_default(object_type)

    teams = Team.objects.bulk_create(
        [Team(name=f"Bench team {n + 1}") for n in range(TEAMS)] + [Team(name="Key accounts")]
    )
    saved = {u.email: u for u in User.objects.all()}
    memberships = []
    for region, reps in region_reps.items():
        ids = [saved[u.email].pk for u in reps]
        rng.shuffle(ids)
        result.reps_by_region[region] = ids
        result.rep_weights[region] = zipf_cumulative(len(ids), 0.7)
        for index, pk in enumerate(ids):
            team = teams[index % TEAMS]
            result.team_of[pk] = team.pk
            memberships.append(Team.members.through(team_id=team.pk, user_id=pk))
    key_team = teams[-1]
    memberships.append(Team.members.through(team_id=key_team.pk, user_id=saved[BENCH_USER].pk))
    Team.members.through.objects.bulk_create(memberships)
    result.key_team = key_team.pk
    result.admin = saved[ADMIN_USER].pk
    return result


# --- the record tables ------------------------------------------------------------------------


@dataclass
class World:
    """What later tables need to know about the accounts and contacts already written."""

    rng: random.Random
    clock: Clock
    counts: Counts
    users: Users
    pipeline: int = 0
    account_cumulative: list[float] = field(default_factory=list)
    account_owner: list[int] = field(default_factory=list)
    account_team: list[int | None] = field(default_factory=list)
    account_name: list[str] = field(default_factory=list)
    account_domain: list[str] = field(default_factory=list)
    account_contacts: list[list[int]] = field(default_factory=list)
    contact_owner: list[int] = field(default_factory=list)

    def region_owner(self) -> tuple[int, str]:
        roll, region = self.rng.random(), REGIONS[-1][0]
        for name, share in REGIONS:
            if roll < share:
                region = name
                break
            roll -= share
        reps = self.users.reps_by_region[region]
        return reps[pick(self.rng, self.users.rep_weights[region])], region

    def team_for(self, owner: int, region: str) -> int | None:
        """Most records have no team; a few have the owner's, and a few outside the Central
        region belong to the key accounts team (widening the bench user's view)."""
        roll = self.rng.random()
        if region != "Central" and roll < KEY_TEAM_SHARE / (1 - REGIONS[0][1]):
            return self.users.key_team
        if roll > 0.9:
            return self.users.team_of[owner]
        return None

    def account(self) -> int:
        """A 0-based account index, Zipf-weighted (low indexes are the big accounts)."""
        return pick(self.rng, self.account_cumulative)


def account_rows(world: World) -> Iterator[tuple[Any, ...]]:
    rng, clock, total = world.rng, world.clock, world.counts.accounts
    maven = maven_accounts()
    parents_top = max(5, total // 4000)
    parents_mid = max(50, total // 200)
    mid_cumulative = zipf_cumulative(parents_mid, 1.2)
    for index in range(total):
        base, sector, employees = maven[index % len(maven)]
        round_ = index // len(maven)
        suffix = ACCOUNT_SUFFIXES[round_ % len(ACCOUNT_SUFFIXES)]
        number = round_ // len(ACCOUNT_SUFFIXES)
        name = f"{base}{suffix}" + (f" {number}" if number else "")
        domain = f"{slug(base + suffix)}{number or ''}.com"
        parent: int | None = None
        if parents_top <= index < parents_mid and rng.random() < 0.5:
            parent = 1 + pick(rng, mid_cumulative[:parents_top]) % parents_top
        elif index >= parents_mid and rng.random() < 0.15:
            parent = 1 + pick(rng, mid_cumulative)
        owner, region = world.region_owner()
        team = world.team_for(owner, region)
        city, state, postal = CITIES[index % len(CITIES)]
        tier = (
            "strategic"
            if index < parents_top
            else "key"
            if index < parents_mid
            else ("standard" if index % 3 else "small")
        )
        created = clock.stamp(rng)
        world.account_owner.append(owner)
        world.account_team.append(team)
        world.account_name.append(name)
        world.account_domain.append(domain)
        world.account_contacts.append([])
        yield (
            index + 1, created, created, 1, None, "{}", "company", name, "", "",
            f"info@{domain}", phone(index, 6_000_000 + index), f"https://www.{domain}", domain,
            sector, max(1, employees + (index % 500) - 250), (index * 7919) % 5_000_000 + 10_000,
            "USD", tier, 1950 + index % 70, f"{1 + index % 999} Main Street", city, state,
            postal, "US", "", None, None, owner, parent, team, "",
        )  # fmt: skip


ACCOUNT_COLUMNS = (
    "id", "created_at", "updated_at", "version", "deleted_at", "custom", "kind", "name",
    "first_name", "last_name", "email", "phone", "website", "domain", "industry",
    "employee_count", "annual_revenue", "revenue_currency", "tier", "year_established",
    "billing_street", "billing_city", "billing_region", "billing_postal_code", "billing_country",
    "description", "created_by_id", "deleted_by_id", "owner_id", "parent_id", "team_id",
    "external_id",
)  # fmt: skip


def account_search(world: World) -> Iterator[tuple[Any, ...]]:
    for index, name in enumerate(world.account_name):
        domain = world.account_domain[index]
        industry = maven_accounts_sector(index)
        city = CITIES[index % len(CITIES)][0]
        email = f"info@{domain}"
        text = join_terms(
            [
                name,
                domain,
                email,
                domain,
                *phone_search_terms(phone(index, 6_000_000 + index)),
                f"https://www.{domain}",
            ]
        )
        yield index + 1, name[:300], " · ".join((industry, domain, city)), text


_SECTORS: list[str] = []


def maven_accounts_sector(index: int) -> str:
    if not _SECTORS:
        _SECTORS.extend(sector for _name, sector, _employees in maven_accounts())
    return _SECTORS[index % len(_SECTORS)]


CONTACT_COLUMNS = (
    "id", "created_at", "updated_at", "version", "deleted_at", "custom", "first_name",
    "last_name", "salutation", "title", "department", "email", "phone", "language",
    "time_zone", "birthdate", "social", "do_not_call", "email_opt_out", "description",
    "account_id", "created_by_id", "deleted_by_id", "owner_id", "team_id", "external_id",
)  # fmt: skip


def contact_name(index: int) -> tuple[str, str]:
    # Two different strides, so first and last names combine into many pairs.
    return (
        FIRST_NAMES[(index * 31 + index // 97) % len(FIRST_NAMES)],
        LAST_NAMES[(index * 17 + index // 89) % len(LAST_NAMES)],
    )


def contact_email(index: int, first: str, last: str, domain: str) -> str:
    return f"{first}.{last}{index + 1}@{domain}".lower()


def contact_rows(world: World) -> Iterator[tuple[Any, ...]]:
    rng, clock = world.rng, world.clock
    for index in range(world.counts.contacts):
        first, last = contact_name(index)
        account = world.account() if rng.random() < 0.95 else None
        if account is not None and rng.random() < 0.8:
            owner = world.account_owner[account]
            team = world.account_team[account]
        else:
            owner, region = world.region_owner()
            team = world.team_for(owner, region)
        domain = world.account_domain[account] if account is not None else "mail.example.com"
        if account is not None:
            world.account_contacts[account].append(index)
        world.contact_owner.append(owner)
        title, department = TITLES[index % len(TITLES)]
        created = clock.stamp(rng)
        yield (
            index + 1, created, created, 1, None, "{}", first, last, "", title, department,
            contact_email(index, first, last, domain), phone(index, 2_000_000 + index), "en", "",
            None, "{}", False, index % 29 == 0, "",
            None if account is None else account + 1, None, None, owner, team, "",
        )  # fmt: skip


def contact_channel_rows(world: World, kind: str) -> Iterator[tuple[Any, ...]]:
    """The primary email or phone row of every contact (what the contact page shows)."""
    account_of = contact_accounts(world)
    for index in range(world.counts.contacts):
        if kind == "email":
            first, last = contact_name(index)
            account = account_of[index]
            domain = world.account_domain[account] if account is not None else "mail.example.com"
            value = contact_email(index, first, last, domain)
        else:
            value = phone(index, 2_000_000 + index)
        yield index + 1, "work", value, True, index + 1


def contact_accounts(world: World) -> list[int | None]:
    account_of: list[int | None] = [None] * world.counts.contacts
    for account, contacts in enumerate(world.account_contacts):
        for contact in contacts:
            account_of[contact] = account
    return account_of


def contact_search(world: World) -> Iterator[tuple[Any, ...]]:
    account_of = contact_accounts(world)
    for index in range(world.counts.contacts):
        first, last = contact_name(index)
        account = account_of[index]
        account_name = world.account_name[account] if account is not None else ""
        domain = world.account_domain[account] if account is not None else "mail.example.com"
        email = contact_email(index, first, last, domain)
        full = f"{first} {last}"
        title = TITLES[index % len(TITLES)][0]
        subtitle = " · ".join(p for p in (title, account_name, email) if p)
        text = join_terms(
            [
                full,
                email,
                domain,
                *phone_search_terms(phone(index, 2_000_000 + index)),
                account_name,
            ]
        )
        yield index + 1, full, subtitle, text


OPPORTUNITY_COLUMNS = (
    "id", "created_at", "updated_at", "version", "deleted_at", "custom", "name", "amount",
    "currency", "amount_org", "close_date", "probability", "probability_is_manual",
    "forecast_category", "next_step", "source", "description", "loss_note", "engaged_on",
    "is_closed", "is_won", "closed_on", "stage_entered_at", "external_id", "account_id",
    "created_by_id", "deleted_by_id", "loss_reason_id", "owner_id", "team_id", "pipeline_id",
    "playbook_version_id", "stage_id",
)  # fmt: skip


def stage_cumulative() -> list[float]:
    return list(itertools.accumulate(share for *_rest, share in STAGES))


def opportunity_plan(world: World, stages: list[int]) -> Iterator[tuple[Any, ...]]:
    """(row, search entry) per opportunity, from one random stream."""
    rng, clock = world.rng, world.clock
    products = maven_products()
    cumulative = stage_cumulative()
    for index in range(world.counts.opportunities):
        account = world.account()
        stage = pick(rng, cumulative)
        name, probability, category, _share = STAGES[stage]
        closed = category in ("closed_won", "closed_lost")
        offset = rng.randrange(-900, -1) if closed else rng.randrange(-30, 180)
        close_date = clock.date(offset)
        amount = 500 + (index * 7919) % 99_500
        title = f"{world.account_name[account]} - {products[index % len(products)]}"
        created = clock.stamp(rng)
        row = (
            index + 1, created, created, 1, None, "{}", title, amount, "USD", amount,
            close_date, probability, False, category, "", "", "", "", None, closed,
            category == "closed_won", close_date if closed else None, created, "", account + 1,
            None, None, None, world.account_owner[account], world.account_team[account],
            world.pipeline, None, stages[stage],
        )  # fmt: skip
        entry = (
            index + 1,
            title[:300],
            " · ".join((world.account_name[account], name, close_date)),
            join_terms([title, world.account_name[account]]),
        )
        yield row, entry


ACTIVITY_COLUMNS = (
    "id", "created_at", "updated_at", "version", "deleted_at", "custom", "kind", "subject",
    "description", "occurred_at", "due_at", "priority", "status", "completed_at", "starts_at",
    "ends_at", "all_day", "location", "direction", "phone_number", "duration_seconds",
    "outcome", "email_from", "email_to", "sent_at", "assignee_id", "created_by_id",
    "deleted_by_id", "owner_id", "team_id",
)  # fmt: skip


def activity_plan(world: World) -> Iterator[tuple[tuple[Any, ...], list[tuple[int, int]]]]:
    """(activity row, [(kind of record, record index)] links): account 0 and contact 1."""
    rng, clock = world.rng, world.clock
    kinds = [kind for kind, _ in ACTIVITY_KINDS]
    kind_cumulative = list(itertools.accumulate(share for _, share in ACTIVITY_KINDS))
    for index in range(world.counts.activities):
        account = world.account()
        kind = kinds[pick(rng, kind_cumulative)]
        links = [(0, account)]
        contacts = world.account_contacts[account]
        if contacts and rng.random() < 0.5:
            links.append((1, contacts[int(rng.random() * len(contacts))]))
        when = clock.stamp(rng)
        name = world.account_name[account]
        done = rng.random() < 0.8
        row: tuple[Any, ...] = (
            index + 1, when, when, 1, None, "{}", kind, f"{kind.capitalize()}: {name}", "", when,
            when if kind == "task" else None, "normal" if kind == "task" else "",
            ("done" if done else "open") if kind == "task" else "",
            when if kind == "task" and done else None,
            when if kind == "appointment" else None, when if kind == "appointment" else None,
            False, "", "outbound" if kind == "call" else "",
            phone(index, 2_000_000 + index % 1_000_000) if kind == "call" else "",
            rng.randrange(30, 1800) if kind == "call" else None,
            "connected" if kind == "call" else "",
            "rep@bench.example" if kind == "email" else "",
            f"info@{world.account_domain[account]}" if kind == "email" else "",
            when if kind == "email" else None, None, None, None,
            world.account_owner[account], world.account_team[account],
        )  # fmt: skip
        yield row, links


LEAD_COLUMNS = (
    "id", "created_at", "updated_at", "version", "deleted_at", "custom", "salutation",
    "first_name", "last_name", "title", "email", "phone", "mobile", "language", "company",
    "website", "domain", "industry", "employee_count", "annual_revenue", "street", "city",
    "region", "postal_code", "country", "description", "email_opt_out", "source",
    "source_detail", "campaign", "status", "disqualification_reason", "disqualification_note",
    "score", "score_fit", "score_behaviour", "score_probability", "score_explanation",
    "routed_at", "first_response_due_at", "first_responded_at", "first_response_seconds",
    "deadline_breaches", "last_breach_at", "opt_in_state", "opt_in_confirmed_at",
    "converted_at", "converted_opportunity_id", "archived_at", "capture_form_id",
    "converted_account_id", "converted_by_id", "converted_contact_id", "created_by_id",
    "deleted_by_id", "matched_account_id", "matched_contact_id", "owner_id", "queue_id",
    "team_id", "external_id",
)  # fmt: skip


def lead_plan(world: World) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    rng, clock = world.rng, world.clock
    maven = maven_accounts()
    for index in range(world.counts.leads):
        first, last = contact_name(index * 7 + 3)
        base, sector, employees = maven[(index * 13) % len(maven)]
        company = f"{base} {CITIES[index % len(CITIES)][0]}"
        domain = f"{slug(company)}.com"
        email = f"{first}.{last}.lead{index + 1}@{domain}".lower()
        number = phone(index + 7, 4_000_000 + index)
        status, status_label = LEAD_STATUSES[index % len(LEAD_STATUSES)]
        owner, region = world.region_owner()
        city, state, postal = CITIES[index % len(CITIES)]
        created = clock.stamp(rng)
        row = (
            index + 1, created, created, 1, None, "{}", "", first, last, "", email, number, "",
            "en", company, f"https://{domain}", domain, sector, employees or None, None, "",
            city, state, postal, "US", "", False, LEAD_SOURCES[index % len(LEAD_SOURCES)], "",
            "", status, "", "", 0, 0, 0, None, "{}", None, None, None, None, 0, None,
            "not_required", None, None, None, None, None, None, None, None, None, None, None,
            None, owner, None, world.team_for(owner, region), "",
        )  # fmt: skip
        name = f"{first} {last}"
        entry = (
            index + 1,
            name,
            " · ".join((company, email, status_label, "Lead")),
            join_terms([name, company, email, domain, domain, *phone_search_terms(number)]),
        )
        yield row, entry


def check_phone_terms() -> None:
    """The hand-made phone terms must equal what search indexing writes."""
    from patron.contacts.search import phone_terms

    for index in range(0, 2_000_000, 99_991):
        number = phone(index, 2_000_000 + index)
        if phone_search_terms(number) != phone_terms(number):
            raise RuntimeError(f"{number}: {phone_search_terms(number)} != {phone_terms(number)}")


def build(scale: float, log: Callable[[str], None] = print, seed: int = 8) -> dict[str, Any]:
    """Fill the (migrated, empty) database; returns counts and timings."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from patron.activities.models import Activity
    from patron.contacts.models import Account, Contact
    from patron.leads.models import Lead
    from patron.pipeline.models import Opportunity, Pipeline, Stage

    check_phone_terms()
    began = time.perf_counter()
    rng = random.Random(seed)
    counts = Counts.at(scale, connection.vendor)
    log(f"Building on {connection.vendor} at scale {scale}: {counts}")
    users = build_users(rng, counts)
    world = World(rng=rng, clock=Clock(connection.vendor, rng), counts=counts, users=users)
    world.account_cumulative = zipf_cumulative(counts.accounts)
    pipeline = Pipeline.objects.create(name="New business", is_default=True)
    stages = [
        Stage.objects.create(
            pipeline=pipeline, name=name, position=position, probability=probability,
            forecast_category=category,
        ).pk
        for position, (name, probability, category, _share) in enumerate(STAGES)
    ]  # fmt: skip
    world.pipeline = pipeline.pk
    types = ContentType.objects.get_for_models(Account, Contact, Opportunity, Lead, Activity)
    ct = {model: content_type.pk for model, content_type in types.items()}

    loader = Loader(log)
    search_rows: list[Iterable[tuple[Any, ...]]] = []
    try:
        loader.load("contacts_account", ACCOUNT_COLUMNS, account_rows(world))
        search_rows.append((ct[Account], *entry) for entry in account_search(world))
        loader.load("contacts_contact", CONTACT_COLUMNS, contact_rows(world))
        loader.load(
            "contacts_contactemail",
            ("id", "kind", "email", "is_primary", "contact_id"),
            contact_channel_rows(world, "email"),
        )
        loader.load(
            "contacts_contactphone",
            ("id", "kind", "number", "is_primary", "contact_id"),
            contact_channel_rows(world, "phone"),
        )
        search_rows.append((ct[Contact], *entry) for entry in contact_search(world))
        # The 500 largest accounts have two team members each (from any region).
        reps = [pk for ids in users.reps_by_region.values() for pk in ids]
        team_members = [
            (2 * account + k + 1, "sales_engineer" if k else "account_manager", "read",
             world.clock.stamps[0], account + 1, None, reps[(2 * account + k) % len(reps)])
            for account in range(min(500, counts.accounts)) for k in (0, 1)
        ]  # fmt: skip
        loader.load(
            "contacts_accountteammember",
            ("id", "team_role", "access", "added_at", "account_id", "added_by_id", "user_id"),
            team_members,
        )

        opportunity_entries: list[tuple[Any, ...]] = []

        def opportunities() -> Iterator[tuple[Any, ...]]:
            for row, entry in opportunity_plan(world, stages):
                opportunity_entries.append((ct[Opportunity], *entry))
                yield row

        loader.load("pipeline_opportunity", OPPORTUNITY_COLUMNS, opportunities())
        search_rows.append(opportunity_entries)

        links: list[tuple[int, int, int, int]] = []

        def activities() -> Iterator[tuple[Any, ...]]:
            kinds = (ct[Account], ct[Contact])
            for row, row_links in activity_plan(world):
                for kind, record in row_links:
                    links.append((len(links) + 1, record + 1, row[0], kinds[kind]))
                yield row

        loader.load("activities_activity", ACTIVITY_COLUMNS, activities())
        loader.load(
            "activities_activitylink", ("id", "object_id", "activity_id", "content_type_id"), links
        )
        links.clear()

        lead_entries: list[tuple[Any, ...]] = []

        def leads() -> Iterator[tuple[Any, ...]]:
            for row, entry in lead_plan(world):
                lead_entries.append((ct[Lead], *entry))
                yield row

        loader.load("leads_lead", LEAD_COLUMNS, leads())
        search_rows.append(lead_entries)

        def entries() -> Iterator[tuple[Any, ...]]:
            for number, (content_type, object_id, title, subtitle, text) in enumerate(
                itertools.chain.from_iterable(search_rows), 1
            ):
                yield number, object_id, title, subtitle, text, content_type

        loader.load(
            "core_searchentry",
            ("id", "object_id", "title", "subtitle", "text", "content_type_id"),
            entries(),
        )
    finally:
        loader.close()
    analyzed = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"  ANALYZE {time.perf_counter() - analyzed:.1f} s")
    total = time.perf_counter() - began
    rows = sum(count for _table, count, _seconds in loader.timings)
    log(f"Built {rows:,} rows in {total:.1f} s ({rows / total:,.0f} rows/s overall)")
    return {"counts": counts, "timings": loader.timings, "seconds": total, "rows": rows}
