"""Bad endpoint input is refused with a message naming the field; nothing is saved."""

import pytest
from django.core.exceptions import ValidationError

from callbacks.models import Endpoint
from callbacks.services import endpoint_create, endpoint_update
from callbacks.validation import parse_headers_text
from domains.models import AuditEntry


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"headers": ["Authorization"]}, "headers", "must be a JSON object"),
        ({"headers": {"X-Count": 3}}, "headers", "The value of 'X-Count' must be a string"),
        ({"headers": {"X-Evil": "a\r\nHost: x"}}, "headers", "contains a line break"),
        ({"headers": {"Bad Name": "x"}}, "headers", "is not a valid header name"),
        ({"headers": {"webhook-id": "x"}}, "headers", "is set by the portal"),
        ({"headers": {"USER-AGENT": "x"}}, "headers", "is set by the portal"),
        ({"headers": {"X-A": "1", "x-a": "2"}}, "headers", "differ only by case"),
        ({"headers": {"X-Big": "a" * 9000}}, "headers", "Headers are too large"),
        ({"url": "ftp://acme.com/x"}, "url", "must start with http:// or https://"),
        ({"url": "http:///nohost"}, "url", "has no host name"),
        ({"url": "not a url"}, "url", "no spaces"),
        ({"url": "http://10.1.2.3/hook"}, "url", "private"),
        ({"url": "http://acme.com:99999/"}, "url", "is not a valid URL"),
        ({"url": "http://acme.com:0/"}, "url", "a port from 1 to 65535"),
        ({"url": "http://hooks*.acme.com/"}, "url", "ASCII host name"),
        ({"url": "http://bücher.de/"}, "url", "in its xn-- form"),
        ({"url": "http://acme.com/a\x01b"}, "url", "no control characters"),
        ({"event_types": []}, "event_types", "Choose at least one event type"),
        (
            {"event_types": ["camera.exploded"]},
            "event_types",
            "Unknown event type(s): camera.exploded",
        ),
        ({"method": "TRACE"}, "method", "is not a supported HTTP method"),
    ],
)
def test_bad_endpoint_input(acme, fields, field, message):
    data = {"url": "https://hooks.acme.com/camio", "event_types": ["camera.created"], **fields}
    audit = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as caught:
        endpoint_create(domain=acme, actor=None, **data)
    assert message in " ".join(caught.value.message_dict[field])
    assert not Endpoint.objects.exists()
    assert AuditEntry.objects.count() == audit


def test_headers_text_parsing():
    assert parse_headers_text(
        '{"Authorization": "token XYZPDQ", "Content-Type": "application/json"}'
    ) == {"Authorization": "token XYZPDQ", "Content-Type": "application/json"}
    assert parse_headers_text("") == {}
    with pytest.raises(ValidationError, match="not valid JSON"):
        parse_headers_text('{"a": ')
    with pytest.raises(ValidationError, match="given twice"):
        parse_headers_text('{"X-A": "1", "X-A": "2"}')


@pytest.mark.django_db
def test_headers_are_encrypted_at_rest_and_masked_values_are_kept(acme):
    from django.db import connection

    endpoint = endpoint_create(
        domain=acme,
        url="https://hooks.acme.com/",
        actor=None,
        event_types=["camera.created"],
        headers={"Authorization": "token XYZPDQ"},
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT headers FROM callbacks_endpoint")
        [headers_raw] = cursor.fetchone()
        cursor.execute("SELECT secret FROM callbacks_signingkey")
        [secret_raw] = cursor.fetchone()
    assert "XYZPDQ" not in headers_raw and "whsec_" not in secret_raw
    assert endpoint.signing_secrets()[0].startswith("whsec_")  # it is the secret, encrypted
    updated = endpoint_update(
        endpoint=endpoint,
        actor=None,
        changes={"headers": {"Authorization": "••••••", "X-New": "1"}},
    )
    assert updated.headers == {"Authorization": "token XYZPDQ", "X-New": "1"}
    entry = AuditEntry.objects.filter(action="endpoint.updated").get()
    assert "XYZPDQ" not in str(entry.before) + str(entry.after)


@pytest.mark.django_db
def test_update_refuses_bad_input_and_keeps_the_row(acme):
    endpoint = endpoint_create(
        domain=acme, url="https://hooks.acme.com/", actor=None, event_types=["camera.created"]
    )
    with pytest.raises(ValidationError) as caught:
        endpoint_update(
            endpoint=endpoint, actor=None, changes={"url": "gopher://x", "event_types": []}
        )
    assert set(caught.value.message_dict) == {"url", "event_types"}
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.acme.com/" and endpoint.event_types == ["camera.created"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "https://xn--bcher-kva.de/camio",
        "http://hooks_1.acme.com:8080/in?x=é#top",
        "https://user:p%40ss@hooks.acme.com/",
        "http://127.0.0.1:9/hook",  # a literal the SSRF guard allows (test settings)
    ],
)
def test_urls_the_schema_states_or_the_guard_allows_are_taken(acme, url):
    endpoint = endpoint_create(domain=acme, actor=None, url=url, event_types=["camera.created"])
    assert Endpoint.objects.get(pk=endpoint.pk).url == url
