"""Destructive page actions ask first: one pattern for the portal and the admin.

The button a person sees beside a thing is a link (GET) to the action's own URL, which
answers with a confirmation page naming exactly what will be lost. That page's form posts
back to the same URL with a ``confirmation`` token signed for this action, this object and
this user. A POST without a valid token (a stray form, a replayed request, a script) is
refused with the confirmation page and status 400, and changes nothing. No script is needed;
API routes do not use this (an API call is deliberate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django import forms
from django.contrib.admin import helpers
from django.core import signing
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse

FIELD = "confirmation"
SALT = "camio.confirm"
MAX_AGE = 3600  # a confirmation page left open longer asks again


def _subject(request: HttpRequest, action: str, target: str) -> list[str]:
    return [action, str(target), str(request.user.pk)]


def token_for(request: HttpRequest, action: str, target: str) -> str:
    """Return the token that confirms ``action`` on ``target`` for the signed-in user."""
    return signing.dumps(_subject(request, action, target), salt=SALT, compress=True)


def confirmed(request: HttpRequest, action: str, target: str) -> bool:
    """Say whether this request is a POST carrying a valid confirmation of ``action``."""
    if request.method != "POST":
        return False
    try:
        value = signing.loads(request.POST.get(FIELD, ""), salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return False
    return bool(value == _subject(request, action, target))


@dataclass(frozen=True)
class Question:
    """What a confirmation page shows: what will happen, to what, and what is lost."""

    action: str  # e.g. "endpoint.delete": the token is bound to it
    target: str  # the object's public id (or ids joined), bound to the token too
    title: str  # "Delete this endpoint?"
    subject: str  # the thing, named as a person knows it
    button: str  # "Delete endpoint"
    cancel_url: str
    losses: Sequence[str] = ()  # "3 devices", "12 door mappings", ...
    consequences: Sequence[str] = ()  # sentences: what happens at once, what can be undone
    form: forms.Form | None = None  # extra fields (e.g. a reason), posted with the token
    hidden: Mapping[str, str | Sequence[str]] = field(default_factory=dict)  # posted back as-is
    lead: str = "This will remove or cut off:"  # what the list of losses is


def ask(request: HttpRequest, question: Question, *, template: str = "confirm.html",
        context: dict | None = None, refused: bool | None = None) -> HttpResponse:
    """Render the confirmation page. By default a POST that got here was not confirmed and is
    answered 400; where a POST is the first step (a form whose save asks), pass ``refused``."""
    refused = request.method == "POST" if refused is None else refused
    hidden = [
        (name, value)
        for name, values in question.hidden.items()
        for value in ([values] if isinstance(values, str) else values)
    ]
    return render(
        request,
        template,
        {
            **(context or {}),
            "question": question,
            "hidden": hidden,
            "token": token_for(request, question.action, question.target),
            "refused": refused,
        },
        status=400 if refused else 200,
    )


# --- The admin: actions on selected rows -------------------------------------------------


def selection(queryset: models.QuerySet) -> str:
    """Name a selection of rows for a token: a digest of their sorted primary keys."""
    keys = sorted(str(pk) for pk in queryset.values_list("pk", flat=True))
    return hashlib.sha256(",".join(keys).encode()).hexdigest()[:32]


def admin_confirmed(request: HttpRequest, action: str, queryset: models.QuerySet) -> bool:
    """Say whether this admin action's POST carries a confirmation for exactly these rows."""
    return confirmed(request, f"admin.{action}", selection(queryset))


def admin_ask(request: HttpRequest, queryset: models.QuerySet, *, action: str, title: str,
              button: str, losses: Sequence[str] = (),
              consequences: Sequence[str] = ()) -> TemplateResponse:
    """The admin's confirmation page for ``action`` on the selected rows.

    It posts back to the change list with the action, the selected ids and the token, the
    way Django's own "delete selected" page does; an action function starts with
    ``if not admin_confirmed(...): return admin_ask(...)``.
    """
    opts = queryset.model._meta
    rows = list(queryset[:50])
    return TemplateResponse(
        request,
        "admin/confirm_action.html",
        {
            "title": title,
            "opts": opts,
            "rows": rows,
            "more": max(queryset.count() - len(rows), 0),
            "losses": losses,
            "consequences": consequences,
            "button": button,
            "action": action,
            "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
            "checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "token": token_for(request, f"admin.{action}", selection(queryset)),
            "field": FIELD,
        },
        status=400 if FIELD in request.POST else 200,
    )
