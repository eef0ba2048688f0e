"""The portal's pages: the domain finder and invitations, a domain admin's pages (a domain's
endpoints, settings, admins and audit log, one URL per endpoint action; each asks
Domain.objects.administered_by(user) first) and a signed-in user's API tokens."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from callbacks import services as callbacks
from callbacks.endpoint_health import endpoint_health
from callbacks.models import (
    MAX_OVERLAPPING_KEYS,
    Delivery,
    Endpoint,
    ReplayJob,
    rotation_allowed_from,
)
from callbacks.selectors import (
    FreshSignature,
    attempt_as_curl,
    deliveries_for,
    delivery_detail,
    delivery_summary,
    endpoint_rows,
    log_summary,
    pending_deliveries,
    pretty_body,
    recently_deleted_endpoints,
    waiting_behind_circuit,
)
from domains import services
from domains.confirm import Question, ask, confirmed
from domains.formats import counted, mask_mapping, mask_url
from domains.forms import (
    CoAdminForm,
    DeliveryFilterForm,
    DisableForm,
    DomainSettingsForm,
    EndpointForm,
    FindDomainForm,
    InvitationPasswordForm,
    ReplayForm,
    TestEventForm,
    TokenForm,
    show_refusal,
)
from domains.models import (
    ApiToken,
    Domain,
    DomainAdministrator,
    TokenKind,
    signed_in_user,
)
from domains.selectors import audit_actors, audit_changes, audit_entries
from domains.services import InvitationError, invitation_check
from domains.services import invitation_accept as accept


def administered_domain(request: HttpRequest, name: str) -> Domain:
    """Return the domain ``name`` if the signed-in user administers it, else 404."""
    return get_object_or_404(Domain.objects.administered_by(request.user), name=name.lower())


def domain_endpoint(domain: Domain, endpoint_id: str) -> Endpoint:
    return get_object_or_404(Endpoint.objects.live(), domain=domain, endpoint_id=endpoint_id)


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
def endpoint_new(request: HttpRequest, name: str) -> HttpResponse:
    domain = administered_domain(request, name)
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = callbacks.endpoint_create(
                domain=domain,
                actor=signed_in_user(request),
                url=data["url"],
                method=data["method"],
                headers=data["headers"],
                event_types=data["event_types"],
                description=data["description"],
                ordering=data["ordering"],
                rate_limit=data["rate_limit"],
            )
        except ValidationError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, "Endpoint added.")
            _warn_if_twin(request, saved)
            return redirect("domains:domain", name=domain.name)
    # A form sent back with its errors is a 400 (bad input), as the API answers.
    return render(
        request,
        "domains/endpoint_form.html",
        {"domain": domain, "form": form, "endpoint": None},
        status=400 if request.method == "POST" else 200,
    )


def _warn_if_twin(request: HttpRequest, saved: Endpoint) -> None:
    """Warn when another live endpoint of the domain has the same method and URL as the
    one just saved: its receiver would get every event both subscribe to twice."""
    twins = (
        Endpoint.objects.live()
        .filter(domain_id=saved.domain_id, method=saved.method, url=saved.url)
        .exclude(pk=saved.pk)
    )
    if twins.exists():
        messages.warning(
            request,
            f"Another endpoint of {saved.domain.name} already sends "
            f"{saved.method} to this URL: events both subscribe to "
            "arrive there twice.",
        )


@login_required
def endpoint_edit(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    shown = mask_mapping(endpoint.headers)
    initial = {
        "method": endpoint.method,
        "url": endpoint.url,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
        "headers": json.dumps(shown, indent=4, ensure_ascii=False) if shown else "",
        "ordering": endpoint.ordering,
        "rate_limit": endpoint.rate_limit or "",
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            callbacks.endpoint_update(
                endpoint=endpoint, actor=signed_in_user(request), changes=form.cleaned_data
            )
        except ValidationError as exc:
            show_refusal(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            endpoint.refresh_from_db()
            _warn_if_twin(request, endpoint)
            return redirect("domains:domain", name=domain.name)
    return render(
        request,
        "domains/endpoint_form.html",
        {
            "domain": domain,
            "form": form,
            "endpoint": endpoint,
            "waiting": waiting_behind_circuit(endpoint),
            "health": endpoint_health([endpoint])[endpoint.pk],
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def endpoint_enable(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    callbacks.endpoint_enable(
        endpoint=domain_endpoint(domain, endpoint_id), actor=signed_in_user(request)
    )
    messages.success(request, "Endpoint enabled.")
    return redirect("domains:domain", name=domain.name)


def _domain_url(domain: Domain) -> str:
    return reverse("domains:domain", args=[domain.name])


def _endpoint_name(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {mask_url(endpoint.url)}"


@login_required
def endpoint_disable(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    if not confirmed(request, "endpoint.disable", endpoint.endpoint_id):
        pending = pending_deliveries(endpoint)
        return ask(request, Question(
            action="endpoint.disable", target=endpoint.endpoint_id,
            title="Disable this endpoint?", subject=_endpoint_name(endpoint),
            button="Disable endpoint", cancel_url=_domain_url(domain),
            losses=[counted(pending, "pending delivery") + " cancelled (no more attempts)"],
            consequences=["It gets no callbacks until it is enabled again. Cancelled "
                          "deliveries can be resent or replayed later."],
            form=DisableForm(request.POST or None),
        ))
    cancelled = callbacks.endpoint_disable(
        endpoint=endpoint,
        actor=signed_in_user(request),
        reason=request.POST.get("reason", "").strip()[:200] or f"Disabled by {request.user}",
    )
    messages.success(request, f"Endpoint disabled; {counted(cancelled, 'pending delivery')} "
                     "cancelled.")
    return redirect("domains:domain", name=domain.name)


@login_required
def endpoint_delete(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    window = f"{settings.UNDO_WINDOW_HOURS:g} hours"
    if not confirmed(request, "endpoint.delete", endpoint.endpoint_id):
        return ask(request, Question(
            action="endpoint.delete", target=endpoint.endpoint_id,
            title="Delete this endpoint?", subject=_endpoint_name(endpoint),
            button="Delete endpoint", cancel_url=_domain_url(domain),
            losses=[counted(pending_deliveries(endpoint), "pending delivery")
                    + " cancelled (no more attempts)",
                    counted(len(endpoint.event_types), "event type") + " no longer sent to it"],
            consequences=["It stops receiving callbacks at once. Its delivery log is kept.",
                          f"You can undo this from the domain page for {window}."],
        ))
    callbacks.endpoint_delete(endpoint=endpoint, actor=signed_in_user(request))
    messages.success(request, f"Endpoint deleted; its delivery log is kept. Undo below within "
                     f"{window}.")
    return redirect("domains:domain", name=domain.name)


@login_required
@require_POST
def endpoint_restore(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    endpoint = get_object_or_404(recently_deleted_endpoints(domain), endpoint_id=endpoint_id)
    try:
        callbacks.endpoint_restore(endpoint=endpoint, actor=signed_in_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Endpoint restored: it receives new events again. Deliveries "
                         "cancelled by the delete stay cancelled; replay them if needed.")
    return redirect("domains:domain", name=domain.name)


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
        endpoint=endpoint, actor=signed_in_user(request), event_type=form.cleaned_data["event_type"]
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


# --- Delivery log ----------------------------------------------------------------


@login_required
@require_GET
def delivery_log(request: HttpRequest, name: str, endpoint_id: str | None = None) -> HttpResponse:
    """The domain's (or one endpoint's) deliveries, filtered by state, type and time."""
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id) if endpoint_id else None
    form = DeliveryFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = deliveries_for(
        domain,
        endpoint=endpoint,
        state=filters.get("state", ""),
        event_type=filters.get("type", ""),
        since=filters.get("since"),
        until=filters.get("until"),
    )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    summary = log_summary(rows.filter(test=False), filters.get("until"))
    return render(
        request,
        "domains/delivery_log.html",
        {
            "domain": domain,
            "endpoint": endpoint,
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "summary": summary,
        },
    )


def _domain_delivery(domain: Domain, delivery_id: str) -> Delivery:
    """One delivery of ``domain``, or 404."""
    delivery = delivery_detail(domain, delivery_id)
    if delivery is None:
        raise Http404("No such delivery.")
    return delivery


@login_required
def delivery_page(request: HttpRequest, name: str, delivery_id: str) -> HttpResponse:
    """A delivery's payload and attempts; POST reveals secrets in copy-as-curl (audited)."""
    domain = administered_domain(request, name)
    delivery = _domain_delivery(domain, delivery_id)
    revealed = None
    if request.method == "POST":
        revealed = callbacks.endpoint_reveal_headers(
            endpoint=delivery.endpoint, actor=signed_in_user(request)
        )
    endpoint = delivery.endpoint
    body = None if endpoint.method in ("GET", "HEAD") else bytes(delivery.event.body)
    signature = None
    if revealed is not None:  # signed now with the current secret: runnable for 5 minutes
        signature = FreshSignature(
            str(delivery.event_id), endpoint.signing_secrets(), int(time.time())
        )
    attempts = [
        (a, attempt_as_curl(a, body, revealed, signature, endpoint_url=endpoint.url))
        for a in delivery.attempts.all()
    ]
    return render(
        request,
        "domains/delivery.html",
        {
            "domain": domain,
            "delivery": delivery,
            "payload": pretty_body(delivery),
            "attempts": attempts,
            "revealed": revealed is not None,
        },
    )


