"""Alias rules (SPEC §3.5): targets, loops, uniqueness, catch-alls, limits, audit."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from aliases import services
from aliases.models import Alias
from audit.models import AuditEntry
from domains.models import Domain

pytestmark = pytest.mark.django_db


@pytest.fixture
def superadmin(personas):
    return personas["superadmin"]


def create(actor, local_part, domain="a.test", goto=("someone@example.org",), **kwargs):
    return services.alias_create(
        actor=actor, local_part=local_part, domain=domain, goto=list(goto), **kwargs
    )


def test_targets_are_normalised_deduplicated_and_joined_without_spaces(superadmin):
    alias = create(
        superadmin,
        "sales",
        goto=["  Bob@Example.ORG ", "bob@example.org", "@Other.Test", "carol@bücher.example"],
    )
    alias.refresh_from_db()
    assert alias.goto == "bob@example.org,@other.test,carol@xn--bcher-kva.example"
    assert alias.address == "sales@a.test"
    assert alias.domain_id == "a.test"


def test_external_targets_are_kept_as_given(superadmin):
    alias = create(superadmin, "ext", goto=["someone@gmail.com", "x@unknown-domain.example"])
    assert Alias.objects.get(pk=alias.pk).targets == [
        "someone@gmail.com",
        "x@unknown-domain.example",
    ]


def test_a_domain_alias_target_forwards_a_whole_domain(superadmin, make_domain):
    make_domain("other.test")
    alias = create(superadmin, "@", goto=["@other.test"])
    assert alias.address == "@a.test"
    assert alias.is_catchall
    assert Alias.objects.get(pk="@a.test").goto == "@other.test"


def test_commas_also_separate_targets(superadmin):
    alias = create(superadmin, "team", goto=["a@example.org, b@example.org"])
    assert alias.targets == ["a@example.org", "b@example.org"]


@pytest.mark.parametrize(
    "bad", ["not an address", "a@b", "@", "@-bad-.test", "x@@example.org", "a b@example.org"]
)
def test_invalid_targets_are_refused_and_nothing_is_written(superadmin, bad):
    with pytest.raises(ValidationError):
        create(superadmin, "sales", goto=["ok@example.org", bad])
    assert not Alias.objects.filter(pk="sales@a.test").exists()
    assert not AuditEntry.objects.exists()


def test_no_targets_at_all_is_refused(superadmin):
    with pytest.raises(ValidationError):
        create(superadmin, "sales", goto=["", "   "])


def test_an_alias_cannot_point_to_itself(superadmin):
    with pytest.raises(ValidationError) as exc:
        create(superadmin, "loop", goto=["Loop@A.test"])
    assert "itself" in str(exc.value)
    assert not Alias.objects.exists()


def test_a_catchall_cannot_point_to_itself(superadmin):
    with pytest.raises(ValidationError):
        create(superadmin, "@", goto=["@a.test"])


def test_a_loop_between_two_aliases_is_refused_and_named(superadmin):
    create(superadmin, "a", goto=["b@a.test"])
    with pytest.raises(ValidationError) as exc:
        create(superadmin, "b", goto=["a@a.test"])
    message = " ".join(exc.value.message_dict["goto"])
    assert "b@a.test → a@a.test → b@a.test" in message
    assert not Alias.objects.filter(pk="b@a.test").exists()


def test_a_longer_loop_is_found_when_updating(superadmin):
    create(superadmin, "one", goto=["two@a.test"])
    create(superadmin, "two", goto=["three@a.test", "out@example.org"])
    three = create(superadmin, "three", goto=["out@example.org"])
    with pytest.raises(ValidationError) as exc:
        services.alias_update(actor=superadmin, alias=three, goto=["one@a.test"], active=True)
    assert "three@a.test → one@a.test → two@a.test → three@a.test" in str(exc.value)
    assert Alias.objects.get(pk="three@a.test").goto == "out@example.org"


def test_a_loop_of_domain_aliases_is_refused(superadmin):
    create(superadmin, "@", domain="a.test", goto=["@b.test"])
    with pytest.raises(ValidationError):
        create(superadmin, "@", domain="b.test", goto=["@a.test"])


def test_a_chain_without_a_loop_is_accepted(superadmin):
    create(superadmin, "a", goto=["b@a.test"])
    create(superadmin, "b", goto=["c@a.test"])
    assert create(superadmin, "c", goto=["user@a.test"]).pk == "c@a.test"


def test_a_domain_admin_is_not_shown_addresses_of_other_domains_in_a_loop(personas):
    create(personas["superadmin"], "x", domain="b.test", goto=["back@a.test"])
    with pytest.raises(ValidationError) as exc:
        create(personas["admin_a"], "back", goto=["x@b.test"])
    message = str(exc.value)
    assert "x@b.test" not in message and "another domain" in message


def test_an_address_used_by_a_mailbox_is_refused(superadmin):
    with pytest.raises(ValidationError) as exc:
        create(superadmin, "user")  # user@a.test is a mailbox
    assert "a mailbox" in " ".join(exc.value.message_dict["local_part"])
    assert not Alias.objects.filter(pk="user@a.test").exists()


def test_an_address_used_by_another_alias_is_refused(superadmin):
    create(superadmin, "sales")
    with pytest.raises(ValidationError) as exc:
        create(superadmin, "sales", goto=["other@example.org"])
    assert "an alias" in str(exc.value)
    assert Alias.objects.get(pk="sales@a.test").goto == "someone@example.org"


def test_the_alias_count_limit_is_enforced_and_counts_catchalls(superadmin, make_mailbox):
    Domain.objects.filter(pk="a.test").update(maxalias=2)
    # The forwarding alias of a mailbox does not count.
    Alias.objects.create(address="user@a.test", goto="x@example.org", domain_id="a.test")
    create(superadmin, "one")
    create(superadmin, "@")
    with pytest.raises(ValidationError) as exc:
        create(superadmin, "three")
    assert "maximum of 2 aliases" in str(exc.value)
    assert not Alias.objects.filter(pk="three@a.test").exists()


def test_zero_means_no_alias_limit(superadmin):
    for n in range(5):
        create(superadmin, f"n{n}")
    assert Alias.objects.filter(domain_id="a.test").count() == 5


def test_a_domain_admin_cannot_create_in_another_domain(personas):
    with pytest.raises(ValidationError) as exc:
        create(personas["admin_a"], "x", domain="b.test")
    assert "domain" in exc.value.message_dict
    assert not Alias.objects.exists()


def test_a_domain_admin_cannot_change_or_delete_another_domains_alias(personas):
    alias = create(personas["superadmin"], "x", domain="b.test")
    with pytest.raises(PermissionDenied):
        services.alias_update(
            actor=personas["admin_a"], alias=alias, goto=["y@example.org"], active=True
        )
    with pytest.raises(PermissionDenied):
        services.alias_delete(actor=personas["admin_a"], alias=alias)
    assert Alias.objects.get(pk="x@b.test").goto == "someone@example.org"


def test_missing_local_targets_are_named_for_a_warning(superadmin):
    create(superadmin, "exists")
    missing = services.missing_local_targets(
        ["user@a.test", "exists@a.test", "ghost@a.test", "far@example.org", "@b.test"],
        actor=superadmin,
    )
    assert missing == ["ghost@a.test"]


def test_missing_targets_of_other_domains_are_not_revealed_to_a_domain_admin(personas):
    missing = services.missing_local_targets(
        ["ghost@a.test", "ghost@b.test"], actor=personas["admin_a"]
    )
    assert missing == ["ghost@a.test"]


def test_update_changes_targets_and_active_and_is_audited(superadmin):
    alias = create(superadmin, "sales")
    services.alias_update(actor=superadmin, alias=alias, goto=["New@Example.org"], active=False)
    alias.refresh_from_db()
    assert alias.goto == "new@example.org" and alias.active is False
    entry = AuditEntry.objects.get(action="alias.update")
    assert entry.changes == {
        "goto": ["someone@example.org", "new@example.org"],
        "active": [True, False],
    }
    assert entry.domain == "a.test" and entry.actor == "root@panel.test"


def test_an_update_that_changes_nothing_writes_no_audit_record(superadmin):
    alias = create(superadmin, "sales")
    services.alias_update(actor=superadmin, alias=alias, goto=["someone@example.org"], active=True)
    assert not AuditEntry.objects.filter(action="alias.update").exists()


def test_create_and_delete_are_audited(superadmin):
    alias = create(superadmin, "@")
    entry = AuditEntry.objects.get(action="alias.create")
    assert entry.object_id == "@a.test" and entry.message == "catch-all"
    services.alias_delete(actor=superadmin, alias=alias)
    assert not Alias.objects.exists()
    assert AuditEntry.objects.get(action="alias.delete").changes["goto"] == [
        "someone@example.org",
        None,
    ]


def test_the_forwarding_alias_of_a_mailbox_is_not_changed_here(superadmin):
    alias = Alias.objects.create(address="user@a.test", goto="x@example.org", domain_id="a.test")
    with pytest.raises(ValidationError):
        services.alias_update(actor=superadmin, alias=alias, goto=["y@example.org"], active=True)
    with pytest.raises(ValidationError):
        services.alias_delete(actor=superadmin, alias=alias)
    assert Alias.objects.get(pk="user@a.test").goto == "x@example.org"


def test_an_address_longer_than_the_column_is_refused(superadmin):
    long_domain = ".".join(["d" * 60] * 4) + ".test"  # 249 characters
    Domain.objects.create(domain=long_domain, description="long")
    with pytest.raises(ValidationError) as exc:
        create(superadmin, "a" * 20, domain=long_domain)
    assert "too long" in str(exc.value)
    assert not Alias.objects.filter(domain_id=long_domain).exists()
