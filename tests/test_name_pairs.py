"""The word pairs of display names (mailboxes.models.NamePair, mailboxes.names): how a name is
paired, every write path keeps the pairs, the recompute corrects them, and a search of two
words or more finds exactly the names a reading of every mailbox finds, whichever way the
lookup goes (the pair index, the word index when a word starts too many indexed words, the
names too long to be paired, the first addresses in address order, the subqueries beyond the
lookup's limit); on MariaDB the pair lookup is a range read of the pair index."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.services import domain_delete, domain_rename
from mailadmin.lib import listing as listing_module
from mailadmin.lib.words import PAIR_WORDS, UNPAIRED, name_pairs, name_words, search_terms
from mailboxes import names, services
from mailboxes.models import Mailbox, NamePair

PASSWORD = "Blue-Lantern-42"


def pairs_of(address: str) -> set[tuple[str, str]]:
    return set(NamePair.objects.filter(address=address).values_list("first", "second"))


def test_a_name_is_paired_both_ways():
    assert name_pairs("Wei Chen") == {("wei", "chen"), ("chen", "wei")}
    assert name_pairs("Chen") == set()
    assert name_pairs("") == set()
    assert name_pairs("Chen Chen") == set()  # one word
    assert name_pairs("陈伟明") == {
        (a, b) for a in ("陈伟明", "伟明", "明") for b in ("陈伟明", "伟明", "明") if a != b
    }
    long_name = " ".join(f"w{i}" for i in range(PAIR_WORDS + 1))
    assert name_pairs(long_name) == {UNPAIRED}
    just_paired = " ".join(f"w{i}" for i in range(PAIR_WORDS))
    assert len(name_pairs(just_paired)) == PAIR_WORDS * (PAIR_WORDS - 1)


def test_search_terms_drop_a_word_another_one_starts():
    assert search_terms("wei chen") == ["chen", "wei"]
    assert search_terms("che chen wei") == ["chen", "wei"]
    assert search_terms("chen che") == ["chen"]
    assert search_terms("陈 陈伟") == ["陈伟"]
    assert search_terms("!!") == []


# --- write paths -------------------------------------------------------------------------------
def test_create_update_rename_and_delete_keep_the_pairs(personas):
    root = personas["superadmin"]
    mailbox = services.mailbox_create(
        domain="a.test", local_part="wchen", password=PASSWORD, name="Wei Chen", actor=root
    )
    assert pairs_of("wchen@a.test") == {("wei", "chen"), ("chen", "wei")}
    assert {p.domain for p in NamePair.objects.filter(address="wchen@a.test")} == {"a.test"}
    services.mailbox_update(mailbox=mailbox, name="Wei", actor=root)
    assert pairs_of("wchen@a.test") == set()
    services.mailbox_update(mailbox=mailbox, name="Ann Lee Wong", actor=root)
    assert len(pairs_of("wchen@a.test")) == 6
    renamed = services.mailbox_rename(mailbox=mailbox, local_part="ann.wong", actor=root)
    assert pairs_of("wchen@a.test") == set()
    assert ("lee", "wong") in pairs_of(renamed.username)
    services.mailbox_delete(mailbox=renamed, actor=root)
    assert not NamePair.objects.filter(address__in=["wchen@a.test", renamed.username]).exists()


def test_a_domain_rename_and_delete_move_and_forget_the_pairs(personas, make_domain):
    root = personas["superadmin"]
    make_domain("old.test")
    services.mailbox_create(
        domain="old.test", local_part="li", password=PASSWORD, name="Li Na", actor=root
    )
    domain_rename(domain="old.test", new_name="new.test", actor=root)
    assert set(NamePair.objects.values_list("address", "domain")) == {("li@new.test", "new.test")}
    domain_delete(domain="new.test", delete_all=True, confirm_domain="new.test", actor=root)
    assert not NamePair.objects.exists()


def test_the_recompute_corrects_pairs_written_behind_the_panels_back(personas, make_mailbox):
    from domains.tasks import recompute_usage

    make_mailbox("x@a.test", name="Old Name")
    Mailbox.objects.filter(pk="x@a.test").update(name="Zhang San")  # ExtMan's write
    Mailbox.objects.bulk_create(
        [Mailbox(username="y@a.test", uid="y", domain_id="a.test", name="Yuki Tanaka")]
    )
    NamePair.objects.create(first="a", second="b", address="gone@a.test", domain="a.test")
    recompute_usage()
    assert pairs_of("x@a.test") == {("zhang", "san"), ("san", "zhang")}
    assert pairs_of("y@a.test") == {("yuki", "tanaka"), ("tanaka", "yuki")}
    assert not NamePair.objects.filter(address="gone@a.test").exists()
    assert names.NAME_PAIRS.reindex_all() == 0


# --- search ------------------------------------------------------------------------------------
FIRST = ["wei", "weiss", "anna", "ann", "james", "jamie", "li"]
LAST = ["chen", "cheng", "chenko", "smith", "smithers", "li", "lee"]
CJK = ["陈伟", "陈伟明", "王伟", "李娜"]
QUERIES = [
    "wei chen",
    "chen wei",
    "wei che",
    "we ch",
    "ann smith",
    "an sm",
    "li li",
    "li lee",
    "jam chen li",
    "anna chen smith",
    "wei chenko",
    "che chen wei",
    "陈 伟",
    "伟 明",
    "zz chen",
    "w0 w12",
    "w3 chen",
]


def a_name(rng: random.Random, i: int) -> str:
    if i % 17 == 0:  # too many words to be paired
        return " ".join(f"w{k}" for k in range(PAIR_WORDS + 1)) + f" {rng.choice(LAST)}"
    if i % 9 == 0:
        return rng.choice(CJK)
    words = [rng.choice(FIRST), rng.choice(LAST)]
    if i % 4 == 0:
        words.append(rng.choice(LAST))
    return " ".join(words)


@pytest.fixture
def crowd(personas, make_mailbox):
    rng = random.Random(7)  # noqa: S311 (test data)
    for i in range(160):
        domain = "a.test" if i % 3 else "b.test"
        make_mailbox(f"x{i:03d}@{domain}", name=a_name(rng, i))


def expected(query: str, domains: set[str]) -> list[str]:
    terms = search_terms(query)
    return sorted(
        m.pk
        for m in Mailbox.objects.filter(domain_id__in=domains)
        if all(any(w.startswith(t) for w in name_words(m.name or "")) for t in terms)
    )


def shown(client, query: str) -> tuple[list[str], tuple[int, bool]]:
    """Every address the list shows for ``query`` (200 a page, next links followed)."""
    params = {"q": query, "per_page": 200}
    addresses: list[str] = []
    while True:
        response = client.get("/mailboxes/", params)
        assert response.status_code == 200
        listing = response.context["listing"]
        addresses += [m.pk for m in listing.objects]
        if not listing.has_next:
            return sorted(addresses), (listing.total, listing.total_capped)
        params = {**params, "after": listing.next_token}


@pytest.mark.parametrize("limit", [1, 3, 1000])
@pytest.mark.parametrize("read", [1, 20])
def test_a_search_of_several_words_finds_what_a_reading_of_every_name_finds(
    client_as, crowd, monkeypatch, limit, read
):
    monkeypatch.setattr(names, "LOOKUP_LIMIT", limit)
    monkeypatch.setattr(names, "LISTED", 2)
    monkeypatch.setattr(names, "PAIR_WORDS_READ", read)  # 1: some searches use the words
    for persona, domains in (
        ("superadmin", {"a.test", "b.test"}),
        ("admin_a", {"a.test"}),
        ("admin_b", {"b.test"}),
    ):
        client = client_as(persona)
        for query in QUERIES:
            addresses, (total, capped) = shown(client, query)
            want = expected(query, domains)
            assert addresses == want, (persona, query)
            if capped:
                assert len(want) > limit, (persona, query)
            else:
                assert total == len(want), (persona, query)
    assert expected("wei chen", {"a.test", "b.test"}) and expected("w0 w12", {"a.test"})


@pytest.mark.parametrize("listed", [2, 100])
def test_the_first_addresses_of_one_pair_and_the_rows_after_them_are_all_found(
    client_as, personas, make_mailbox, monkeypatch, listed
):
    for i in range(12):
        make_mailbox(f"x{i:02d}@{'a' if i % 4 else 'b'}.test", name="Wei Chen")
    make_mailbox("y00@a.test", name="Ann Chen")
    monkeypatch.setattr(names, "LOOKUP_LIMIT", 3)
    monkeypatch.setattr(names, "LISTED", listed)
    every = sorted(Mailbox.objects.filter(name="Wei Chen").values_list("pk", flat=True))
    condition = names.name_match("wei chen")
    # the first 4 addresses read (at most LISTED of them) as a list, the rows after the last
    # of them checked word by word
    assert condition.at_least == 4
    assert ("username__in", every[: min(4, listed)]) in condition.children
    client = client_as("superadmin")
    assert shown(client, "wei chen") == (every, (12, False))
    assert shown(client_as("admin_a"), "chen wei")[0] == [pk for pk in every if "@a." in pk]
    make_mailbox("y01@a.test", name="Weiss Chen")  # another pair in the range: no list
    assert ("username__in", every[: min(4, listed)]) not in names.name_match("wei chen").children
    assert shown(client, "wei chen") == ([*every, "y01@a.test"], (13, False))


def test_a_search_of_two_words_takes_the_same_queries_at_two_sizes(
    client_as, personas, make_mailbox
):
    counts = []
    for size in (5, 60):
        for i in range(len(counts) * 5, size):
            make_mailbox(f"x{i:03d}@a.test", name="Wei Chen")
        client = client_as("admin_a")
        client.get("/mailboxes/")
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/mailboxes/", {"q": "wei chen"}).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


@pytest.mark.mariadb
def test_on_mariadb_two_words_are_a_range_of_the_pair_index(client_as, personas, make_mailbox):
    if connection.vendor != "mysql":
        pytest.fail("needs MariaDB (DATABASE_URL=mysql://...)")
    for i in range(40):
        make_mailbox(f"x{i:03d}@a.test", name=f"{FIRST[i % 7]} {LAST[i % 5]}")
    for persona, key in (
        ("superadmin", "mailadmin_name_pair_words"),
        ("admin_a", "mailadmin_name_pair_domain"),
    ):
        with CaptureQueriesContext(connection) as captured:
            client_as(persona).get("/mailboxes/", {"q": "wei chen"})
        lookup = next(
            q["sql"] for q in captured.captured_queries if "mailadmin_name_pair" in q["sql"]
        )
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {lookup}")
            columns = [c[0] for c in cursor.description]
            plans = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        plan = next(p for p in plans if p["table"] == "mailadmin_name_pair")
        assert plan["type"] == "range" and plan["key"] == key, (persona, lookup, plans)


# --- the first page read from the lookup's addresses ------------------------------------------
@pytest.fixture
def chens(personas, make_mailbox):
    """60 "Wei Chen" and 10 "Chen Ann" in a.test and 10 "Wei Chen" in b.test, with 10 mailboxes
    whose address starts with "chen" but whose names do not have the word (found by prefix),
    among them in address order."""
    for i in range(60):
        make_mailbox(f"m{i:03d}@a.test", name="Wei Chen")
    for i in range(10):
        make_mailbox(f"chen{i}@a.test", name="Someone")
        make_mailbox(f"n{i:03d}@a.test", name="Chen Ann")
        make_mailbox(f"m{i:03d}@b.test", name="Wei Chen")


@pytest.mark.parametrize(
    ("limit", "listed", "fast"),
    [(1000, 100, True), (30, 100, True), (30, 10, False), (1000, 50, False)],
)
@pytest.mark.parametrize("query", ["chen", "wei chen"])
def test_the_first_page_is_read_from_the_lookups_addresses(
    client_as, chens, monkeypatch, limit, listed, fast, query
):
    monkeypatch.setattr(names, "LOOKUP_LIMIT", limit)
    monkeypatch.setattr(names, "LISTED", listed)
    reads = []
    original = listing_module._listed_page

    def spy(*args):
        rows = original(*args)
        reads.append(bool(rows))
        return rows

    monkeypatch.setattr(listing_module, "_listed_page", spy)
    for persona, domains in (
        ("superadmin", {"a.test", "b.test"}),
        ("admin_a", {"a.test"}),
    ):
        client = client_as(persona)
        want = sorted(
            m.pk
            for m in Mailbox.objects.filter(domain_id__in=domains)
            if all(any(w.startswith(t) for w in name_words(m.name)) for t in search_terms(query))
            or m.pk.startswith(query.replace(" ", ""))
        )
        addresses, _total = shown(client, query)
        assert addresses == want, (persona, query)
        reads.clear()
        response = client.get("/mailboxes/", {"q": query})
        assert [m.pk for m in response.context["listing"].objects] == want[:25]
        # with more matches than a page in the lookup's list (all of them, or the first ones
        # in address order), the first page is read from it; else as before
        assert any(reads) is fast, (persona, reads)


def test_a_first_page_the_list_filters_further_is_read_as_before(client_as, chens, monkeypatch):
    from django.utils import timezone

    from domains.usage import disk_usage_refresh
    from mailboxes.models import MailboxDiskUsage

    reads = []
    original = listing_module._listed_page
    monkeypatch.setattr(
        listing_module, "_listed_page", lambda *args: reads.append(original(*args)) or reads[-1]
    )
    for i in (3, 40, 41):  # three of the names found, over 90 % full
        MailboxDiskUsage.objects.create(
            mailbox_id=f"m{i:03d}@a.test",
            domain="a.test",
            used_bytes=95,
            percent=95,
            measured_at=timezone.now(),
        )
    disk_usage_refresh(["a.test"])
    response = client_as("admin_a").get("/mailboxes/", {"q": "chen", "usage": "over90"})
    assert [m.pk for m in response.context["listing"].objects] == [
        "m003@a.test",
        "m040@a.test",
        "m041@a.test",
    ]
    assert reads == [[]]  # tried: too few of the listed rows pass the filter
