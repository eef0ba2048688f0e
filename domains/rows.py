"""A row re-read under lock that a concurrent request deleted meanwhile: ``relock``
raises ``Gone`` (a 404) instead of Django's DoesNotExist (a 500). The API answers 404
with the message; pages and the admin show it and go back (``GoneMiddleware``).

Ground-floor code (below every app's services, callbacks' included) until P20 gives the
floor an app of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from django.contrib import messages
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

M = TypeVar("M", bound=models.Model)


class Gone(Http404):
    """The row was deleted by a concurrent request."""


def relock(queryset: models.QuerySet[M], pk: object) -> M:
    """Re-read row ``pk`` of ``queryset`` under a row lock (``SELECT ... FOR UPDATE``);
    raise ``Gone`` if it was deleted while this request waited for the lock."""
    found = queryset.select_for_update().filter(pk=pk).first()
    if found is None:
        name = queryset.model._meta.verbose_name
        raise Gone(f"This {name} was deleted meanwhile (by another request); nothing was "
                   "changed.")
    return found


class GoneMiddleware:
    """On a page or in the admin: show ``Gone``'s message and go back where the request
    came from (the same site only), or to the home page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Gone) or request.path.startswith("/api/"):
            return None
        messages.error(request, str(exception))
        back = request.META.get("HTTP_REFERER", "")
        if not back or not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ) or urlsplit(back).path == request.path:
            back = "/"
        return HttpResponseRedirect(back)
