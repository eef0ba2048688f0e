"""Support staff's view of endpoints, events, deliveries and the backlog.

Every change goes through callbacks.services."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from callbacks import services
from callbacks.endpoint_health import Health, endpoint_health
from callbacks.forms import (
    EVENT_TYPE_CHOICES,
    EndpointFieldsMixin,
    HeadersField,
    attempt_timeout_field,
    filter_text,
    oauth_fields,
    ordering_field,
    payload_filter_field,
    rate_limit_field,
    retry_schedule_field,
    schedule_text,
    signing_field,
    tls_fields,
)
from callbacks.models import (
    MAX_OVERLAPPING_KEYS,
    Attempt,
    Delivery,
    DeliveryState,
    Endpoint,
    Event,
    Kind,
    Method,
    ReplayJob,
)
from callbacks.selectors import backlog, pending_deliveries
from domains.confirm import UndoableDeletes, admin_ask, admin_confirmed
from domains.formats import MASK, counted, mask_mapping, mask_url
from domains.models import signed_in_user


def _errors_to_messages(request: HttpRequest, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        messages.error(request, f"{field}: {' '.join(errors)}")


class EndpointForm(EndpointFieldsMixin, forms.ModelForm):
    headers_json = HeadersField(
        label="Headers (JSON)",
        required=False,
        help_text='An object of name to value, e.g. {"Authorization": "token XYZPDQ"}. '
        "Secret-looking values are shown masked; leave them masked to keep them.",
    )
    event_types = forms.MultipleChoiceField(
        choices=EVENT_TYPE_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    method = forms.ChoiceField(choices=Method.choices, initial=Method.POST)
    ordering = ordering_field()
    rate_limit = rate_limit_field()
    retry_schedule = retry_schedule_field()
    attempt_timeout = attempt_timeout_field()
    payload_filter = payload_filter_field()
    signing = signing_field()
    client_certificate, client_key, ca_bundle = tls_fields()
    oauth_token_url, oauth_client_id, oauth_client_secret, oauth_scope = oauth_fields()
    kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.WEBHOOK, required=False,
                             help_text="chat: a Slack- or Teams-style incoming webhook that "
                             "gets a short text message; its URL is kept encrypted.")

    class Meta:
        model = Endpoint
        fields = ("domain", "kind", "method", "url", "event_types", "description", "ordering",
                  "rate_limit", "retry_schedule", "attempt_timeout", "payload_filter",
                  "signing")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            shown = mask_mapping(self.instance.headers)
            self.fields["headers_json"].initial = (
                json.dumps(shown, indent=2, ensure_ascii=False) if shown else ""
            )
            self.fields["domain"].disabled = True
            self.fields["kind"].disabled = True  # chosen when added
            self.initial["retry_schedule"] = schedule_text(self.instance.retry_schedule)
            self.initial["payload_filter"] = filter_text(self.instance.payload_filter)
            self.initial["client_key"] = ""  # never shown again
            for name in ("client_certificate", "ca_bundle", "oauth_token_url", "oauth_client_id",
                         "oauth_scope"):
                self.initial[name] = getattr(self.instance, name)



class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = (
        "number",
        "due_at",
        "started_at",
        "duration_ms",
        "request_method",
        "response_status",
        "error",
        "configuration_error",
        "response_excerpt",
    )
    readonly_fields = fields

    @admin.display(description="Response body")
    def response_excerpt(self, obj: Attempt) -> str:
        return obj.response_body[:200]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class HealthChangeList(ChangeList):
    """The endpoint list, with the health of the page's endpoints read in one go (a few
    grouped queries for the page, not a few per row)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        page = list(self.result_list)  # evaluated once: the template reuses these rows
        health = endpoint_health(page)
        for endpoint in page:
            endpoint.health_24h = health[endpoint.pk]


