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
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.response import TemplateResponse

from domains.formats import counted

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


class UndoableDeletes:
    """A ModelAdmin mixin for a model deleted softly (``deleted_at``) with an undo window:
    Django's delete page is off; a **Delete…** action asks first, naming the losses, and a
    **Restore** action undoes a delete inside the window. Subclasses name the thing and
    the two services."""

    noun = "object"  # "endpoint", "integration": the messages' word
    after_delete = ""  # what happens at once, for the confirmation page

    def delete_one(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def restore_one(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def losses(self, live: models.QuerySet) -> list[str]:
        return []

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # the Delete… action below asks first and can be undone

    @admin.action(description="Delete… (asks first; Restore undoes it for UNDO_WINDOW_HOURS)")
    def soft_delete(self, request: HttpRequest,
                    queryset: models.QuerySet) -> TemplateResponse | None:
        live = queryset.filter(deleted_at=None)
        if not admin_confirmed(request, "soft_delete", live):
            return admin_ask(
                request, live, action="soft_delete", title=f"Delete these {self.noun}s?",
                button=f"Delete {self.noun}s", losses=self.losses(live),
                consequences=[self.after_delete, "Restore them with the Restore action within "
                              f"{settings.UNDO_WINDOW_HOURS:g} hours."],
            )
        for obj in live:
            self.delete_one(request, obj)
        messages.success(request, f"{counted(len(live), self.noun)} deleted.")
        return None

    @admin.action(description="Restore (undo a delete inside its window)")
    def restore(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        restored = 0
        for obj in queryset.exclude(deleted_at=None):
            try:
                self.restore_one(request, obj)
                restored += 1
            except ValidationError as exc:
                messages.error(request, f"{obj}: {' '.join(exc.messages)}")
        messages.success(request, f"{counted(restored, self.noun)} restored.")
