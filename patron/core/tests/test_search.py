"""Global search: matching, ranking, visibility, soft delete, query counts, reindexing."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patron.contacts.models import Account, Contact
from patron.contacts.services import (
    account_create,
    account_delete,
    account_update,
    contact_create,
    contact_delete,
)
from patron.core import search, visibility
from patron.core.choices import ShareAccess
from patron.core.models import SearchEntry
from patron.core.sharing import share_grant
from patron.core.testing import assert_max_queries
from patron.users.models import Team, User
from patron.users.tests.factories import UserFactory, make_role

pytestmark = pytest.mark.django_db

# Two rankings and one visibility check each, the user's access profile and the content
# types: a fixed number.
SEARCH_QUERY_BUDGET = 8


def titles(hits: list[search.Hit]) -> list[str]:
    return [hit.title for hit in hits]


def fresh(user: User) -> User:
    """The user as a new request sees it: nothing cached on the instance."""
    return User.objects.get(pk=user.pk)


@pytest.fixture
def acme(rep):
    return account_create(
        user=rep, name="Acme Corporation", website="https://www.acme.com",
        phone="+1 415-555-0100", email="info@acme.com",
    )


@pytest.fixture
def ana(rep, acme):
    return contact_create(
        user=rep, first_name="Anastasia", last_name="Lee", email="ana.lee@globex.io",
        phone="+44 20 7946 0958", account=acme,
    )


@pytest.mark.parametrize(
    "query", ["+14155550100", "+1 415-555-0100", "4155550100", "(415) 555 0100",
              "415.555.0100", "1-415-555-0100", "555-0100"],
)
def test_phone_in_any_format_finds_the_account(rep, acme, query):
    assert titles(search.search(rep, query)) == ["Acme Corporation"]


@pytest.mark.parametrize("query", ["020 7946 0958", "+44 20 7946 0958", "442079460958"])
def test_national_and_international_phone_formats_find_the_contact(rep, ana, query):
    assert titles(search.search(rep, query)) == ["Anastasia Lee"]


def test_email_substring_finds_the_contact(rep, ana):
    assert titles(search.search(rep, "lee@glob")) == ["Anastasia Lee"]
    assert titles(search.search(rep, "ANA.LEE")) == ["Anastasia Lee"]


def test_domain_finds_the_account_and_the_people_who_work_there(rep, acme, ana):
    assert titles(search.search(rep, "acme.com")) == ["Acme Corporation"]
    assert titles(search.search(rep, "globex.io")) == ["Anastasia Lee"]


def test_name_fragment_finds_the_contact(rep, ana):
    assert titles(search.search(rep, "nastas")) == ["Anastasia Lee"]


def test_contact_is_found_by_its_account_name(rep, ana):
    hits = search.search(rep, "acme corp", object_types=["contacts.contact"])
    assert titles(hits) == ["Anastasia Lee"]


def test_every_word_of_the_query_must_match(rep, ana):
    contact_create(user=rep, first_name="Anastasia", last_name="Petrova")
    assert titles(search.search(rep, "anastasia lee")) == ["Anastasia Lee"]
    assert titles(search.search(rep, "lee anastasia")) == ["Anastasia Lee"]


def test_short_word_next_to_a_long_one_matches_a_word_start(rep):
    contact_create(user=rep, first_name="Li", last_name="Wei")
    contact_create(user=rep, first_name="Olivia", last_name="Weir")
    assert titles(search.search(rep, "li wei")) == ["Li Wei"]


def test_query_of_one_or_two_characters_matches_title_prefixes(rep, acme, ana):
    assert titles(search.search(rep, "ac")) == ["Acme Corporation"]
    assert titles(search.search(rep, "A")) == ["Acme Corporation", "Anastasia Lee"]
    assert search.search(rep, "ee") == []


def test_hit_carries_type_and_url(rep, acme, ana):
    hits = {hit.object_type: hit for hit in search.search(rep, "acme")}
    assert hits["contacts.account"].url == f"/accounts/{acme.pk}/"
    assert hits["contacts.account"].type_name == "account"
    assert hits["contacts.contact"].url == f"/contacts/{ana.pk}/"
    assert hits["contacts.contact"].type_label == "Contacts"


def test_exact_and_prefix_matches_rank_above_substrings(rep):
    for name in ("Bigstone Paper", "Stone", "Stonebridge Ltd", "Rolling Stone Media"):
        account_create(user=rep, name=name)
    contact_create(user=rep, first_name="Kim", last_name="Park", email="kim@stonemail.com")
    assert titles(search.search(rep, "stone")) == [
        "Stone",  # exact title
        "Stonebridge Ltd",  # title prefix
        "Rolling Stone Media",  # a word of the title
        "Kim Park",  # a word of the text (email)
        "Bigstone Paper",  # inside a word
    ]


def test_limit_keeps_the_best_matches(rep):
    for n in range(5):
        account_create(user=rep, name=f"Zeta Partner {n}")
    account_create(user=rep, name="Zeta")
    hits = search.search(rep, "zeta", limit=2)
    assert titles(hits) == ["Zeta", "Zeta Partner 0"]


def test_object_types_limits_the_search(rep, acme, ana):
    hits = search.search(rep, "acme", object_types=["contacts.account"])
    assert [hit.object_type for hit in hits] == ["contacts.account"]


def test_like_wildcards_in_the_query_match_literally(rep):
    account_create(user=rep, name="100% Juice")
    account_create(user=rep, name="1000 Juice")
    assert titles(search.search(rep, "100%")) == ["100% Juice"]
    assert search.search(rep, "a_c") == []


@pytest.mark.parametrize(
    "query", ['"', "'", "\\", "%%%", 'acme"', "a'b'c", "\x00acme", "😀😀😀", "(((", "NEAR(acme)",
              "acme OR x", "*", "^acme", "acme:", "-acme", "x" * 500, "\t\n", "a" * 3 + " b" * 50,
              "acme '", "acme &|", "acme !:", "acme \\"],
)
def test_odd_input_is_matched_literally_and_never_fails(rep, acme, query):
    hits = search.search(rep, query)
    assert all(hit.title == "Acme Corporation" for hit in hits)


def test_control_characters_separate_words(rep, acme):
    assert titles(search.search(rep, "\x00ac\x07me\u200b")) == []
    assert titles(search.search(rep, "\x00acme\x07")) == ["Acme Corporation"]


def test_stray_punctuation_next_to_a_word_is_ignored(rep, acme):
    assert titles(search.search(rep, "acme & ' -")) == ["Acme Corporation"]


def test_visibility_matrix(rep, other_rep, manager, admin_user, acme, ana):
    stranger_role = make_role("Support agent")
    no_read = UserFactory(role=stranger_role)
    inactive = UserFactory(role=rep.role, is_active=False)
    expected = {
        rep: ["Acme Corporation", "Anastasia Lee"],  # owner
        manager: ["Acme Corporation", "Anastasia Lee"],  # above the owner's role
        admin_user: ["Acme Corporation", "Anastasia Lee"],
        other_rep: [],  # same role, private org-wide default
        no_read: [],  # role without read permission
        inactive: [],
    }
    for user, visible in expected.items():
        assert titles(search.search(fresh(user), "acme")) == visible, user


def test_soft_deleted_records_are_not_found(rep, acme, ana):
    contact_delete(user=rep, contact=ana)
    assert titles(search.search(rep, "acme")) == ["Acme Corporation"]
    # Even an entry left behind (an import that skipped the services) is filtered in SQL.
    Account.all_objects.filter(pk=acme.pk).update(deleted_at=timezone.now())
    assert SearchEntry.objects.filter(object_id=acme.pk).exists()
    assert search.search(rep, "acme") == []


def test_query_count_is_bounded_and_does_not_grow_with_hits(rep):
    account_create(user=rep, name="Solo Widgets")
    search.search(rep, "warm up")  # content types are cached per process after first use
    user = fresh(rep)
    with assert_max_queries(SEARCH_QUERY_BUDGET) as one_hit:
        assert len(search.search(user, "widgets")) == 1
    for n in range(25):
        account_create(user=rep, name=f"Widgets {n}")
        contact_create(user=rep, last_name=f"Widgetson {n}")
    user = fresh(rep)
    with assert_max_queries(SEARCH_QUERY_BUDGET) as many_hits:
        assert len(search.search(user, "widgets", limit=50)) == 50
    assert len(many_hits.captured_queries) <= len(one_hit.captured_queries)


def test_renaming_an_account_reindexes_its_contacts(rep, acme, ana):
    account_update(user=rep, account=acme, name="Initech")
    assert titles(search.search(rep, "initech", object_types=["contacts.contact"])) == [
        "Anastasia Lee"
    ]


def test_renaming_an_account_reindexes_its_contacts_in_bulk(rep, acme, ana):
    with CaptureQueriesContext(connection) as one_contact:
        account_update(user=rep, account=acme, name="Initech")
    for n in range(10):
        contact_create(user=rep, last_name=f"Staff {n}", phone=f"+1415555{n:04d}", account=acme)
    with CaptureQueriesContext(connection) as many_contacts:
        account_update(user=rep, account=acme, name="Initrode")
    assert len(many_contacts.captured_queries) == len(one_contact.captured_queries)
    assert len(search.search(rep, "initrode", object_types=["contacts.contact"])) == 11


def test_typed_emails_and_phones_of_a_contact_are_indexed(rep):
    contact = contact_create(user=rep, last_name="Ng", email="ng@umbrella.org", phone="4155550199")
    hits = search.search(rep, "(415) 555-0199")
    assert [hit.pk for hit in hits] == [contact.pk]
    assert contact.emails.get().email == "ng@umbrella.org"


def test_reindex_command_rebuilds_entries_and_drops_deleted_records(rep, acme, ana):
    gone = account_create(user=rep, name="Gone Away Inc")
    SearchEntry.objects.all().delete()
    Account.all_objects.filter(pk=gone.pk).update(deleted_at=timezone.now())
    stale = SearchEntry.objects.create(
        content_type=ContentType.objects.get_for_model(Account), object_id=gone.pk,
        title="Gone Away Inc", text="Gone Away Inc",
    )
    call_command("search_reindex", "--batch-size", "1", stdout=_Sink())
    assert not SearchEntry.objects.filter(pk=stale.pk).exists()
    assert titles(search.search(rep, "acme")) == ["Acme Corporation", "Anastasia Lee"]
    assert titles(search.search(rep, "7946")) == ["Anastasia Lee"]


def test_reindex_batches_do_not_query_per_record(rep, acme):
    for n in range(10):
        contact_create(user=rep, last_name=f"Batch {n}", email=f"b{n}@acme.com", account=acme)
    with assert_max_queries(12):
        assert search.reindex(Contact, batch_size=100) == 10


def test_reindex_command_names_unknown_types(rep):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=r"contacts\.account"):
        call_command("search_reindex", "--type", "contacts.nothing", stdout=_Sink())


def test_unindexed_account_delete_removes_the_entry(rep, acme):
    account_delete(user=rep, account=acme)
    assert not SearchEntry.objects.filter(object_id=acme.pk).exists()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite FTS5 only")
def test_sqlite_fts_table_follows_inserts_updates_and_deletes(rep, acme):
    def fts_hits(term: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM core_searchentry_fts WHERE core_searchentry_fts MATCH %s",
                [f'"{term}"'],
            )
            return int(cursor.fetchone()[0])

    assert fts_hits("acme") == 1
    account_update(user=rep, account=acme, name="Initech", website="https://initech.com",
                   email="", phone="")
    assert (fts_hits("acme"), fts_hits("initech")) == (0, 1)
    SearchEntry.objects.all().delete()
    assert fts_hits("initech") == 0


def test_database_search_indexes_exist():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE tbl_name IN "
                "('core_searchentry', 'core_searchentry_fts') AND type IN ('trigger', 'index', "
                "'table') AND name LIKE 'core_searchentry_%%'"
            )
            expected = {
                "core_searchentry_fts", "core_searchentry_fts_insert",
                "core_searchentry_fts_update", "core_searchentry_fts_delete",
                "core_searchentry_title_nocase",
            }
        else:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'core_searchentry'"
            )
            expected = {
                "core_searchentry_text_trgm", "core_searchentry_text_tsv",
                "core_searchentry_title_lower",
            }
        assert expected <= {row[0] for row in cursor.fetchall()}


class _Sink:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def test_reindex_updates_entries_changed_behind_the_services(rep, acme):
    Account.all_objects.filter(pk=acme.pk).update(name="Umbrella Holdings")
    assert search.search(rep, "umbrella") == []
    search.reindex(Account)
    assert titles(search.search(rep, "umbrella")) == ["Umbrella Holdings"]
    assert search.search(rep, "corporation") == []


def test_only_models_with_visibility_can_be_registered():
    with pytest.raises(TypeError, match="visible_to"):
        search.register(ContentType, lambda record: ("", "", ""), url=str)


def test_broad_query_ranks_a_capped_sample_but_keeps_title_matches_first(rep, monkeypatch):
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    for n in range(6):
        account_create(user=rep, name=f"Xyz Holdings {n}")
    account_create(user=rep, name="Holdingsworth")
    account_create(user=rep, name="Holdings")
    hits = titles(search.search(rep, "holdings"))
    assert hits[:2] == ["Holdings", "Holdingsworth"]
    assert len(hits) == 5


def test_user_who_sees_few_of_the_capped_candidates_still_finds_their_records(
    rep, other_rep, monkeypatch
):
    monkeypatch.setattr(search, "MAX_CANDIDATES", 3)
    for n in range(6):
        account_create(user=other_rep, name=f"Holdings Group {n}")
        account_create(user=other_rep, name=f"Alpha Holdings {n}")
    account_create(user=rep, name="Zulu Holdings")
    # Every capped candidate (title prefixes first, then the best-ranked rest) belongs to
    # someone else; the rep's own record, ranked last, is still found.
    assert titles(search.search(fresh(rep), "holdings")) == ["Zulu Holdings"]


@pytest.fixture
def windows(monkeypatch):
    """How many ranked candidates each visibility check of a search was given."""
    sizes: list[int] = []
    readable = search._VisibilityChecker.readable

    def spy(checker, rows):
        sizes.append(len(rows))
        return readable(checker, rows)

    monkeypatch.setattr(search._VisibilityChecker, "readable", spy)
    return sizes


def quokkas(rep, other_rep, count, readable):
    """``count`` accounts ranked by name; ``readable(n)`` says whether the rep owns the n-th."""
    for n in range(count):
        account_create(user=rep if readable(n) else other_rep, name=f"Quokka Supplies {n:02}")


def test_visibility_is_checked_on_the_best_candidates_only(rep, other_rep, windows):
    quokkas(rep, other_rep, 40, lambda n: True)
    account_create(user=other_rep, name="Quokka Hidden")
    user = fresh(rep)
    search.search(user, "warm up")
    with CaptureQueriesContext(connection) as queries:
        hits = search.search(user, "quokka", limit=5)
    assert titles(hits) == [f"Quokka Supplies {n:02}" for n in range(5)]
    # One window of 5 x 5 ranked candidates: the rules ran on those 25 ids, not all 41.
    assert windows == [25]
    assert len([q for q in queries.captured_queries if "contacts_account" in q["sql"]]) == 1


def test_next_window_is_sized_from_the_share_the_user_could_read(rep, other_rep, windows):
    quokkas(rep, other_rep, 80, lambda n: n % 10 == 0)
    hits = search.search(fresh(rep), "quokka", limit=2)
    assert titles(hits) == ["Quokka Supplies 00", "Quokka Supplies 10"]
    # 1 of the first 10 readable (a tenth): the 1 missing needs 1 x 10 x 5 more, one window
    # of 50, not the 70 left.
    assert windows == [10, 50]


def test_user_who_reads_none_of_the_first_window_gets_the_rest_checked_at_once(
    rep, other_rep, windows
):
    quokkas(rep, other_rep, 40, lambda n: n >= 38)
    hits = search.search(fresh(rep), "quokka", limit=5)
    assert titles(hits) == ["Quokka Supplies 38", "Quokka Supplies 39"]
    assert windows == [25, 15]


@pytest.mark.parametrize("limit", [1, 3, 7, 20])
@pytest.mark.parametrize(
    "pattern", [lambda n: n % 2 == 0, lambda n: n % 7 == 3, lambda n: n > 30, lambda n: n < 4]
)
def test_windows_find_exactly_the_best_records_the_user_may_read(
    rep, other_rep, manager, limit, pattern
):
    quokkas(rep, other_rep, 45, pattern)
    deleted = Account.objects.get(name="Quokka Supplies 00")
    account_delete(user=deleted.owner, account=deleted)
    for user in (rep, other_rep, manager):
        expected = list(
            Account.objects.visible_to(fresh(user))
            .filter(name__startswith="Quokka")
            .order_by("name")
            .values_list("name", flat=True)[:limit]
        )
        assert titles(search.search(fresh(user), "quokka", limit=limit)) == expected, user


def test_type_whose_rules_select_nothing_is_left_out_of_the_check(rep, acme, ana, monkeypatch):
    compile_rules = visibility.visibility_filter

    def nothing_for_accounts(model, user, action):
        return Q(pk__in=[]) if model is Account else compile_rules(model, user, action)

    monkeypatch.setattr(visibility, "visibility_filter", nothing_for_accounts)
    assert titles(search.search(fresh(rep), "acme")) == ["Anastasia Lee"]


def test_a_later_search_with_the_same_access_reuses_the_compiled_rules(rep, acme, ana, rule_builds):
    assert titles(search.search(fresh(rep), "acme")) == ["Acme Corporation", "Anastasia Lee"]
    assert rule_builds
    rule_builds.clear()
    # A new request reads the profile afresh; unchanged, it builds no rules.
    assert titles(search.search(fresh(rep), "acme")) == ["Acme Corporation", "Anastasia Lee"]
    assert rule_builds == []


def test_a_change_of_access_applies_to_the_next_search_at_once(
    rep, other_rep, manager, acme, ana
):
    assert search.search(fresh(other_rep), "acme") == []
    team = Team.objects.create(name="Acme deal")
    team.members.add(other_rep)
    Account.objects.filter(pk=acme.pk).update(team=team)
    assert titles(search.search(fresh(other_rep), "acme")) == ["Acme Corporation"]
    # A share is a row the compiled SQL reads when it runs, not part of it.
    share_grant(user=rep, record=ana, grantee_user=other_rep, access=ShareAccess.READ)
    assert titles(search.search(fresh(other_rep), "acme")) == ["Acme Corporation", "Anastasia Lee"]
    team.members.remove(other_rep)
    assert titles(search.search(fresh(other_rep), "acme")) == ["Anastasia Lee"]
    # Given the manager's role, above the owner's, the hierarchy takes over.
    User.objects.filter(pk=other_rep.pk).update(role=manager.role)
    visible = titles(search.search(fresh(other_rep), "acme"))
    assert visible == ["Acme Corporation", "Anastasia Lee"]


def test_compiled_rules_kept_are_bounded(rep, other_rep, manager, acme, monkeypatch):
    monkeypatch.setattr(search._readable_sql_cache, "size", 2)
    for user in (rep, other_rep, manager):
        search.search(fresh(user), "acme")
    assert len(search._readable_sql_cache) == 2
