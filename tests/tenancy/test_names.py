"""Tenant names -> hash tags: exact or a clear refusal, never two tenants on one tag (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.cluster import key_slot

from redis_rag_integrations import tenancy
from redis_rag_integrations.placement import hash_tag, prefix_tag
from redis_rag_integrations.tenancy import Tenant, TenantError

#: Any string, lone surrogates included (a Python str can hold them; the encoding must still be one-to-one).
names = st.text(min_size=1, max_size=40)
tricky = st.sampled_from(["a", "a}", "{a}", "~61", "~", "a b", "a:b", "*", "a\x00", "Ü", "\ud800", "acme", "ACME"])
tenant_names = st.one_of(names, tricky)


@given(a=tenant_names, b=tenant_names)
@settings(max_examples=500, deadline=None)
def test_two_different_names_never_share_a_tag_or_a_key(a: str, b: str) -> None:
    ta, tb = Tenant(a), Tenant(b)
    if a == b:
        assert ta.tag == tb.tag
        return
    assert ta.tag != tb.tag
    # Neither tenant's namespace contains the other's: no prefix index or SCAN of one reaches the other.
    assert not ta.root.startswith(tb.root) and not tb.root.startswith(ta.root)
    assert ta.scoped("docs") != tb.scoped("docs")


@given(name=tenant_names)
@settings(max_examples=500, deadline=None)
def test_every_key_of_a_tenant_hashes_to_its_tag_and_reads_back(name: str) -> None:
    t = Tenant(name)
    assert "}" not in t.tag and not any(c in t.tag for c in "*?[]\\ \t\n")
    for key in (t.scoped("docs"), t.scoped("docs") + ":{x}:y", t.root + "chat:{sid}"):
        assert hash_tag(key) == t.tag
        assert key_slot(key.encode()) == key_slot(t.hashtag.encode())
        assert tenancy.tenant_of(key) == name
    assert prefix_tag(t.scoped("docs") + ":") == t.tag
    assert tenancy.name_of(t.tag) == name


def test_plain_names_are_their_own_tag_and_others_are_encoded() -> None:
    assert Tenant("acme").tag == "acme"
    assert Tenant("team-7.eu@x+y_z").tag == "team-7.eu@x+y_z"
    assert Tenant("a b").tag == "~612062"
    assert Tenant("a}").tag == "~617d"
    assert Tenant("~61").tag == "~7e3631"  # never the tag of "a"
    assert Tenant("acme").scoped("docs") == "rag:{acme}:docs"


@pytest.mark.parametrize("bad", ["", None, 7, b"acme", "x" * (tenancy.MAX_TENANT_LENGTH + 1)])
def test_names_that_cannot_name_a_tenant_are_refused(bad: object) -> None:
    with pytest.raises(TenantError):
        Tenant(bad)  # type: ignore[arg-type]


def test_tags_no_name_maps_to_are_not_read_as_tenants() -> None:
    # "~61" would be a second tag for "a" (which is stored raw): not canonical, so not a tenant.
    for tag in ["~61", "~", "~6", "~zz", "a b", "", "~ff"]:
        assert tenancy.name_of(tag) is None
    assert tenancy.tenant_of("rag:{~61}:docs") is None
    assert tenancy.tenant_of("rag:{acme}docs") is None
    assert tenancy.tenant_of("docs:{acme}:x") is None


@pytest.mark.parametrize("name", ["rag", "rag:{acme}:docs", "rag:{x", "rag:{"])
def test_untenanted_names_that_reach_into_the_tenants_namespace_are_refused(name: str) -> None:
    with pytest.raises(TenantError, match="tenant="):
        tenancy.check_untenanted(name)


@pytest.mark.parametrize("name", ["docs", "ra", "rag-docs", "rag:docs", "rag:deps", "chat"])
def test_other_untenanted_names_pass(name: str) -> None:
    assert tenancy.scoped(None, name) == name


def test_resolve_accepts_names_and_tenants() -> None:
    assert tenancy.resolve(None) is None
    assert tenancy.resolve("acme") == Tenant("acme") == tenancy.resolve(Tenant("acme"))
