"""An endpoint's pages, one URL per action: add, edit, enable, disable, delete (and undo),
send a test event, the signing secret and its rotation, replay."""

from __future__ import annotations

import datetime
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from callbacks import services as callbacks
from callbacks.endpoint_health import endpoint_health
from callbacks.forms import filter_text, retry_policy_text, schedule_text
from callbacks.models import (
    MAX_OVERLAPPING_KEYS,
    Delivery,
    Endpoint,
    Kind,
    ReplayJob,
    SigningScheme,
    rotation_allowed_from,
)
from callbacks.selectors import (
    PREVIEW_EVENTS,
    delivery_summary,
    filter_preview,
    jwks_url,
    pending_deliveries,
    recently_deleted_endpoints,
    replay_outcomes,
    waiting_behind_circuit,
)
from callbacks.signing import public_key
from domains.confirm import Question, ask, confirmed
from domains.formats import counted, mask_mapping
from domains.forms import DisableForm, EndpointForm, ReplayForm, TestEventForm, show_refusal
from domains.models import Domain, signed_in_user
from domains.pages.access import administered_domain, domain_endpoint, domain_url, endpoint_name


@login_required
def endpoint_new(request: HttpRequest, name: str) -> HttpResponse:
    domain = administered_domain(request, name)
    form = EndpointForm(request.POST or None, request.FILES or None)
    if _testing_filter(request):
        return _filter_test(request, domain, form, None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            # Every field of the form is one of endpoint_create's (the shared validation
            # judges them all); an empty kind is the default one.
            saved = callbacks.endpoint_create(
                domain=domain, actor=signed_in_user(request),
                **{**data, "kind": data["kind"] or Kind.WEBHOOK})
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


def _testing_filter(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("action") == "test-filter"


def _filter_test(request: HttpRequest, domain: Domain, form: EndpointForm,
                 endpoint: Endpoint | None) -> HttpResponse:
    """The form's "test" button: judge the typed filter against the domain's last events of
    the chosen types, as publish would; save nothing, and speak only of those two fields."""
    form.is_valid()
    for other in set(form.errors) - {"payload_filter", "event_types"}:
        del form.errors[other]
    judged = not form.errors
    preview = (filter_preview(domain, form.cleaned_data["event_types"],
                              form.cleaned_data["payload_filter"]) if judged else None)
    context = {"domain": domain, "form": form, "endpoint": endpoint, "preview": preview,
               "preview_limit": PREVIEW_EVENTS,
               "preview_passing": sum(item.passes for item in preview or ())}
    if endpoint is not None:
        context.update(_endpoint_facts(endpoint))
    return render(request, "domains/endpoint_form.html", context,
                  status=200 if judged else 400)


def _endpoint_facts(endpoint: Endpoint) -> dict[str, object]:
    """What the edit page says of an endpoint above its form."""
    return {"waiting": waiting_behind_circuit(endpoint),
            "health": endpoint_health([endpoint])[endpoint.pk],
            "retry_policy": retry_policy_text(endpoint)}


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
        "retry_schedule": schedule_text(endpoint.retry_schedule),
        "attempt_timeout": f"{endpoint.attempt_timeout:g}" if endpoint.attempt_timeout else "",
        "payload_filter": filter_text(endpoint.payload_filter),
        "signing": endpoint.signing,
        "client_certificate": endpoint.client_certificate,
        "ca_bundle": endpoint.ca_bundle,
        "oauth_token_url": endpoint.oauth_token_url,
        "oauth_client_id": endpoint.oauth_client_id,
        "oauth_scope": endpoint.oauth_scope,
    }
    initial["kind"] = endpoint.kind
    form = EndpointForm(request.POST or None, request.FILES or None, initial=initial)
    form.fields["kind"].disabled = True  # chosen when added
    if _testing_filter(request):
        return _filter_test(request, domain, form, endpoint)
    if request.method == "POST" and form.is_valid():
        try:
            changes = {k: v for k, v in form.cleaned_data.items() if k != "kind"}
            callbacks.endpoint_update(endpoint=endpoint, actor=signed_in_user(request),
                                      changes=changes)
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
            **_endpoint_facts(endpoint),
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


@login_required
def endpoint_disable(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    if not confirmed(request, "endpoint.disable", endpoint.endpoint_id):
        pending = pending_deliveries(endpoint)
        return ask(request, Question(
            action="endpoint.disable", target=endpoint.endpoint_id,
            title="Disable this endpoint?", subject=endpoint_name(endpoint),
            button="Disable endpoint", cancel_url=domain_url(domain),
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
            title="Delete this endpoint?", subject=endpoint_name(endpoint),
            button="Delete endpoint", cancel_url=domain_url(domain),
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


@login_required
def endpoint_secret(request: HttpRequest, name: str, endpoint_id: str) -> HttpResponse:
    """List the signing keys (age, when each stops signing); POST reveals the current secret
    (audited). Rotating has its own URL (``endpoint_secret_rotate``)."""
    domain = administered_domain(request, name)
    endpoint = domain_endpoint(domain, endpoint_id)
    secret = None
    if request.method == "POST":
        secret = callbacks.endpoint_reveal_secret(endpoint=endpoint, actor=signed_in_user(request))
    live = list(endpoint.signing_keys.live())
    keys = [key for key in live if key.scheme == SigningScheme.HMAC]
    public_keys = [(key, public_key(key.secret)) for key in live
                   if key.scheme == SigningScheme.ED25519]
    return render(
        request,
        "domains/endpoint_secret.html",
        {"domain": domain, "endpoint": endpoint, "secret": secret, "keys": keys,
         "public_keys": public_keys, "jwks_url": jwks_url(endpoint) if public_keys else None,
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
    scheme = request.GET.get("scheme", SigningScheme.HMAC)
    if scheme not in SigningScheme.values:
        raise Http404("No such signing scheme.")
    # The HMAC secret's token names the endpoint alone, as before ed25519 keys existed.
    target = endpoint.endpoint_id + ("" if scheme == SigningScheme.HMAC else f":{scheme}")
    if not confirmed(request, "endpoint.rotate_secret", target):
        return ask(request, _rotation_question(endpoint, back, scheme, target))
    try:
        callbacks.endpoint_rotate_secret(endpoint=endpoint, actor=signed_in_user(request),
                                         scheme=scheme)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "New ed25519 key issued: it is published with the older "
                         "ones, which go on signing beside it for now." if scheme != "hmac"
                         else "New secret issued: reveal it below and give it to your "
                         "receiver before the older ones stop signing.")
    return redirect(back)


def _rotation_question(endpoint: Endpoint, back: str, scheme: str = SigningScheme.HMAC,
                       target: str = "") -> Question:
    """What a rotation does to each key that signs now, and what the receiver must do."""
    now = timezone.now()
    ends = now + datetime.timedelta(hours=settings.CALLBACK_SECRET_OVERLAP_HOURS)
    keys = list(endpoint.signing_keys.live(now).filter(scheme=scheme))
    if scheme == SigningScheme.ED25519:
        return Question(
            action="endpoint.rotate_secret", target=target,
            title="Rotate the ed25519 key?", subject=endpoint_name(endpoint),
            button="Rotate the ed25519 key", cancel_url=back,
            losses=[f"The {'current' if key.expires_at is None else 'older'} key {key.key_id} "
                    f"stops signing at {min(key.expires_at or ends, ends):%Y-%m-%d %H:%M} UTC"
                    for key in keys],
            lead="Each ed25519 key that signs now:",
            consequences=["A new key signs every callback from now on and is published in "
                          "the domain's JWKS at once: receivers that fetch the JWKS again for "
                          "an unknown webhook-key-id need do nothing else."])
    losses = [f"The {'current' if key.expires_at is None else 'older'} secret created "
              f"{key.created_at:%Y-%m-%d %H:%M} UTC stops signing at "
              f"{min(key.expires_at or ends, ends):%Y-%m-%d %H:%M} UTC" for key in keys]
    allowed_from = rotation_allowed_from(keys)
    refusal = [f"{MAX_OVERLAPPING_KEYS} earlier secrets still sign beside the current one, the "
               f"most there may be: this rotation will be refused until the oldest stops "
               f"signing, at {allowed_from:%Y-%m-%d %H:%M:%S} UTC."] if allowed_from else []
    return Question(
        action="endpoint.rotate_secret", target=target or endpoint.endpoint_id,
        title="Rotate the signing secret?", subject=endpoint_name(endpoint),
        button="Rotate the secret", cancel_url=back, losses=losses,
        lead="Each secret that signs now:",
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
    outcomes = replay_outcomes(job)
    if request.GET.get("format") == "json":
        return JsonResponse({"state": job.state, "done": job.done, "total": job.total,
                             "error": job.error, "outcomes": outcomes})
    return render(request, "domains/replay.html",
                  {"domain": domain, "job": job, "endpoint": job.endpoint, "outcomes": outcomes})
