"""The portal's PACS pages: a user's integrations, their tokens, their doors and readers
(mapped to cameras) and recent events with labels, relay state and batch."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from domains.confirm import Question, ask, confirmed
from domains.formats import counted
from domains.forms import show_refusal
from domains.models import ApiToken, Camera, TokenKind, signed_in_user
from domains.services import token_revoke
from pacs import services
from pacs.forms import IntegrationForm
from pacs.models import PacsIntegration
from pacs.selectors import (
    integration_losses,
    integrations_visible_to,
    recently_deleted_integrations,
)


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
            "deleted": recently_deleted_integrations(signed_in_user(request)),
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
    """The integration's page; POST saves its settings (token actions have their own URLs)."""
    integration = _integration(request, integration_id)
    if request.method != "POST":
        return _detail(request, integration)
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
@never_cache
@require_POST
def token_new_page(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = _integration(request, integration_id)
    _, raw = services.integration_token_issue(
        integration=integration, actor=signed_in_user(request)
    )
    return _detail(request, integration, new_token=raw)


def _back(integration: PacsIntegration) -> str:
    return reverse("pacs:integration", args=[integration.integration_id])


def _live_tokens(integration: PacsIntegration) -> QuerySet[ApiToken]:
    return ApiToken.objects.live().filter(kind=TokenKind.PACS, subject=integration.integration_id)


@login_required
@never_cache
def token_rotate_page(request: HttpRequest, integration_id: str) -> HttpResponse:
    """Issue a new token and revoke the others, after the confirmation step."""
    integration = _integration(request, integration_id)
    if not confirmed(request, "pacs.token_rotate", integration.integration_id):
        others = _live_tokens(integration).count()
        return ask(request, Question(
            action="pacs.token_rotate", target=integration.integration_id,
            title="Rotate this integration's token?", subject=str(integration),
            button=f"Rotate: revoke {counted(others, 'token')}", cancel_url=_back(integration),
            losses=[counted(others, "gateway token") + " revoked at once"] if others else [],
            consequences=["A new token is shown once. Gateways still using an old token get "
                          "401 until they are given the new one."],
        ))
    _, raw = services.integration_token_rotate(
        integration=integration, actor=signed_in_user(request)
    )
    return _detail(request, integration, new_token=raw)


@login_required
def token_revoke_page(request: HttpRequest, integration_id: str, prefix: str) -> HttpResponse:
    integration = _integration(request, integration_id)
    token = get_object_or_404(_live_tokens(integration), prefix=prefix)
    if not confirmed(request, "pacs.token_revoke", token.prefix):
        used = token.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if token.last_used_at else "never"
        return ask(request, Question(
            action="pacs.token_revoke", target=token.prefix,
            title="Revoke this gateway token?", subject=f"{token.prefix}… of {integration}",
            button="Revoke token", cancel_url=_back(integration),
            losses=[f"token {token.prefix}… (last used {used})"],
            consequences=["A gateway using it gets 401 at once. Revoking cannot be undone: "
                          "create a new token for the gateway instead."],
        ))
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
def integration_delete_page(request: HttpRequest, integration_id: str) -> HttpResponse:
    """Delete after the confirmation step; Undo on the list page for UNDO_WINDOW_HOURS."""
    integration = _integration(request, integration_id)
    window = f"{settings.UNDO_WINDOW_HOURS:g} hours"
    if not confirmed(request, "pacs.delete", integration.integration_id):
        return ask(request, Question(
            action="pacs.delete", target=integration.integration_id,
            title="Delete this integration?", subject=str(integration),
            button="Delete integration", cancel_url=_back(integration),
            losses=integration_losses(integration),
            consequences=[
                "Its gateways are cut off at once and nothing more is relayed.",
                f"You can undo this from the PACS integrations page for {window}; after that "
                "its devices, door mappings, events and tokens are purged for good.",
            ],
        ))
    services.integration_delete(integration=integration, actor=signed_in_user(request))
    messages.success(
        request, f"{integration.name} is deleted; its tokens no longer work. Undo below "
        f"within {window}.",
    )
    return redirect("pacs:list")


@login_required
@require_POST
def integration_restore_page(request: HttpRequest, integration_id: str) -> HttpResponse:
    integration = get_object_or_404(
        recently_deleted_integrations(signed_in_user(request)), integration_id=integration_id
    )
    try:
        services.integration_restore(integration=integration, actor=signed_in_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("pacs:list")
    messages.success(request, f"{integration.name} is restored; its tokens work again.")
    return redirect("pacs:integration", integration.integration_id)
