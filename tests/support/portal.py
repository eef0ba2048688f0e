"""The portal as its users see it: a client signed in as someone, a page's address by
its route name, and a valid endpoint form."""

from __future__ import annotations

import re
from typing import Any

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


def confirmed_post(client: Client, path: str, data: dict | None = None, **kwargs: Any) -> Any:
    """POST to a destructive action the way a person does: open its confirmation page, then
    press its button (the page's signed confirmation token is sent back with ``data``)."""
    page = client.get(path)
    assert page.status_code == 200, f"{path} answered {page.status_code} to GET"
    found = re.search(r'name="confirmation" value="([^"]+)"', page.content.decode())
    assert found, f"{path} shows no confirmation step"
    return client.post(path, {"confirmation": found.group(1), **(data or {})}, **kwargs)


def admin_action(client: Client, changelist: str, action: str, pks: list,
                 confirm: bool = False) -> Any:
    """Run an admin action on rows as support staff do: its first POST (which shows the
    confirmation page); with ``confirm``, then the page's button, token and all."""
    data: dict[str, Any] = {"action": action, "_selected_action": [str(pk) for pk in pks],
                            "index": "0"}
    first = client.post(changelist, data)
    if not confirm:
        return first
    found = re.search(r'name="confirmation" value="([^"]+)"', first.content.decode())
    assert found, f"{action} on {changelist} showed no confirmation step"
    data.pop("index")
    return client.post(changelist, {**data, "confirmation": found.group(1)})
