"""Support staff's PACS tools: integrations (and their tokens), devices and their
cameras, the vendors' label maps, and recent events."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest
from django.template.response import TemplateResponse

from domains.admin import ServiceAdmin
from domains.confirm import UndoableDeletes, admin_ask, admin_confirmed
from domains.models import signed_in_user
from pacs import services
from pacs.models import PacsDevice, PacsEvent, PacsIntegration, PacsLabel
from pacs.selectors import integration_losses


class DeviceInline(admin.TabularInline):
    """The integration's devices; map cameras on a device's own page (audited there)."""

    model = PacsDevice
    extra = 0
    fields = ("device_id", "device_name", "camera_names")
    readonly_fields = ("device_id", "device_name", "camera_names")
    show_change_link = True

    @admin.display(description="cameras")
    def camera_names(self, obj: PacsDevice) -> str:
        return ", ".join(c.name for c in obj.cameras.all()) or "—"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the PACS sends its list (POST /pacs/devices)


class PacsIntegrationForm(forms.ModelForm):
    def clean_source_server(self) -> str:
        """The service's check, as a field error (a changed value only: rows saved before
        it still open and save)."""
        value = (self.cleaned_data.get("source_server") or "").strip()
        if "source_server" in self.changed_data:
            try:
                services.integrations.check_source_server(value)
            except ValidationError as exc:
                raise ValidationError(exc.message_dict["source_server"]) from None
        return value


@admin.register(PacsIntegration)
class PacsIntegrationAdmin(UndoableDeletes, ServiceAdmin):
    form = PacsIntegrationForm
    list_display = ("name", "vendor", "domain", "owner", "source_server", "time_zone", "created_at",
                    "deleted_at")
    list_filter = ("vendor", ("deleted_at", admin.EmptyFieldListFilter), "domain")
    search_fields = ("name", "integration_id", "owner__email", "source_server")
    list_select_related = ("domain", "owner")
    raw_id_fields = ("owner",)
    readonly_fields = ("integration_id", "domain", "created_at", "updated_at", "deleted_at")
    fields = (
        "integration_id",
        "name",
        "vendor",
        "owner",
        "domain",
        "source_server",
        "time_zone",
        "created_at",
        "updated_at",
        "deleted_at",
    )
    actions = ["issue_token", "rotate_token", "soft_delete", "restore"]
    inlines = [DeviceInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        return (*self.readonly_fields, "owner") if obj is not None else self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: PacsIntegration, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        if change:
            changes = {k: data[k] for k in form.changed_data if k in services.integrations.EDITABLE}
            stored = PacsIntegration.objects.get(pk=obj.pk)  # the form already changed obj
            saved = services.integration_update(
                integration=stored, actor=signed_in_user(request), changes=changes
            )
        else:
            saved = services.integration_create(
                owner=data["owner"],
                vendor=data["vendor"],
                name=data["name"],
                source_server=data.get("source_server", ""),
                time_zone=data.get("time_zone") or "UTC",
                actor=signed_in_user(request),
            )
        obj.pk, obj.integration_id, obj.domain_id = saved.pk, saved.integration_id, saved.domain_id
        obj._state.adding = False

    noun = "integration"
    after_delete = ("Their gateways are cut off at once; after the undo window their devices, "
                    "door mappings, events and tokens are purged.")

    def losses(self, live: models.QuerySet) -> list[str]:
        return [f"{i}: " + ", ".join(integration_losses(i)) for i in live]

    def delete_one(self, request: HttpRequest, obj: PacsIntegration) -> None:
        services.integration_delete(integration=obj, actor=signed_in_user(request))

    def restore_one(self, request: HttpRequest, obj: PacsIntegration) -> None:
        services.integration_restore(integration=obj, actor=signed_in_user(request))

    def _show(self, request: HttpRequest, token: Any, raw: str) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "token": token,
            "raw": raw,
            "opts": self.opts,
            "title": "PACS token created",
        }
        return TemplateResponse(request, "admin/domains/apitoken/created.html", context)

    def _token(
        self, request: HttpRequest, queryset: models.QuerySet, issue: Any
    ) -> TemplateResponse:
        """Issue or rotate (``issue``) the selected integration's token and show it once."""
        integration = queryset.first()
        assert integration is not None  # the admin runs an action only on a selection
        token, raw = issue(integration=integration, actor=signed_in_user(request))
        return self._show(request, token, raw)

    @admin.action(description="Issue a new PACS token (shown once)")
    def issue_token(self, request: HttpRequest, queryset: models.QuerySet) -> TemplateResponse:
        return self._token(request, queryset, services.integration_token_issue)

    @admin.action(description="Rotate the PACS token… (asks first; revokes the others)")
    def rotate_token(self, request: HttpRequest, queryset: models.QuerySet) -> TemplateResponse:
        if not admin_confirmed(request, "rotate_token", queryset[:1]):
            return admin_ask(
                request, queryset[:1], action="rotate_token",
                title="Rotate this integration's token?", button="Rotate token",
                consequences=["A new token is shown once; every other token of the integration "
                              "is revoked at once, so gateways using them get 401."],
            )
        return self._token(request, queryset, services.integration_token_rotate)


@admin.register(PacsDevice)
class PacsDeviceAdmin(admin.ModelAdmin):
    list_display = ("device_id", "device_name", "integration", "camera_count")
    list_filter = ("integration",)
    search_fields = ("device_id", "device_name")
    filter_horizontal = ("cameras",)
    readonly_fields = ("integration", "device_id", "device_name", "created_at", "updated_at")
    fields = ("integration", "device_id", "device_name", "cameras", "created_at", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="cameras")
    def camera_count(self, obj: PacsDevice) -> int:
        return obj.cameras.count()

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "cameras":
            from domains.models import Camera

            match = request.resolver_match  # set for every admin view
            object_id = match.kwargs.get("object_id") if match else None  # None on "add"
            device = (
                PacsDevice.objects.filter(pk=object_id) if object_id else PacsDevice.objects.none()
            )
            domain_ids = device.values_list("integration__domain_id", flat=True)
            kwargs["queryset"] = Camera.objects.filter(domain_id__in=domain_ids)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        services.device_map(
            device=form.instance,
            cameras=list(form.cleaned_data["cameras"]),
            actor=signed_in_user(request),
        )


@admin.register(PacsLabel)
class PacsLabelAdmin(admin.ModelAdmin):
    list_display = ("vendor", "code", "label", "description")
    list_filter = ("vendor",)
    list_editable = ("label",)
    search_fields = ("code", "label")


@admin.register(PacsEvent)
class PacsEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "integration", "entry_id", "label", "state", "batch_id")
    list_filter = ("state", "integration", ("received_at", admin.DateFieldListFilter))
    search_fields = ("entry_id", "vendor_event_id", "batch_id")
    list_select_related = ("integration",)
    readonly_fields = [f.name for f in PacsEvent._meta.fields]
    date_hierarchy = "received_at"

    @admin.display(description="label")
    def label(self, obj: PacsEvent) -> str:
        return obj.labels[1] if len(obj.labels) > 1 else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
