"""The domain admin's pages: a domain's endpoints, settings and admins, and one URL per
endpoint action. Every page asks Domain.objects.administered_by(user) first."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from callbacks import services as callbacks
from callbacks.delivery.policy import MASK, SECRET_HEADER
from callbacks.models import Delivery, Endpoint
from callbacks.selectors import delivery_summary, endpoint_rows
from domains import services
from domains.forms import DomainSettingsForm, EndpointForm, TestEventForm
from domains.models import Domain


def administered_domain(request: HttpRequest, name: str) -> Domain:
    """Return the domain ``name`` if the signed-in user administers it, else 404."""
    return get_object_or_404(Domain.objects.administered_by(request.user), name=name.lower())


def domain_endpoint(domain: Domain, endpoint_id: str) -> Endpoint:
    return get_object_or_404(Endpoint.objects.live(), domain=domain, endpoint_id=endpoint_id)


def _form_errors(form: EndpointForm, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
@require_GET
def domain_page(request: HttpRequest, name: str) -> HttpResponse:
    domain = administered_domain(request, name)
    threshold = domain.min_upload_queue_length_for_incident_creation
    settings_form = DomainSettingsForm(
        initial={"min_upload_queue_length_for_incident_creation": threshold}
    )
    return render(
        request,
        "domains/domain.html",
        {
            "domain": domain,
            "rows": endpoint_rows(domain),
            "settings_form": settings_form,
            "admins": domain.administrators.select_related("user"),
            "test_form": TestEventForm(),
        },
    )


@login_required
@require_POST
def domain_settings(request: HttpRequest, name: str) -> HttpResponse:
    domain = administered_domain(request, name)
    form = DomainSettingsForm(request.POST)
    if form.is_valid():
        services.domain_update(domain=domain, actor=request.user, **form.cleaned_data)
        messages.success(request, "Saved.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("domains:domain", name=domain.name)


@login_required
def endpoint_new(request: HttpRequest, name: str) -> HttpResponse:
    domain = administered_domain(request, name)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            callbacks.endpoint_create(
                domain=domain,
                actor=request.user,
                url=data["url"],
                method=data["method"],
                headers=data["headers"],
                event_types=data["event_types"],
                description=data["description"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Endpoint added.")
            return redirect("domains:domain", name=domain.name)
    return render(
        request, "domains/endpoint_form.html", {"domain": domain, "form": form, "endpoint": None}
    )


@login_required
def endpoint_edit(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    shown = {k: MASK if SECRET_HEADER.search(k) else v for k, v in endpoint.headers.items()}
    initial = {
        "method": endpoint.method,
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
        "headers": json.dumps(shown, indent=4, ensure_ascii=False) if shown else "",
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            callbacks.endpoint_update(
                endpoint=endpoint, actor=request.user, changes=form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("domains:domain", name=domain.name)
    return render(
        request,
        "domains/endpoint_form.html",
        {"domain": domain, "form": form, "endpoint": endpoint},
    )


@login_required
@require_POST
def endpoint_enable(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    callbacks.endpoint_enable(endpoint=domain_endpoint(domain, endpoint_id), actor=request.user)
    messages.success(request, "Endpoint enabled.")
    return redirect("domains:domain", name=domain.name)


@login_required
@require_POST
def endpoint_disable(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    cancelled = callbacks.endpoint_disable(
        endpoint=domain_endpoint(domain, endpoint_id),
        actor=request.user,
        reason=request.POST.get("reason", "").strip()[:200] or f"Disabled by {request.user}",
    )
    messages.success(request, f"Endpoint disabled; {cancelled} pending deliveries cancelled.")
    return redirect("domains:domain", name=domain.name)


@login_required
def endpoint_delete(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    if request.method == "POST":
        callbacks.endpoint_delete(endpoint=endpoint, actor=request.user)
        messages.success(request, "Endpoint deleted; its delivery log is kept.")
        return redirect("domains:domain", name=domain.name)
    return render(request, "domains/endpoint_delete.html", {"domain": domain, "endpoint": endpoint})


@login_required
@require_POST
def endpoint_test(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    form = TestEventForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an event type.")
        return redirect("domains:domain", name=domain.name)
    delivery = callbacks.send_test_event(
        endpoint=endpoint, actor=request.user, event_type=form.cleaned_data["event_type"]
    )
    return redirect("domains:test_result", name=domain.name, delivery_id=delivery.pk)


@login_required
@require_GET
def test_result(request: HttpRequest, name: str, delivery_id: str) -> HttpResponse:
    """The test delivery's outcome; the page polls the JSON form of this URL."""
    domain = administered_domain(request, name)
    try:
        delivery = Delivery.objects.get(pk=delivery_id, domain=domain)
    except (Delivery.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such delivery.") from None
    summary = delivery_summary(delivery)
    if request.GET.get("format") == "json":
        return JsonResponse(summary)
    return render(
        request,
        "domains/test_result.html",
        {"domain": domain, "delivery": delivery, "summary": summary},
    )
