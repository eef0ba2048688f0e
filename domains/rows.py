"""A row re-read under lock that a concurrent request deleted meanwhile:
``domains.models.relock`` raises ``Gone`` (a 404) instead of Django's DoesNotExist (a
500). The API answers 404 with the message; on pages and in the admin,
``GoneMiddleware`` shows it and goes back.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from domains.models import Gone


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
