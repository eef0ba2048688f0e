"""A domain's own pages: the domain finder, the domain page, its settings, its admins
(the primary adds and removes co-admins) and its audit log."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from callbacks import catalog
from callbacks.endpoint_health import Health
from callbacks.selectors import (
    EndpointRow,
    endpoint_rows,
    operational_listeners,
    recently_deleted_endpoints,
)
from domains import services
from domains.confirm import Question, ask, confirmed
from domains.formats import counted
from domains.forms import CoAdminForm, DomainSettingsForm, FindDomainForm, TestEventForm
from domains.models import Domain, DomainAdministrator, signed_in_user
from domains.pages.access import administered_domain, as_primary, domain_url
from domains.selectors import audit_actors, audit_changes, audit_entries


@login_required
@require_GET
def domain_page(request: HttpRequest, name: str) -> HttpResponse:
    domain = administered_domain(request, name)
    threshold = domain.min_upload_queue_length_for_incident_creation
    settings_form = DomainSettingsForm(
        initial={"min_upload_queue_length_for_incident_creation": threshold}
    )
    rows = endpoint_rows(domain)
    return render(
        request,
        "domains/domain.html",
        {
            "domain": domain,
            "rows": rows,
            "headline": headline(domain, rows),
            "all_types": len(catalog.NAMES),
            "listeners": operational_listeners(domain),
            "deleted": recently_deleted_endpoints(domain),
            "settings_form": settings_form,
            "admins": domain.administrators.select_related("user"),
            "is_primary": domain.administrators.filter(
                user=signed_in_user(request), is_primary=True
            ).exists(),
            "test_form": TestEventForm(),
            "now": timezone.now(),
        },
    )


def headline(domain: Domain, rows: list[EndpointRow]) -> dict:
    """The domain page's figures: its endpoints' health over 24 hours taken together (the
    one health definition, callbacks/endpoint_health.py), endpoints enabled, circuits open;
    nothing without endpoints."""
    if not rows:
        return {}
    return {
        "health": Health.together(domain.name, [r.health for r in rows]),
        "enabled": sum(r.endpoint.enabled for r in rows),
        "open": sum(r.endpoint.circuit_opened_at is not None for r in rows),
    }


@login_required
@require_POST
def domain_settings(request: HttpRequest, name: str) -> HttpResponse:
    domain = administered_domain(request, name)
    form = DomainSettingsForm(request.POST)
    if form.is_valid():
        services.domain_update(domain=domain, actor=signed_in_user(request), **form.cleaned_data)
        messages.success(request, "Saved.")
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("domains:domain", name=domain.name)


@login_required
@require_POST
def admin_add(request: HttpRequest, name: str) -> HttpResponse:
    """The primary admin adds a co-admin: a user of the domain, invited if they have no
    password (new, or never chose one); the message says which of these happened."""
    domain = as_primary(request, name)
    form = CoAdminForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter an e-mail address.")
        return redirect("domains:domain", name=domain.name)
    email = form.cleaned_data["email"].lower()
    try:
        added = services.co_admin_invite(domain=domain, email=email, actor=signed_in_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("domains:domain", name=domain.name)
    days = settings.INVITATION_MAX_AGE_DAYS
    link = f"the link works once, for {counted(days, 'day')}"
    if added.created:
        told = ("A new account was opened for them and they were e-mailed an invitation to "
                f"choose a password ({link}).")
    elif added.invited:
        told = ("They had no password yet, so they were e-mailed an invitation to choose one "
                f"({link}; earlier links no longer work).")
    else:
        told = "They sign in with the password they already have; no e-mail was sent."
    messages.success(request, f"{added.user.email} is now an admin of {domain.name}. {told}")
    return redirect("domains:domain", name=domain.name)


@login_required
def admin_remove(request: HttpRequest, name: str, user_id: str) -> HttpResponse:
    domain = as_primary(request, name)
    user = get_object_or_404(DomainAdministrator, domain=domain, user__user_id=user_id).user
    if not confirmed(request, "admin.remove", f"{domain.name}:{user.user_id}"):
        return ask(request, Question(
            action="admin.remove", target=f"{domain.name}:{user.user_id}",
            title="Remove this admin?", subject=f"{user.email}, admin of {domain.name}",
            button="Remove admin", cancel_url=domain_url(domain),
            consequences=[f"They lose access to {domain.name}'s pages at once. Their account "
                          "and the audit log stay; you can add them again."],
        ))
    try:
        services.domain_admin_remove(domain=domain, user=user, actor=signed_in_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{user.email} is no longer an admin.")
    return redirect("domains:domain", name=domain.name)


@login_required
@require_GET
def audit_log(request: HttpRequest, name: str) -> HttpResponse:
    """The domain's audit log, newest first, 50 a page, filtered by who and by object; each
    entry's change as field, before, after (values stored masked)."""
    domain = administered_domain(request, name)
    actor = request.GET.get("actor", "")
    target = request.GET.get("object", "").strip()
    page = Paginator(audit_entries(domain, actor, target), 50).get_page(request.GET.get("page"))
    rows = [(entry, audit_changes(entry.before, entry.after)) for entry in page]
    query = urlencode({k: v for k, v in (("actor", actor), ("object", target)) if v})
    return render(
        request,
        "domains/audit.html",
        {
            "domain": domain,
            "page": page,
            "rows": rows,
            "actors": audit_actors(domain),
            "actor": actor,
            "target": target,
            "query": query,
        },
    )


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
