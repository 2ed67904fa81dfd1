"""The word index of display names (mailboxes.names): how names are cut into words, every write
path keeps it, the recompute corrects rows written behind the panel's back, and the default
search finds a surname or any word of a name through it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from test_signup import pending, signup_domain, submit  # noqa: F401 (a fixture)

from domains.services import domain_delete, domain_rename
from mailadmin.lib import derived
from mailadmin.lib.words import name_words, search_words
from mailboxes import bulk, names, services
from mailboxes.models import Mailbox, NameWord
from signup import services as signup_services

PASSWORD = "Blue-Lantern-42"


def words_of(address: str) -> set[str]:
    return set(NameWord.objects.filter(address=address).values_list("word", flat=True))


def found(client, query: str) -> list[str]:
    response = client.get("/mailboxes/", {"q": query})
    assert response.status_code == 200
    return sorted(m.pk for m in response.context["listing"].objects)


# --- words -------------------------------------------------------------------------------------
def test_latin_names_are_cut_at_anything_but_letters_and_digits():
    assert name_words("Wei Chen") == {"wei", "chen"}
    assert name_words("  O'Brien-Smith, Jr. ") == {"o", "brien", "smith", "jr"}
    # full-width letters become ASCII; case is folded
    assert name_words("\uff21\uff22\uff23 Müller") == {"abc", "müller"}
    assert name_words("") == set()
    assert name_words("___ ---") == set()


def test_cjk_runs_are_indexed_by_every_suffix():
    assert name_words("陈伟明") == {"陈伟明", "伟明", "明"}
    assert name_words("陈伟 Wei Chen") == {"陈伟", "伟", "wei", "chen"}
    assert name_words("やまだ") == {"やまだ", "まだ", "だ"}
    assert name_words("김민수") == {"김민수", "민수", "수"}
    # a long run is cut, so a name cannot flood the index
    assert len(name_words("中" * 200)) == 16
    assert len(name_words("".join(chr(0x4E00 + i) for i in range(200)))) == 16


def test_search_words():
    assert search_words(" Wei  CHEN ") == ["wei", "chen"]
    assert search_words("伟明") == ["伟明"]
    assert search_words("!!!") == []


# --- write paths -------------------------------------------------------------------------------
def test_create_update_rename_and_delete_keep_the_index(personas):
    root = personas["superadmin"]
    mailbox = services.mailbox_create(
        domain="a.test", local_part="wchen", password=PASSWORD, name="Wei Chen", actor=root
    )
    assert words_of("wchen@a.test") == {"wei", "chen"}
    assert NameWord.objects.get(address="wchen@a.test", word="chen").domain == "a.test"
    services.mailbox_update(mailbox=mailbox, name="陈伟", actor=root)
    assert words_of("wchen@a.test") == {"陈伟", "伟"}
    renamed = services.mailbox_rename(mailbox=mailbox, local_part="chen.wei", actor=root)
    assert words_of("wchen@a.test") == set()
    assert words_of(renamed.username) == {"陈伟", "伟"}
    services.mailbox_delete(mailbox=renamed, actor=root)
    assert not NameWord.objects.filter(address__in=["wchen@a.test", renamed.username]).exists()


def test_an_update_without_a_name_change_keeps_the_words(personas):
    root = personas["superadmin"]
    mailbox = services.mailbox_create(
        domain="a.test", local_part="ann", password=PASSWORD, name="Ann Lee", actor=root
    )
    services.mailbox_update(mailbox=mailbox, active=False, actor=root)
    assert words_of("ann@a.test") == {"ann", "lee"}


def test_an_import_indexes_every_name(personas):
    rows = [
        {"local_part": f"p{i}", "name": f"Person {i} 王小{i}", "password": PASSWORD}
        for i in range(3)
    ]
    bulk.mailbox_import(domain="a.test", rows=rows, actor=personas["admin_a"])
    assert words_of("p1@a.test") == {"person", "1", "王小", "小"}
    assert NameWord.objects.filter(address__startswith="p", domain="a.test").count() == 12


def test_a_domain_rename_and_delete_move_and_forget_the_words(personas, make_domain):
    root = personas["superadmin"]
    make_domain("old.test")
    services.mailbox_create(
        domain="old.test", local_part="li", password=PASSWORD, name="Li Na", actor=root
    )
    domain_rename(domain="old.test", new_name="new.test", actor=root)
    assert set(NameWord.objects.filter(word="na").values_list("address", "domain")) == {
        ("li@new.test", "new.test")
    }
    domain_delete(domain="new.test", delete_all=True, confirm_domain="new.test", actor=root)
    assert not NameWord.objects.filter(domain__in=["old.test", "new.test"]).exists()


def test_a_signup_approval_indexes_the_name(client, signup_domain, personas):  # noqa: F811
    submit(client, name="Alice Wonder")
    signup_services.signup_approve(signup=pending(), actor=personas["superadmin"])
    assert words_of("alice@a.test") == {"alice", "wonder"}


@pytest.mark.parametrize("chunk", [1, 5000])
def test_the_recompute_corrects_rows_written_behind_the_panels_back(
    personas, make_mailbox, monkeypatch, chunk
):
    monkeypatch.setattr(derived, "CHUNK", chunk)  # the walk crosses chunks, or not
    make_mailbox("x@a.test", name="Old Name")  # an ORM save: indexed
    assert words_of("x@a.test") == {"old", "name"}
    # ExtMan writes: a name change, a new row, a deleted row (no signals)
    Mailbox.objects.filter(pk="x@a.test").update(name="Zhang San")
    Mailbox.objects.bulk_create(
        [Mailbox(username="y@a.test", uid="y", domain_id="a.test", name="Yuki Tanaka")]
    )
    NameWord.objects.create(word="ghost", address="gone@a.test", domain="a.test")
    changed = names.NAME_WORDS.reindex_all()
    assert changed == 2 + 2 + 2 + 1  # old words out, new in, y's in, the ghost out
    assert words_of("x@a.test") == {"zhang", "san"}
    assert words_of("y@a.test") == {"yuki", "tanaka"}
    assert not NameWord.objects.filter(address="gone@a.test").exists()
    assert names.NAME_WORDS.reindex_all() == 0


def test_the_periodic_recompute_task_reindexes_names(personas, make_mailbox):
    from domains.tasks import recompute_usage

    make_mailbox("x@a.test", name="Old")
    Mailbox.objects.filter(pk="x@a.test").update(name="New")
    recompute_usage()
    assert words_of("x@a.test") == {"new"}


# --- search ------------------------------------------------------------------------------------
@pytest.fixture
def people(personas, make_mailbox, make_domain):
    make_mailbox("wei@a.test", name="Wei Chen")
    make_mailbox("chenx@a.test", name="Someone Else")
    make_mailbox("cwm@a.test", name="陈伟明")
    make_mailbox("ann@a.test", name="Ann Chenoweth")
    make_mailbox("lee@b.test", name="Lee Chen")  # another domain


def test_the_default_search_finds_any_word_of_a_name(client_as, people):
    client = client_as("superadmin")
    assert found(client, "Chen") == ["ann@a.test", "chenx@a.test", "lee@b.test", "wei@a.test"]
    assert found(client, "wei chen") == ["wei@a.test"]  # every word
    assert found(client, "伟") == ["cwm@a.test"]
    assert found(client, "伟明") == ["cwm@a.test"]
    assert found(client, "陈伟") == ["cwm@a.test"]
    assert found(client, "明陈") == []
    assert found(client, "hen") == []  # inside a word: match=contains
    response = client.get("/mailboxes/", {"q": "hen", "match": "contains"})
    assert len(response.context["listing"].objects) == 4


def test_the_search_stays_in_scope(client_as, people):
    assert found(client_as("admin_a"), "chen") == ["ann@a.test", "chenx@a.test", "wei@a.test"]
    assert found(client_as("admin_b"), "chen") == ["lee@b.test"]
    assert found(client_as("superadmin"), "lee") == ["lee@b.test"]


def test_a_stale_index_row_never_shows_a_mailbox_out_of_scope(client_as, people):
    NameWord.objects.filter(address="lee@b.test").update(domain="a.test")  # a wrong domain
    NameWord.objects.create(word="chen", address="gone@a.test", domain="a.test")
    assert found(client_as("admin_a"), "chen") == ["ann@a.test", "chenx@a.test", "wei@a.test"]


def test_a_word_matching_more_names_than_the_lookup_limit_still_finds_all(
    client_as, people, monkeypatch
):
    monkeypatch.setattr(names, "LOOKUP_LIMIT", 1)
    client = client_as("superadmin")
    assert found(client, "Chen") == ["ann@a.test", "chenx@a.test", "lee@b.test", "wei@a.test"]


def test_the_search_takes_one_query_per_word(client_as, people, django_assert_max_num_queries):
    client = client_as("admin_a")
    client.get("/mailboxes/")
    with django_assert_max_num_queries(7):
        assert client.get("/mailboxes/?q=wei+chen").status_code == 200


@pytest.fixture
def namesakes(people, make_mailbox):
    make_mailbox("wang@a.test", name="王伟")
    make_mailbox("weic@a.test", name="Wei Chenko")
    make_mailbox("weic@b.test", name="Wei Chenko")  # another domain


def test_beyond_the_lookup_limit_the_search_takes_the_same_queries(
    client_as, namesakes, monkeypatch, django_assert_num_queries
):
    client = client_as("admin_a")
    client.get("/mailboxes/?domain=a.test")
    monkeypatch.setattr(names, "LOOKUP_LIMIT", 1)
    expected = {
        "chen": ["ann@a.test", "chenx@a.test", "wei@a.test", "weic@a.test"],
        "伟": ["cwm@a.test", "wang@a.test"],
        "wei chen": ["wei@a.test", "weic@a.test"],
        "wei": ["wei@a.test", "weic@a.test"],
    }
    # session, manager, the domain with its usage, the index lookup, the page, and the bounded
    # count (skipped when the lookup found more than the count's limit); when the lookup read
    # one indexed word ("wei"), whether the search word starts another one; for two words
    # the indexed words the longer one starts (the pair index is read for each of them)
    queries = {"chen": 6, "伟": 6, "wei chen": 7, "wei": 7}
    for query, addresses in expected.items():
        with django_assert_num_queries(queries[query]):
            response = client.get("/mailboxes/", {"domain": "a.test", "q": query})
        listing = response.context["listing"]
        assert sorted(m.pk for m in listing.objects) == addresses
        assert (listing.total, listing.total_capped) == (len(addresses), False)


@pytest.mark.mariadb
def test_on_mariadb_beyond_the_lookup_limit_each_row_is_checked_by_the_word_key(
    client_as, namesakes, monkeypatch
):
    if connection.vendor != "mysql":
        pytest.fail("needs MariaDB (DATABASE_URL=mysql://...)")
    monkeypatch.setattr(names, "LOOKUP_LIMIT", 1)
    client = client_as("admin_a")
    for query in ("伟", "wei chen"):
        with CaptureQueriesContext(connection) as captured:
            client.get("/mailboxes/", {"domain": "a.test", "q": query})
        page = next(q["sql"] for q in captured.captured_queries if "LIMIT 26" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {page}")
            columns = [c[0] for c in cursor.description]
            plans = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        # a lookup for each word on each row walked (and the quota sort key of the rows
        # shown); never every entry of the word materialised first (110 ms for a CJK
        # character at 1,000,000 mailboxes)
        dependent = [p for p in plans if p["select_type"] == "DEPENDENT SUBQUERY"]
        assert len(dependent) == len(query.split()) + 1, (page, plans)
        assert not any(p["select_type"] == "MATERIALIZED" for p in plans), plans


@pytest.fixture
def tanakas(personas, make_mailbox):
    for local in ("ken", "aki", "mio", "yui", "sora", "ren", "hana"):
        make_mailbox(f"{local}@a.test", name=f"{local.title()} Tanaka")
    make_mailbox("taro@b.test", name="Taro Tanaka")
    make_mailbox("tan@a.test", name="Tan Other")


@pytest.mark.parametrize(("limit", "listed"), [(1, 100), (2, 1), (3, 2), (3, 100), (1000, 100)])
def test_the_first_addresses_of_one_indexed_word_and_the_rows_after_them_are_all_found(
    client_as, tanakas, monkeypatch, limit, listed
):
    monkeypatch.setattr(names, "LOOKUP_LIMIT", limit)
    monkeypatch.setattr(names, "LISTED", listed)
    a_test = ["aki", "hana", "ken", "mio", "ren", "sora", "yui"]
    every = sorted([f"{local}@a.test" for local in a_test] + ["taro@b.test"])
    client = client_as("superadmin")
    assert found(client, "tanaka") == every
    assert found(client, "ken tanaka") == ["ken@a.test"]
    assert found(client, "tan") == sorted([*every, "tan@a.test"])  # two indexed words
    for sort in ("address", "-address", "name", "-name"):
        response = client.get("/mailboxes/", {"q": "tanaka", "sort": sort, "domain": "a.test"})
        shown = [m.pk for m in response.context["listing"].objects]
        assert sorted(shown) == [f"{local}@a.test" for local in a_test], sort
    assert found(client_as("admin_a"), "tanaka") == [f"{local}@a.test" for local in a_test]
    assert found(client_as("admin_b"), "tanaka") == ["taro@b.test"]
