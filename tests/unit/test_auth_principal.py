"""Claims → Principal: scopes from `scope`, `scp` and mapped realm roles; tenants from the tenants claim."""

from __future__ import annotations

import pytest

from broker.auth.principal import ANONYMOUS, Principal, principal_from_claims

ROLES = {"kyodo-writer": frozenset({"ngsi-ld:write"}), "kyodo-admin": frozenset({"admin"})}


def principal(claims, tenants_claim="tenants"):
    return principal_from_claims(claims, tenants_claim=tenants_claim, role_scopes=ROLES)


@pytest.mark.parametrize(("claims", "scopes"), [
    ({"scope": "openid ngsi-ld:read  profile"}, {"openid", "ngsi-ld:read", "profile"}),
    ({"scp": ["ngsi-ld:read", "ngsi-ld:subscribe"]}, {"ngsi-ld:read", "ngsi-ld:subscribe"}),
    ({"scope": "ngsi-ld:read", "realm_access": {"roles": ["kyodo-writer", "offline_access"]}},
     {"ngsi-ld:read", "ngsi-ld:write"}),
    ({"realm_access": {"roles": "kyodo-admin"}}, {"admin"}),
    ({"scope": 42, "scp": {"admin": True}, "realm_access": ["kyodo-admin"]}, set()),
])
def test_scopes_come_from_scope_scp_and_mapped_realm_roles(claims, scopes):
    assert principal(claims).scopes == scopes


@pytest.mark.parametrize(("claims", "tenants"), [
    ({"tenants": ["Osaka", "hyogo"]}, {"osaka", "hyogo"}),
    ({"tenants": "osaka hyogo"}, {"osaka", "hyogo"}),
    ({"tenants": "osaka,hyogo"}, {"osaka", "hyogo"}),
    ({"tenants": "*"}, {"*"}),
    ({"tenants": 7}, set()),
    ({}, set()),
])
def test_tenants_claim_is_a_list_or_a_separated_string(claims, tenants):
    assert principal(claims).tenants == tenants


def test_the_tenants_claim_may_be_nested_as_keycloak_writes_dotted_claim_names():
    assert principal({"kyodo": {"tenants": ["nara"]}}, tenants_claim="kyodo.tenants").tenants == {"nara"}
    assert principal({"kyodo.tenants": ["kobe"]}, tenants_claim="kyodo.tenants").tenants == {"kobe"}


def test_subject_falls_back_to_username_then_client():
    assert principal({"sub": "u-1", "preferred_username": "alice"}).subject == "u-1"
    assert principal({"preferred_username": "alice", "azp": "app"}).subject == "alice"
    assert principal({"azp": "dashboard"}).subject == "dashboard"
    assert principal({}).subject == "unknown"


@pytest.mark.parametrize(("tenants", "tenant", "allowed"), [
    ({"osaka"}, "osaka", True),
    ({"osaka"}, "hyogo", False),
    ({"osaka"}, "", False),
    ({"default"}, "", True),
    ({"*"}, "", True),
    ({"*"}, "hyogo", True),
    (set(), "osaka", False),
])
def test_may_act_on_names_the_default_tenant_default(tenants, tenant, allowed):
    assert Principal("s", frozenset(), frozenset(tenants)).may_act_on(tenant) is allowed


def test_anonymous_has_every_scope_and_tenant():
    assert "admin" in ANONYMOUS.scopes and ANONYMOUS.may_act_on("anything")
