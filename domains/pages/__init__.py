"""The portal's pages: the domain finder and invitations, a domain admin's pages (a domain's
endpoints, settings, admins and audit log, one URL per endpoint action; each asks
Domain.objects.administered_by(user) first) and a signed-in user's API tokens.

One module a family: ``access`` (who may see what), ``domain``, ``endpoints``,
``deliveries``, ``account``; ``domains/urls.py`` finds each view here by name."""

from domains.pages.access import administered_domain, domain_endpoint
from domains.pages.account import invitation_accept, token_revoke, tokens
from domains.pages.deliveries import delivery_cancel, delivery_log, delivery_page, delivery_resend
from domains.pages.domain import (
    admin_add,
    admin_remove,
    audit_log,
    domain_page,
    domain_settings,
    domains_index,
    home,
)
from domains.pages.endpoints import (
    endpoint_delete,
    endpoint_disable,
    endpoint_edit,
    endpoint_enable,
    endpoint_new,
    endpoint_replay,
    endpoint_restore,
    endpoint_secret,
    endpoint_secret_rotate,
    endpoint_test,
    replay_progress,
    test_result,
)

__all__ = [
    "admin_add",
    "admin_remove",
    "administered_domain",
    "audit_log",
    "delivery_cancel",
    "delivery_log",
    "delivery_page",
    "delivery_resend",
    "domain_endpoint",
    "domain_page",
    "domain_settings",
    "domains_index",
    "endpoint_delete",
    "endpoint_disable",
    "endpoint_edit",
    "endpoint_enable",
    "endpoint_new",
    "endpoint_replay",
    "endpoint_restore",
    "endpoint_secret",
    "endpoint_secret_rotate",
    "endpoint_test",
    "home",
    "invitation_accept",
    "replay_progress",
    "test_result",
    "token_revoke",
    "tokens",
]
