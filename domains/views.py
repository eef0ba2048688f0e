"""Sign-in related pages, the /domains page and the health check."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from callbacks.selectors import broker_status, heartbeat_status
from domains.forms import FindDomainForm, InvitationPasswordForm
from domains.models import Domain
from domains.services import InvitationError, invitation_check
from domains.services import invitation_accept as accept


def home(request: HttpRequest) -> HttpResponse:
    """Send ``/?domain=acme.com`` (Camio's documented form) on to ``/domains``."""
    query = request.META.get("QUERY_STRING", "")
    return redirect(reverse("domains:index") + (f"?{query}" if query else ""))


@login_required
def domains_index(request: HttpRequest) -> HttpResponse:
    """Find a domain; say whether this user can manage it."""
    administered = Domain.objects.administered_by(request.user)
    form = FindDomainForm(request.GET if "domain" in request.GET else None)
    context = {"form": form, "administered": administered, "found": None, "status": None}
    if form.is_valid():
        name = form.cleaned_data["domain"]
        found = Domain.objects.filter(name=name).first()
        context["name"] = name
        if found is None or not found.registered:
            context["status"] = "unregistered"
        elif administered.filter(pk=found.pk).exists():
            return redirect("domains:domain", name=found.name)
        else:
            context["status"] = "forbidden"
    return render(request, "domains/index.html", context)


@never_cache
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Let an invited admin choose a password; the link works once."""
    try:
        invitation = invitation_check(token)
    except InvitationError as exc:
        return render(request, "domains/invitation_invalid.html", {"reason": str(exc)}, status=410)
    form = InvitationPasswordForm(invitation.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            accept(token=token, password=form.cleaned_data["new_password1"])
        except InvitationError as exc:
            return render(
                request, "domains/invitation_invalid.html", {"reason": str(exc)}, status=410
            )
        except ValidationError as exc:
            form.add_error("new_password1", exc)
        else:
            messages.success(request, "Your password is set. Sign in with it now.")
            return redirect(f"{reverse('login')}?email={invitation.user.email}")
    return render(
        request, "domains/invitation_accept.html", {"form": form, "invitation": invitation}
    )


@require_GET
@never_cache
def livez(request: HttpRequest) -> HttpResponse:
    """Liveness: the web process answers. Needs nothing (no database, cache or broker)."""
    return HttpResponse("ok\n", content_type="text/plain")


def healthz(request: HttpRequest) -> JsonResponse:
    """Report the database, the broker and the sweeper's heartbeat; 503 if one is down."""
    database = _check_database()
    checks = {
        "database": database,
        "broker": broker_status(),
        # The heartbeat is a row: unknown while the database does not answer.
        "beat": heartbeat_status(settings.CALLBACK_SWEEP_INTERVAL)
        if database == "ok"
        else "unknown (no database)",
    }
    healthy = (
        checks["database"] == "ok"
        and checks["broker"] == "ok"
        and not checks["beat"].startswith("stale")
    )
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # the health check reports; it never raises
        return f"error: {exc.__class__.__name__}"
    return "ok"
