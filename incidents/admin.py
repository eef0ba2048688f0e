"""Support staff's incident tools: counter rules (with reset), incidents, reports."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest

from domains.models import signed_in_user
from incidents import services
from incidents.models import CounterReport, CounterRule, Incident


@admin.register(CounterRule)
class CounterRuleAdmin(admin.ModelAdmin):
    list_display = (
        "counter",
        "scope",
        "enabled",
        "comparison",
        "threshold",
        "window_seconds",
        "cooldown_seconds",
        "updated_at",
    )
    list_editable = ("enabled",)
    readonly_fields = ("counter", "scope", "updated_at")
    fields = (*list_display[:-1], "description", "updated_at")
    actions = ["reset_to_defaults"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the rules are the counters Boxes report; reset brings defaults back

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CounterRule, form: Any, change: bool) -> None:
        before = {name: form.initial.get(name) for name in form.changed_data}
        services.rule_update(rule=obj, before=before, actor=signed_in_user(request))

    @admin.action(description="Reset selected rules to Camio's defaults")
    def reset_to_defaults(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        count = services.rules_reset(
            actor=signed_in_user(request), counters=list(queryset.values_list("counter", flat=True))
        )
        self.message_user(request, f"{count} rule(s) reset to the defaults.", messages.SUCCESS)


class CounterFilter(admin.SimpleListFilter):
    title = "counter"
    parameter_name = "counter"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(c, c) for c in CounterRule.objects.values_list("counter", flat=True)]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
        return queryset.filter(trips__counter=self.value()).distinct() if self.value() else queryset


class ViewOnlyAdmin(admin.ModelAdmin):
    """Rows the services write (incidents, reports): support staff read and delete them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(ViewOnlyAdmin):
    list_display = ("incident_id", "date", "domain", "camera", "device", "counters", "historical")
    list_filter = (
        CounterFilter,
        ("camera", admin.RelatedOnlyFieldListFilter),
        ("date", admin.DateFieldListFilter),
        "historical",
        "domain",
    )
    search_fields = (
        "incident_id",
        "camera__name",
        "camera__camera_id",
        "device__device_id",
        "counters",
    )
    list_select_related = ("domain", "camera", "device")
    date_hierarchy = "date"
    readonly_fields = [f.name for f in Incident._meta.fields]


@admin.register(CounterReport)
class CounterReportAdmin(ViewOnlyAdmin):
    list_display = (
        "device",
        "reported_at",
        "report_id",
        "received_at",
        "evaluated_at",
        "historical",
    )
    list_filter = ("historical", ("reported_at", admin.DateFieldListFilter))
    search_fields = ("device__device_id", "device__name", "report_id")
    list_select_related = ("device",)
    date_hierarchy = "reported_at"
    readonly_fields = [f.name for f in CounterReport._meta.fields]
