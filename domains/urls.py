from django.urls import path

from domains import pages

app_name = "domains"

urlpatterns = [
    path("", pages.home, name="home"),
    path("domains", pages.domains_index, name="index"),
    path("domains/<str:name>/", pages.domain_page, name="domain"),
    path("domains/<str:name>/settings", pages.domain_settings, name="settings"),
    path("domains/<str:name>/endpoints/new", pages.endpoint_new, name="endpoint_new"),
    path(
        "domains/<str:name>/endpoints/<str:endpoint_id>/edit",
        pages.endpoint_edit,
        name="endpoint_edit",
    ),
    path(
        "domains/<str:name>/endpoints/<str:endpoint_id>/enable",
        pages.endpoint_enable,
        name="endpoint_enable",
    ),
    path(
        "domains/<str:name>/endpoints/<str:endpoint_id>/disable",
        pages.endpoint_disable,
        name="endpoint_disable",
    ),
    path(
        "domains/<str:name>/endpoints/<str:endpoint_id>/delete",
        pages.endpoint_delete,
        name="endpoint_delete",
    ),
    path(
        "domains/<str:name>/endpoints/<str:endpoint_id>/test",
        pages.endpoint_test,
        name="endpoint_test",
    ),
    path("domains/<str:name>/tests/<str:delivery_id>", pages.test_result, name="test_result"),
    path("domains/<str:name>/deliveries", pages.delivery_log, name="deliveries"),
    path(
        "domains/<str:name>/endpoints/<str:endpoint_id>/deliveries",
        pages.delivery_log,
        name="endpoint_deliveries",
    ),
    path("domains/<str:name>/deliveries/<str:delivery_id>", pages.delivery_page, name="delivery"),
    path(
        "domains/<str:name>/deliveries/<str:delivery_id>/cancel",
        pages.delivery_cancel,
        name="delivery_cancel",
    ),
    path(
        "domains/<str:name>/deliveries/<str:delivery_id>/resend",
        pages.delivery_resend,
        name="delivery_resend",
    ),
    path(
        "domains/<str:name>/endpoints/<str:endpoint_id>/secret",
        pages.endpoint_secret,
        name="endpoint_secret",
    ),
    path(
        "domains/<str:name>/endpoints/<str:endpoint_id>/replay",
        pages.endpoint_replay,
        name="endpoint_replay",
    ),
    path("domains/<str:name>/replays/<str:job_id>", pages.replay_progress, name="replay"),
    path("domains/<str:name>/admins/add", pages.admin_add, name="admin_add"),
    path("domains/<str:name>/admins/<str:user_id>/remove", pages.admin_remove, name="admin_remove"),
    path("domains/<str:name>/audit", pages.audit_log, name="audit"),
    path("invitations/<str:token>/", pages.invitation_accept, name="invitation_accept"),
    path("account/tokens", pages.tokens, name="tokens"),
    path("account/tokens/<str:prefix>/revoke", pages.token_revoke, name="token_revoke"),
]
