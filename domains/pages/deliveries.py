"""The delivery log (a domain's or one endpoint's) and a delivery's page with its
attempts, copy as curl, resend and cancel."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from callbacks import chat
from callbacks import services as callbacks
from callbacks.forms import retry_policy_text
from callbacks.models import Delivery, Kind, SigningScheme
from callbacks.selectors import (
    FreshSignature,
    attempt_as_curl,
    deliveries_for,
    delivery_detail,
    endpoint_ed25519,
    log_summary,
    pretty_body,
    same_event_deliveries,
)
from domains.confirm import Question, ask, confirmed
from domains.forms import DeliveryFilterForm
from domains.models import Domain, signed_in_user
from domains.pages.access import administered_domain, domain_endpoint, endpoint_name


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
    if body is not None and endpoint.kind == Kind.CHAT:  # what was sent: its text message
        body = chat.body(body)
    signature = None
    if revealed is not None:  # signed now with the current secret: runnable for 5 minutes
        signature = FreshSignature(
            str(delivery.event_id),
            endpoint.signing_secrets() if endpoint.signs_with(SigningScheme.HMAC) else [],
            int(time.time()), endpoint_ed25519(endpoint))
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
            "retry_policy": retry_policy_text(endpoint),
            "others": same_event_deliveries(delivery),
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
            subject=f"{delivery.event_type} to {endpoint_name(delivery.endpoint)}",
            button="Cancel delivery",
            cancel_url=reverse("domains:delivery", args=[domain.name, delivery.pk]),
            consequences=["It gets no more attempts (an attempt already under way finishes). "
                          "You can resend it later as a new delivery."],
        ))
    return _delivery_action(request, name, delivery_id, callbacks.delivery_cancel,
                            "Cancelled: no more attempts. Resend it any time.")