@admin.register(Endpoint)
class EndpointAdmin(UndoableDeletes, admin.ModelAdmin):
    form = EndpointForm
    list_display = (
        "endpoint_id",
        "domain",
        "method",
        "masked_url",
        "enabled",
        "health",
        "circuit",
        "ordering",
        "rate_limit",
        "last_success_at",
        "deleted_at",
        "replay_link",
    )
    list_filter = ("enabled", "method", "ordering",
                   ("deleted_at", admin.EmptyFieldListFilter), "domain")
    search_fields = ("endpoint_id", "url", "domain__name")
    readonly_fields = (
        "endpoint_id",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "last_success_at",
        "last_attempt_at",
        "failing_since",
        "consecutive_failures",
        "last_error",
        "circuit",
        "breaker_failures",
        "circuit_opened_at",
        "next_probe_at",
        "paused_until",
        "created_at",
        "deleted_at",
        "keys_signing_now",
    )
    actions = ["disable", "enable", "rotate_secret", "probe_now", "soft_delete", "restore"]

    @admin.display(description="URL")
    def masked_url(self, obj: Endpoint) -> str:
        return mask_url(obj.url)

    @admin.display(description="Replay")
    def replay_link(self, obj: Endpoint) -> str:
        url = reverse("admin:callbacks_replay", args=[obj.endpoint_id])
        return format_html('<a href="{}">replay…</a>', url)

    @admin.display(description="Circuit")
    def circuit(self, obj: Endpoint) -> str:
        if obj.circuit_opened_at is None:
            return "closed"
        waiting = obj.deliveries.filter(state="pending").count()
        probe = f", next probe {obj.next_probe_at:%H:%M:%S}" if obj.next_probe_at else ""
        return f"{obj.circuit_state} since {obj.circuit_opened_at:%Y-%m-%d %H:%M}{probe}; " \
            f"{waiting} waiting"

    @admin.display(description="Signing keys")
    def keys_signing_now(self, obj: Endpoint) -> str:
        """The keys that sign now, newest first; their secrets are never shown here."""
        if obj.pk is None:
            return "—"
        rows = format_html_join("", "<li><code>whsec_{}</code> {}: created {} UTC, {}</li>", (
            (MASK, key.key_id, f"{key.created_at:%Y-%m-%d %H:%M}",
             "current" if key.expires_at is None
             else f"stops signing {key.expires_at:%Y-%m-%d %H:%M} UTC")
            for key in obj.signing_keys.live()
        ))
        return format_html("<ul>{}</ul>", rows)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return HealthChangeList

    @admin.display(description="Health (24 h)")
    def health(self, obj: Endpoint) -> str:
        """The domain page's figure, and the failures in a row now."""
        health: Health = getattr(obj, "health_24h", None) or endpoint_health([obj])[obj.pk]
        streak = (f"; now {obj.consecutive_failures} failed in a row: {obj.last_error[:60]}"
                  if obj.consecutive_failures else "")
        return health.summary + streak

    def save_model(
        self, request: HttpRequest, obj: Endpoint, form: EndpointForm, change: bool
    ) -> None:
        data = form.cleaned_data
        fields = {
            "url": data["url"],
            "method": data["method"],
            "event_types": data["event_types"],
            "headers": data["headers_json"],
            "description": data.get("description", ""),
            "ordering": data["ordering"],
            "rate_limit": data.get("rate_limit"),
            "retry_schedule": data.get("retry_schedule"),
            "attempt_timeout": data.get("attempt_timeout"),
            "payload_filter": data.get("payload_filter"),
            "signing": data.get("signing") or "hmac",
            "client_certificate": data.get("client_certificate") or "",
            "client_key": data.get("client_key") or "",
            "ca_bundle": data.get("ca_bundle") or "",
            **{name: data.get(name) or "" for name in ("oauth_token_url", "oauth_client_id",
                                                       "oauth_client_secret", "oauth_scope")},
        }
        if change:
            saved = services.endpoint_update(
                endpoint=obj, actor=signed_in_user(request), changes=fields
            )
        else:
            saved = services.endpoint_create(
                domain=data["domain"], actor=signed_in_user(request),
                kind=data["kind"] or Kind.WEBHOOK, **fields
            )
        obj.pk, obj.endpoint_id = saved.pk, saved.endpoint_id
        obj._state.adding = False

    noun = "endpoint"
    after_delete = ("They stop receiving callbacks at once and their pending deliveries are "
                    "cancelled; their delivery logs are kept.")

    def losses(self, live: models.QuerySet) -> list[str]:
        return [counted(pending_deliveries(live), "pending delivery") + " cancelled"]

    def delete_one(self, request: HttpRequest, obj: Endpoint) -> None:
        services.endpoint_delete(endpoint=obj, actor=signed_in_user(request))

    def restore_one(self, request: HttpRequest, obj: Endpoint) -> None:
        services.endpoint_restore(endpoint=obj, actor=signed_in_user(request))

    @admin.action(description="Disable… (asks first; cancels pending deliveries)")
    def disable(self, request: HttpRequest, queryset: models.QuerySet) -> TemplateResponse | None:
        if not admin_confirmed(request, "disable", queryset):
            return admin_ask(
                request, queryset, action="disable", title="Disable these endpoints?",
                button="Disable endpoints",
                losses=[counted(pending_deliveries(queryset), "pending delivery") + " cancelled"],
                consequences=["They get no callbacks until enabled again; the domain's admins "
                              "are e-mailed."],
            )
        cancelled = sum(
            services.endpoint_disable(
                endpoint=e,
                actor=signed_in_user(request),
                reason=f"Disabled by support ({request.user})",
            )
            for e in queryset
        )
        self.message_user(
            request, f"Disabled; {counted(cancelled, 'pending delivery')} cancelled."
        )
        return None

    @admin.action(description="Enable")
    def enable(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for endpoint in queryset:
            try:
                services.endpoint_enable(endpoint=endpoint, actor=signed_in_user(request))
            except ValidationError as exc:
                _errors_to_messages(request, exc)

    @admin.action(description="Send the open circuit's next probe now")
    def probe_now(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        sent = sum(
            services.endpoint_probe_now(endpoint=e, actor=signed_in_user(request)) for e in queryset
        )
        self.message_user(request, f"{sent} probes sent (closed circuits have none).")

    @admin.action(description="Rotate the signing secret… (asks first; older ones sign 24 h)")
    def rotate_secret(
        self, request: HttpRequest, queryset: models.QuerySet
    ) -> TemplateResponse | None:
        hours = f"{settings.CALLBACK_SECRET_OVERLAP_HOURS:g} hours"
        if not admin_confirmed(request, "rotate_secret", queryset):
            return admin_ask(
                request, queryset, action="rotate_secret",
                title="Rotate the signing secret of these endpoints?", button="Rotate secrets",
                consequences=[
                    "Each gets a new secret that signs every callback from now on: its receiver "
                    "must switch to it (the domain admin reveals it on the signing-secret page).",
                    f"The secrets that sign now go on signing beside it for {hours} at most, "
                    "then stop: a receiver still holding only those refuses the callbacks.",
                    f"An endpoint whose {MAX_OVERLAPPING_KEYS} earlier secrets still sign is "
                    "left as it is (refused until the oldest of them stops signing).",
                ],
            )
        rotated = 0
        for endpoint in queryset:
            try:
                services.endpoint_rotate_secret(endpoint=endpoint, actor=signed_in_user(request))
                rotated += 1
            except ValidationError as exc:
                messages.error(request, f"{endpoint.endpoint_id}: {' '.join(exc.messages)}")
        self.message_user(request, f"{counted(rotated, 'secret')} rotated.")
        return None


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "domain", "created_at", "test")
    list_filter = ("type", "test", "domain")
    date_hierarchy = "created_at"
    readonly_fields = ("id", "type", "domain", "created_at", "test", "payload")
    exclude = ("body",)

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet, search_term: str
    ) -> tuple[models.QuerySet, bool]:
        """Search by event id (the webhook-id header), across domains."""
        try:
            return queryset.filter(id=uuid.UUID(search_term.strip())), False
        except ValueError:
            return (queryset.none() if search_term else queryset), False

    search_fields = ("id",)

    @admin.display(description="Payload")
    def payload(self, obj: Event) -> str:
        return format_html("<pre>{}</pre>", bytes(obj.body).decode())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReplayForm(forms.Form):
    start = forms.DateTimeField()
    end = forms.DateTimeField()
    include_all = forms.BooleanField(required=False)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    # Short columns, so the list reads beside the filter panel at 1366 px.
    list_display = ("short_id", "event_type", "domain", "where", "outcome", "created")
    list_display_links = ("short_id",)
    list_filter = ("state", "event_type", "test", "replay", "domain")
    list_select_related = ("domain", "endpoint")

    @admin.display(description="Delivery", ordering="id")
    def short_id(self, obj: Delivery) -> str:
        return str(obj.id)[:8]

    @admin.display(description="Endpoint")
    def where(self, obj: Delivery) -> str:
        url = mask_url(obj.endpoint.url)
        return f"{obj.endpoint.method} {url if len(url) <= 40 else url[:39] + '…'}"

    @admin.display(description="Outcome", ordering="state")
    def outcome(self, obj: Delivery) -> str:
        text = f"{obj.state}, {obj.attempt_count} attempt{'s' if obj.attempt_count != 1 else ''}"
        if obj.last_status_code:
            text += f", HTTP {obj.last_status_code}"
        if obj.state == DeliveryState.PENDING:
            text += f"; next {obj.next_attempt_at:%m-%d %H:%M:%S}"
        return text

    @admin.display(description="Created (UTC)", ordering="created_at")
    def created(self, obj: Delivery) -> str:
        return f"{obj.created_at:%Y-%m-%d %H:%M:%S}"
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["resend", "cancel"]
    readonly_fields = (
        "id",
        "event",
        "endpoint",
        "domain",
        "event_type",
        "state",
        "test",
        "replay",
        "attempt_count",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "finished_at",
    )
    exclude = ("claim_token", "lease_expires_at")
    search_fields = ("id",)

    def get_search_results(
        self, request: HttpRequest, queryset: models.QuerySet, search_term: str
    ) -> tuple[models.QuerySet, bool]:
        """Search by delivery id or event id (webhook-id), across domains."""
        try:
            wanted = uuid.UUID(search_term.strip())
        except ValueError:
            return (queryset.none() if search_term else queryset), False
        return queryset.filter(models.Q(id=wanted) | models.Q(event_id=wanted)), False

    def _each(self, request: HttpRequest, deliveries: models.QuerySet, service: Any,
              done: str) -> None:
        """Run ``service`` on each delivery; refusals become messages, the rest a count."""
        count = 0
        for delivery in deliveries:
            try:
                service(delivery=delivery, actor=signed_in_user(request))
                count += 1
            except ValidationError as exc:
                _errors_to_messages(request, exc)
        self.message_user(request, f"{count} {done}.")

    @admin.action(description="Resend (a new delivery of the same event)")
    def resend(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        self._each(request, queryset.select_related("endpoint", "event"),
                   services.delivery_resend, "resent")

    @admin.action(description="Cancel… (asks first; pending ones get no more attempts)")
    def cancel(self, request: HttpRequest, queryset: models.QuerySet) -> TemplateResponse | None:
        if not admin_confirmed(request, "cancel", queryset):
            return admin_ask(
                request, queryset, action="cancel", title="Cancel these deliveries?",
                button="Cancel deliveries",
                consequences=["Pending ones get no more attempts; they can be resent later as "
                              "new deliveries. Finished ones are left as they are."],
            )
        self._each(request, queryset.select_related("endpoint"),
                   services.delivery_cancel, "cancelled")
        return None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list:
        return [
            path(
                "backlog/", self.admin_site.admin_view(self.backlog_view), name="callbacks_backlog"
            ),
            path(
                "replay/<str:endpoint_id>/",
                self.admin_site.admin_view(self.replay_view),
                name="callbacks_replay",
            ),
            *super().get_urls(),
        ]

    def backlog_view(self, request: HttpRequest) -> HttpResponse:
        """Pending count, the oldest due delivery's age, the sweeper's heartbeat, live
        workers, and the busiest domains' deliveries in flight and due."""
        now = timezone.now()
        found = backlog(now)
        context = {
            **self.admin_site.each_context(request),
            "title": "Delivery backlog",
            "pending": found.pending,
            "due": found.due,
            "sending": found.sending,
            "oldest_age": (now - found.oldest_due) if found.oldest_due else None,
            "heartbeat": found.heartbeat,
            "heartbeat_age": (now - found.heartbeat) if found.heartbeat else None,
            "workers": found.workers,
            "domains": found.domains,
        }
        return TemplateResponse(request, "admin/callbacks/backlog.html", context)

    def replay_view(self, request: HttpRequest, endpoint_id: str) -> HttpResponse:
        """Replay an endpoint's events in a time range: dry-run count first, then start."""
        endpoint = Endpoint.objects.get(endpoint_id=endpoint_id)
        form = ReplayForm(
            request.POST or None,
            initial={"start": timezone.now() - datetime.timedelta(days=1), "end": timezone.now()},
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Replay to {endpoint}",
            "form": form,
            "endpoint": endpoint,
            "count": None,
            "job": None,
        }
        if request.method == "POST" and form.is_valid():
            window = {
                "endpoint": endpoint,
                "start": form.cleaned_data["start"],
                "end": form.cleaned_data["end"],
                "include_all": form.cleaned_data["include_all"],
            }
            try:
                if "confirm" in request.POST:
                    context["job"] = services.replay_start(actor=signed_in_user(request), **window)
                else:
                    context["count"] = services.replay_count(**window)
            except ValidationError as exc:
                _errors_to_messages(request, exc)
        return TemplateResponse(request, "admin/callbacks/replay.html", context)


@admin.register(ReplayJob)
class ReplayJobAdmin(admin.ModelAdmin):
    """Replays and their progress (read-only; start one from an endpoint's replay page)."""

    list_display = (
        "job_id",
        "endpoint",
        "start",
        "end",
        "include_all",
        "state",
        "progress",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("state",)
    search_fields = ("job_id", "endpoint__endpoint_id")

    @admin.display(description="Progress")
    def progress(self, obj: ReplayJob) -> str:
        return f"{obj.done} / {obj.total}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
