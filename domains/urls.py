"""The portal's pages (``domains:`` names): the domain finder, a domain's pages, one URL per
endpoint and delivery action, invitations and a user's tokens."""

from django.urls import path

from domains import pages

app_name = "domains"

DOMAIN = "domains/<str:name>"
ENDPOINT = f"{DOMAIN}/endpoints/<str:endpoint_id>"
DELIVERY = f"{DOMAIN}/deliveries/<str:delivery_id>"

urlpatterns = [
    path("", pages.home, name="home"),
    path("domains", pages.domains_index, name="index"),
    path(f"{DOMAIN}/", pages.domain_page, name="domain"),
    path(f"{DOMAIN}/settings", pages.domain_settings, name="settings"),
    path(f"{DOMAIN}/endpoints/new", pages.endpoint_new, name="endpoint_new"),
    # /endpoints/<id>/edit -> pages.endpoint_edit, named "endpoint_edit"; and so on.
    *(
        path(f"{ENDPOINT}/{verb}", getattr(pages, f"endpoint_{verb}"), name=f"endpoint_{verb}")
        for verb in ("edit", "enable", "disable", "delete", "restore", "test", "secret", "replay")
    ),
    path(f"{ENDPOINT}/secret/rotate", pages.endpoint_secret_rotate,
         name="endpoint_secret_rotate"),
    path(f"{ENDPOINT}/deliveries", pages.delivery_log, name="endpoint_deliveries"),
    path(f"{DOMAIN}/tests/<str:delivery_id>", pages.test_result, name="test_result"),
    path(f"{DOMAIN}/deliveries", pages.delivery_log, name="deliveries"),
    path(DELIVERY, pages.delivery_page, name="delivery"),
    path(f"{DELIVERY}/cancel", pages.delivery_cancel, name="delivery_cancel"),
    path(f"{DELIVERY}/resend", pages.delivery_resend, name="delivery_resend"),
    path(f"{DOMAIN}/replays/<str:job_id>", pages.replay_progress, name="replay"),
    path(f"{DOMAIN}/admins/add", pages.admin_add, name="admin_add"),
    path(f"{DOMAIN}/admins/<str:user_id>/remove", pages.admin_remove, name="admin_remove"),
    path(f"{DOMAIN}/audit", pages.audit_log, name="audit"),
    path("invitations/<str:token>/", pages.invitation_accept, name="invitation_accept"),
    path("account/tokens", pages.tokens, name="tokens"),
    path("account/tokens/<str:prefix>/revoke", pages.token_revoke, name="token_revoke"),
]
