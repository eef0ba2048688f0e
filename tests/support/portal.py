"""The portal as its users see it: a client signed in as someone, a page's address by
its route name, and a valid endpoint form."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from domains.models import User

ENDPOINT_FORM = {
    "method": "POST",
    "url": "https://hooks.acme.com/changed",
    "headers": '{"X-Team": "ops"}',
    "event_types": ["camera.created"],
    "description": "changed",
}


def signed_in(user: User) -> Client:
    """A client of its own (several can be used in one test), signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


def url(name: str, *args: object) -> str:
    """The path of route ``name`` (such as "domains:endpoint_edit") with ``args``."""
    return reverse(name, args=args)
