"""Support staff's view of endpoints, events, deliveries and the backlog.

Every change goes through callbacks.services."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from callbacks import services
from callbacks.forms import (
    EVENT_TYPE_CHOICES,
    EndpointFieldsMixin,
    HeadersField,
    ordering_field,
    rate_limit_field,
)
from callbacks.models import (
    Attempt,
    Delivery,
    DeliveryState,
    Endpoint,
    Event,
    Method,
    ReplayJob,
)
from callbacks.selectors import backlog
from domains.formats import mask_mapping, mask_url
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

    class Meta:
        model = Endpoint
        fields = ("domain", "method", "url", "event_types", "description", "ordering",
                  "rate_limit")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            shown = mask_mapping(self.instance.headers)
            self.fields["headers_json"].initial = (
                json.dumps(shown, indent=2, ensure_ascii=False) if shown else ""
            )
            self.fields["domain"].disabled = True



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


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
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
    )
    actions = ["disable", "enable", "rotate_secret", "probe_now"]

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

    @admin.display(description="Health")
    def health(self, obj: Endpoint) -> str:
        if obj.consecutive_failures:
            return f"{obj.consecutive_failures} failures: {obj.last_error[:60]}"
        return "ok" if obj.last_success_at else "—"

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
        }
        if change:
            saved = services.endpoint_update(
                endpoint=obj, actor=signed_in_user(request), changes=fields
            )
        else:
            saved = services.endpoint_create(
                domain=data["domain"], actor=signed_in_user(request), **fields
            )
        obj.pk, obj.endpoint_id = saved.pk, saved.endpoint_id
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: Endpoint) -> None:
        services.endpoint_delete(endpoint=obj, actor=signed_in_user(request))

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for endpoint in queryset:
            services.endpoint_delete(endpoint=endpoint, actor=signed_in_user(request))

    @admin.action(description="Disable (cancels pending deliveries)")
    def disable(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        cancelled = sum(
            services.endpoint_disable(
                endpoint=e,
                actor=signed_in_user(request),
                reason=f"Disabled by support ({request.user})",
            )
            for e in queryset
        )
        self.message_user(request, f"Disabled; {cancelled} pending deliveries cancelled.")

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

    @admin.action(description="Rotate the signing secret (old one signs for 24 h more)")
    def rotate_secret(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for endpoint in queryset:
            services.endpoint_rotate_secret(endpoint=endpoint, actor=signed_in_user(request))
        self.message_user(request, "Secrets rotated.")


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

    @admin.action(description="Cancel (pending ones: no more attempts)")
    def cancel(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        self._each(request, queryset.select_related("endpoint"),
                   services.delivery_cancel, "cancelled")

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
        """Pending count, the oldest due delivery's age, and the sweeper's heartbeat."""
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
