"""API tokens: shown once, stored hashed, two header schemes, revocation, kinds."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from domains import services
from domains.models import ApiToken, AuditEntry, TokenKind
from tests.support.portal import admin_action, confirmed_post

pytestmark = pytest.mark.django_db


def test_a_token_is_stored_as_its_digest_only(acme_admin):
    token, raw = services.token_issue(kind="user", user=acme_admin, name="ci", actor=acme_admin)
    assert raw.startswith("cpu_") and len(raw) == 44
    assert token.prefix == raw[:12]
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert raw not in [str(value) for value in stored.values()]
    assert AuditEntry.objects.filter(action="token.created", object_id=token.prefix).exists()


def test_a_user_may_hold_several_named_tokens(acme_admin, api):
    for name in ("deploy", "monitoring"):
        services.token_issue(kind="user", user=acme_admin, name=name, actor=acme_admin)
    names = set(ApiToken.objects.filter(user=acme_admin).values_list("name", flat=True))
    assert {"deploy", "monitoring"} <= names


def test_only_users_of_a_registered_domain_hold_tokens(db):
    outsider = services.user_create(email="someone@gmail.com", password="x" * 12)
    with pytest.raises(ValidationError) as exc:
        services.token_issue(kind="user", user=outsider, name="x", actor=None)
    assert "registered domain" in str(exc.value)
    assert not ApiToken.objects.exists()


def test_a_token_needs_a_name(acme_admin):
    with pytest.raises(ValidationError) as exc:
        services.token_issue(kind="user", user=acme_admin, name="  ", actor=None)
    assert "name" in exc.value.message_dict


@pytest.mark.parametrize("scheme", ["token", "Token", "Bearer", "bearer"])
def test_both_schemes_authenticate(acme_admin, token_for, client_with, scheme):
    response = client_with(token_for(acme_admin), scheme).get("/api/users/me")
    assert response.status_code == 200
    assert response.json()["email"] == "hq@acme.com"


def test_use_is_recorded(acme_admin, token_for, client_with):
    raw = token_for(acme_admin)
    client_with(raw).get("/api/users/me")
    assert ApiToken.objects.get(prefix=raw[:12]).last_used_at is not None


@pytest.mark.parametrize(
    "header", ["", "token", "token cpu_nonsense", "Bearer a b", "Basic dXNlcjpwYXNz"]
)
def test_missing_or_unknown_credentials_answer_401(db, header):
    from rest_framework.test import APIClient

    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/endpoints")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert list(response.json()) == ["errors"]
    assert response.json()["errors"]["detail"]


def test_a_revoked_token_answers_401_at_once(acme_admin, token_for, client_with):
    raw = token_for(acme_admin)
    client = client_with(raw)
    assert client.get("/api/users/me").status_code == 200
    services.token_revoke(token=ApiToken.objects.get(prefix=raw[:12]), actor=acme_admin)
    response = client.get("/api/users/me")
    assert response.status_code == 401
    assert "revoked" in response.json()["errors"]["detail"][0]


def test_an_inactive_users_token_answers_401(acme_admin, token_for, client_with):
    raw = token_for(acme_admin)
    acme_admin.is_active = False
    acme_admin.save()
    assert client_with(raw).get("/api/users/me").status_code == 401


def test_a_box_token_is_the_wrong_kind_for_user_routes(box, token_for, client_with):
    raw = token_for(kind="box", device=box)
    assert raw.startswith("cpb_")
    token = ApiToken.objects.get(prefix=raw[:12])
    assert token.kind == TokenKind.BOX and token.user == box.owner
    response = client_with(raw, "Bearer").get("/api/users/me")
    assert response.status_code == 403
    assert "counters" in response.json()["errors"]["detail"][0]


def test_a_box_token_needs_its_box(acme_admin):
    with pytest.raises(ValidationError):
        services.token_issue(kind="box", user=acme_admin, name="box", actor=None)


# --- The portal page ------------------------------------------------------------


def test_the_portal_page_creates_a_token_and_shows_it_once(client, acme_teammate):
    client.force_login(acme_teammate)
    page = client.post(reverse("domains:tokens"), {"name": "my script"})
    assert page.status_code == 200
    raw = page.context["new_token"]
    assert raw.startswith("cpu_") and raw in page.content.decode()
    token = ApiToken.objects.get(user=acme_teammate)
    assert token.name == "my script" and token.kind == TokenKind.USER
    again = client.get(reverse("domains:tokens")).content.decode()
    assert raw not in again and token.prefix in again
    client.logout()
    assert client_api_get(raw, "/api/users/me/hooks").status_code == 200


def client_api_get(raw: str, path: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"token {raw}")
    return client.get(path)


def test_the_portal_page_refuses_a_blank_name(client, acme_teammate):
    client.force_login(acme_teammate)
    page = client.post(reverse("domains:tokens"), {"name": ""})
    assert page.status_code == 200 and page.context["form"].errors["name"]
    assert not ApiToken.objects.exists()


def test_the_portal_page_revokes_only_the_users_own_tokens(client, acme_admin, acme_teammate):
    mine, _ = services.token_issue(kind="user", user=acme_teammate, name="a", actor=None)
    theirs, _ = services.token_issue(kind="user", user=acme_admin, name="b", actor=None)
    client.force_login(acme_teammate)
    other = client.post(reverse("domains:token_revoke", args=[theirs.prefix]))
    assert other.status_code == 404
    confirmed_post(client, reverse("domains:token_revoke", args=[mine.prefix]))
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None


def test_users_outside_a_registered_domain_see_why_they_cannot_hold_tokens(client, db):
    outsider = services.user_create(email="someone@gmail.com", password="x" * 12)
    client.force_login(outsider)
    page = client.get(reverse("domains:tokens")).content.decode()
    assert "Only users of a registered domain" in page
    client.post(reverse("domains:tokens"), {"name": "x"})
    assert not ApiToken.objects.exists()


# --- The admin --------------------------------------------------------------------


def test_support_issues_a_box_token_in_the_admin_and_sees_it_once(client, support, box):
    client.force_login(support)
    page = client.post(
        reverse("admin:domains_apitoken_add"),
        {"kind": "box", "name": "lobby box", "device": box.pk, "user": ""},
    )
    assert page.status_code == 200, page.content[:500]
    raw = page.context["raw"]
    token = ApiToken.objects.get()
    assert raw.startswith("cpb_") and token.prefix == raw[:12]
    assert token.device == box and token.user == box.owner
    listing = client.get(reverse("admin:domains_apitoken_changelist")).content.decode()
    assert raw not in listing and token.prefix in listing


def test_support_revokes_tokens_in_the_admin(client, support, acme_admin):
    token, _ = services.token_issue(kind="user", user=acme_admin, name="x", actor=None)
    client.force_login(support)
    admin_action(client, reverse("admin:domains_apitoken_changelist"), "revoke", [token.pk],
                 confirm=True)
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEntry.objects.filter(action="token.revoked", actor=support).exists()
