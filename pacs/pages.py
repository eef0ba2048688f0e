"""The portal's PACS pages: a user's integrations, their tokens, their doors and readers
(mapped to cameras) and recent events with labels, relay state and batch."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from domains.forms import show_refusal
from domains.models import ApiToken, Camera, TokenKind, signed_in_user
from domains.services import token_revoke
from pacs import services
from pacs.forms import IntegrationForm
from pacs.models import PacsIntegration
from pacs.selectors import integrations_visible_to


def _may_hold(request: HttpRequest) -> bool:
    domain = signed_in_user(request).domain
    return domain is not None and domain.registered


def _integration(request: HttpRequest, integration_id: str) -> PacsIntegration:
    return get_object_or_404(
        integrations_visible_to(signed_in_user(request)), integration_id=integration_id
    )


@login_required
def integration_list(request: HttpRequest) -> HttpResponse:
    form = IntegrationForm(request.POST or None)
    if request.method == "POST" and _may_hold(request) and form.is_valid():
        try:
            integration = services.integration_create(
                owner=signed_in_user(request), actor=signed_in_user(request), **form.cleaned_data
            )
        except ValidationError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, f"{integration.name} is connected: create its token.")
            return redirect("pacs:integration", integration.integration_id)
    return render(
        request,
        "pacs/list.html",
        {
            "form": form,
            "may_hold": _may_hold(request),
            "integrations": integrations_visible_to(signed_in_user(request)),
        },
    )


def _detail(
    request: HttpRequest,
    integration: PacsIntegration,
    form: forms.Form | None = None,
    new_token: str = "",
) -> HttpResponse:
    form = form or IntegrationForm(
        initial={
            "name": integration.name,
            "vendor": integration.vendor,
            "source_server": integration.source_server,
            "time_zone": integration.time_zone,
        }
    )
    return render(
        request,
        "pacs/detail.html",
        {
            "integration": integration,
            "form": form,
            "new_token": new_token,
            "tokens": ApiToken.objects.filter(
                kind=TokenKind.PACS, subject=integration.integration_id
            ),
            "devices": integration.devices.prefetch_related("cameras"),
            "cameras": Camera.objects.filter(domain_id=integration.domain_id).order_by("name"),
            "events": integration.events.prefetch_related("cameras")[:50],
        },
    )


@login_required
@never_cache
def integration_detail(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = _integration(request, integration_id)
    if request.method != "POST":
        return _detail(request, integration)
    action = request.POST.get("action")
    if action in ("new_token", "rotate_token"):
        issue = (
            services.integration_token_issue
            if action == "new_token"
            else services.integration_token_rotate
        )
        _, raw = issue(integration=integration, actor=signed_in_user(request))
        return _detail(request, integration, new_token=raw)
    form = IntegrationForm(request.POST)
    if form.is_valid():
        try:
            services.integration_update(
                integration=integration, actor=signed_in_user(request), changes=form.cleaned_data
            )
        except ValidationError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("pacs:integration", integration.integration_id)
    return _detail(request, integration, form=form)


@login_required
@require_POST
def token_revoke_page(request: HttpRequest, integration_id: str, prefix: str) -> HttpResponse:
    integration = _integration(request, integration_id)
    token = get_object_or_404(
        ApiToken, kind=TokenKind.PACS, prefix=prefix, subject=integration.integration_id
    )
    token_revoke(token=token, actor=signed_in_user(request))
    messages.success(request, f"Token {prefix}… is revoked.")
    return redirect("pacs:integration", integration.integration_id)


@login_required
@require_POST
def device_map_page(request: HttpRequest, integration_id: str, device_id: str) -> HttpResponse:
    integration = _integration(request, integration_id)
    device = integration.devices.filter(device_id=device_id).first()
    if device is None:
        raise Http404("No such device.")
    cameras = list(
        Camera.objects.filter(
            domain_id=integration.domain_id, camera_id__in=request.POST.getlist("cameras")
        )
    )
    services.device_map(device=device, cameras=cameras, actor=signed_in_user(request))
    messages.success(request, f"{device} is seen by {len(cameras)} camera(s).")
    return redirect("pacs:integration", integration.integration_id)


@login_required
@require_POST
def integration_delete_page(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = _integration(request, integration_id)
    services.integration_delete(integration=integration, actor=signed_in_user(request))
    messages.success(request, f"{integration.name} is deleted; its tokens no longer work.")
    return redirect("pacs:list")
