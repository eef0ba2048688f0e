"""The account's API tokens: everyone sees and revokes only their own."""

from __future__ import annotations

import pytest

from domains.models import ApiToken
from tests.support.portal import confirmed_post, url

pytestmark = pytest.mark.django_db


def test_the_owner_sees_their_token(owner_client, owner_token):
    page = owner_client.get(url("domains:tokens"))
    assert page.status_code == 200
    assert owner_token.prefix in page.content.decode()


def test_a_teammate_does_not_see_the_owners_token(teammate_client, owner_token):
    page = teammate_client.get(url("domains:tokens"))
    assert page.status_code == 200
    assert owner_token.prefix not in page.content.decode()


def test_an_outsider_does_not_see_the_owners_token(outsider_client, owner_token):
    page = outsider_client.get(url("domains:tokens"))
    assert page.status_code == 200
    assert owner_token.prefix not in page.content.decode()


def test_support_staff_do_not_see_the_owners_token(support_client, owner_token):
    page = support_client.get(url("domains:tokens"))
    assert page.status_code == 200
    assert owner_token.prefix not in page.content.decode()


def test_the_owner_can_revoke_their_token(owner_client, owner_token):
    revoke = url("domains:token_revoke", owner_token.prefix)
    assert confirmed_post(owner_client, revoke).status_code == 302
    assert ApiToken.objects.get(pk=owner_token.pk).revoked_at is not None


def test_a_teammate_cannot_revoke_the_owners_token(teammate_client, owner_token):
    assert teammate_client.post(url("domains:token_revoke", owner_token.prefix)).status_code == 404
    assert ApiToken.objects.get(pk=owner_token.pk).revoked_at is None


def test_an_outsider_gets_404_revoking_the_owners_token(outsider_client, owner_token):
    assert outsider_client.post(url("domains:token_revoke", owner_token.prefix)).status_code == 404
    assert ApiToken.objects.get(pk=owner_token.pk).revoked_at is None


def test_support_staff_get_404_revoking_the_owners_token(support_client, owner_token):
    assert support_client.post(url("domains:token_revoke", owner_token.prefix)).status_code == 404
    assert ApiToken.objects.get(pk=owner_token.pk).revoked_at is None