def _delivery_action(request: HttpRequest, name: str, delivery_id: str, service: Any,
                     done: str) -> HttpResponse:
    """Run ``service`` on one of the domain's deliveries and show the delivery it leaves
    (a resend's new one); a refusal shows as a message."""
    domain = administered_domain(request, name)
    delivery = _domain_delivery(domain, delivery_id)
    try:
        shown = service(delivery=delivery, actor=signed_in_user(request)) or delivery
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        shown = delivery
    else:
        messages.success(request, done)
    return redirect("domains:delivery", name=domain.name, delivery_id=shown.pk)


@login_required
@require_POST
def delivery_resend(request: HttpRequest, name: str, delivery_id: str) -> HttpResponse:
    return _delivery_action(request, name, delivery_id, callbacks.delivery_resend,
                            "Sent again as a new delivery.")


@login_required
def delivery_cancel(request: HttpRequest, name: str, delivery_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    delivery = _domain_delivery(domain, delivery_id)
    if not confirmed(request, "delivery.cancel", str(delivery.pk)):
        return ask(request, Question(
            action="delivery.cancel", target=str(delivery.pk),
            title="Cancel this delivery?",
            subject=f"{delivery.event_type} to {_endpoint_name(delivery.endpoint)}",
            button="Cancel delivery",
            cancel_url=reverse("domains:delivery", args=[domain.name, delivery.pk]),
            consequences=["It gets no more attempts (an attempt already under way finishes). "
                          "You can resend it later as a new delivery."],
        ))
    return _delivery_action(request, name, delivery_id, callbacks.delivery_cancel,
                            "Cancelled: no more attempts. Resend it any time.")


# --- Secret, replay ----------------------------------------------------------------


@login_required
def endpoint_secret(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    """List the signing keys (age, when each stops signing); POST reveals the current secret
    (audited). Rotating has its own URL (``endpoint_secret_rotate``)."""
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    secret = None
    if request.method == "POST":
        secret = callbacks.endpoint_reveal_secret(endpoint=endpoint, actor=signed_in_user(request))
    keys = list(endpoint.signing_keys.live())
    return render(
        request,
        "domains/endpoint_secret.html",
        {"domain": domain, "endpoint": endpoint, "secret": secret, "keys": keys,
         "rotation_allowed_from": rotation_allowed_from(keys),
         "max_keys": MAX_OVERLAPPING_KEYS,
         "overlap": f"{settings.CALLBACK_SECRET_OVERLAP_HOURS:g} hours"},
    )


@login_required
def endpoint_secret_rotate(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    """Rotate the signing secret once the admin confirms; a refusal (too many keys sign
    already) shows on the signing-secret page."""
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    back = reverse("domains:endpoint_secret", args=[domain.name, endpoint.endpoint_id])
    if not confirmed(request, "endpoint.rotate_secret", endpoint.endpoint_id):
        return ask(request, _rotation_question(endpoint, back))
    try:
        callbacks.endpoint_rotate_secret(endpoint=endpoint, actor=signed_in_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "New secret issued: reveal it below and give it to your "
                         "receiver before the older ones stop signing.")
    return redirect(back)


def _rotation_question(endpoint: Endpoint, back: str) -> Question:
    """What a rotation does to each key that signs now, and what the receiver must do."""
    now = timezone.now()
    ends = now + datetime.timedelta(hours=settings.CALLBACK_SECRET_OVERLAP_HOURS)
    keys = list(endpoint.signing_keys.live(now))
    losses = [f"The {'current' if key.expires_at is None else 'older'} secret created "
              f"{key.created_at:%Y-%m-%d %H:%M} UTC stops signing at "
              f"{min(key.expires_at or ends, ends):%Y-%m-%d %H:%M} UTC" for key in keys]
    allowed_from = rotation_allowed_from(keys)
    refusal = [f"{MAX_OVERLAPPING_KEYS} earlier secrets still sign beside the current one, the "
               f"most there may be: this rotation will be refused until the oldest stops "
               f"signing, at {allowed_from:%Y-%m-%d %H:%M:%S} UTC."] if allowed_from else []
    return Question(
        action="endpoint.rotate_secret", target=endpoint.endpoint_id,
        title="Rotate the signing secret?", subject=_endpoint_name(endpoint),
        button="Rotate the secret", cancel_url=back, losses=losses,
        consequences=[*refusal,
                      "A new secret signs every callback from now on. Your receiver must "
                      "switch to it (reveal it on the signing-secret page) before the older "
                      "ones stop signing, or it will refuse the callbacks from then on.",
                      "Until then each callback carries one signature per secret, so a "
                      "receiver holding any of them still verifies it."],
    )


@login_required
def endpoint_replay(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    """Count first (dry run), then replay in the background."""
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    now = timezone.now().replace(second=0, microsecond=0)
    form = ReplayForm(
        request.POST or None, initial={"start": now - datetime.timedelta(hours=24), "end": now}
    )
    count = before = None
    if request.method == "POST" and form.is_valid():
        window = {"endpoint": endpoint, **form.cleaned_data}
        try:
            if "confirm" in request.POST:
                job = callbacks.replay_start(actor=signed_in_user(request), **window)
                return redirect("domains:replay", name=domain.name, job_id=job.job_id)
            count = callbacks.replay_count(**window)
            before = (
                callbacks.replay_events(**window).filter(created_at__lt=endpoint.created_at).count()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    return render(
        request,
        "domains/endpoint_replay.html",
        {"domain": domain, "endpoint": endpoint, "form": form, "count": count, "before": before},
    )


@login_required
@require_GET
def replay_progress(request: HttpRequest, name: str, job_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    job = get_object_or_404(ReplayJob, job_id=job_id, endpoint__domain=domain)
    if request.GET.get("format") == "json":
        return JsonResponse(
            {"state": job.state, "done": job.done, "total": job.total, "error": job.error}
        )
    return render(request, "domains/replay.html", {"domain": domain, "job": job})


# --- Admins and audit ---------------------------------------------------------------


@login_required
@require_POST
def admin_add(request: HttpRequest, name: str) -> HttpResponse:
    """The primary admin adds a co-admin: a user of the domain, invited if they have no
    password (new, or never chose one); the message says which of these happened."""
    domain = _as_primary(request, name)
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
    domain = _as_primary(request, name)
    user = get_object_or_404(DomainAdministrator, domain=domain, user__user_id=user_id).user
    if not confirmed(request, "admin.remove", f"{domain.name}:{user.user_id}"):
        return ask(request, Question(
            action="admin.remove", target=f"{domain.name}:{user.user_id}",
            title="Remove this admin?", subject=f"{user.email}, admin of {domain.name}",
            button="Remove admin", cancel_url=_domain_url(domain),
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


def _as_primary(request: HttpRequest, name: str) -> Domain:
    domain = administered_domain(request, name)
    if not domain.administrators.filter(user=signed_in_user(request), is_primary=True).exists():
        raise PermissionDenied("Only the primary admin manages co-admins.")
    return domain


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


def _tokens_page(request: HttpRequest, form: TokenForm, new_token: str = "") -> HttpResponse:
    tokens = ApiToken.objects.filter(user=signed_in_user(request), kind=TokenKind.USER)
    domain = signed_in_user(request).domain
    return render(
        request,
        "domains/tokens.html",
        {
            "form": form,
            "tokens": tokens,
            "new_token": new_token,
            "may_hold": domain is not None and domain.registered,
        },
    )


@login_required
@never_cache
def tokens(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; POST creates one and shows it this once."""
    if request.method != "POST":
        return _tokens_page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form)
    try:
        _, raw = services.token_issue(
            kind=TokenKind.USER,
            user=signed_in_user(request),
            name=form.cleaned_data["name"],
            actor=signed_in_user(request),
        )
    except ValidationError as exc:
        for messages_ in exc.message_dict.values():
            form.add_error(None, messages_)
        return _tokens_page(request, form)
    return _tokens_page(request, TokenForm(), new_token=raw)


@login_required
def token_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    token = get_object_or_404(
        ApiToken.objects.live(), user=signed_in_user(request), kind=TokenKind.USER, prefix=prefix
    )
    if not confirmed(request, "token.revoke", token.prefix):
        used = token.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if token.last_used_at else "never"
        return ask(request, Question(
            action="token.revoke", target=token.prefix,
            title="Revoke this API token?", subject=f"{token.prefix}… ({token.name})",
            button="Revoke token", cancel_url=reverse("domains:tokens"),
            losses=[f"token {token.prefix}… ({token.name}), last used {used}"],
            consequences=["Anything calling the API with it gets 401 at once. Revoking cannot "
                          "be undone: create a new token instead."],
        ))
    services.token_revoke(token=token, actor=signed_in_user(request))
    messages.success(request, f"Token {token.prefix}… ({token.name}) is revoked.")
    return redirect("domains:tokens")
