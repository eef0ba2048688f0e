"""The support staff's Django admin. Every write goes through domains.services."""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar, Protocol

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from domains import services
from domains.confirm import FIELD, Question, admin_ask, admin_confirmed, ask, confirmed
from domains.formats import counted
from domains.forms import show_refusal
from domains.models import (
    ApiToken,
    AuditEntry,
    Camera,
    Device,
    Domain,
    DomainAdministrator,
    Hook,
    TokenKind,
    User,
    Zone,
    signed_in_user,
)
from domains.services.inventory import CAMERA_FIELDS

# What ModelAdmin.get_fields returns: field names, or tuples of names shown on one line.
FieldNames = list[str | list[str] | tuple[str, ...]]


def values_of(obj: models.Model, *names: str) -> dict[str, Any]:
    """The form's values on the unsaved ``obj``, as keyword arguments of a create service."""
    return {name: getattr(obj, name) for name in names}


def _adding(obj: Any, form: type[forms.ModelForm], kwargs: dict[str, Any]) -> dict[str, Any]:
    """get_form's keyword arguments, with ``form`` for the add page (``obj`` None)."""
    return {**kwargs, "form": form} if obj is None else kwargs


def adopt(target: models.Model, saved: models.Model) -> None:
    """Make the admin's unsaved ``target`` stand for the row a service saved."""
    target.__dict__.update({k: v for k, v in saved.__dict__.items() if k != "_state"})
    target._state.adding = False
    target._state.db = saved._state.db


class ServiceAdmin(admin.ModelAdmin):
    """A ModelAdmin whose saves and deletes call services instead of the ORM.

    Subclasses define ``create(request, obj, form)``, ``update(request, obj,
    changes)`` and ``delete(request, obj)``, each calling one service.
    """

    def create(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> models.Model:
        raise NotImplementedError

    def update(self, request: HttpRequest, obj: Any, changes: dict[str, Any]) -> models.Model:
        raise NotImplementedError

    def delete(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def save_model(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            adopt(obj, self.update(request, obj, changes))
        else:
            adopt(obj, self.create(request, obj, form))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for obj in queryset:
            self.delete(request, obj)


def _link(obj: models.Model) -> str:
    url = reverse(f"admin:domains_{obj._meta.model_name}_change", args=[obj.pk])
    name = str(obj._meta.verbose_name)  # a model's verbose_name is always set
    return format_html('{}: <a href="{}">{}</a>', name.capitalize(), url, obj)


def _camera_tree(camera: Camera, counts: Counter) -> list:
    counts[Camera._meta.verbose_name_plural] += 1
    zones = list(camera.zones.all())
    counts[Zone._meta.verbose_name_plural] += len(zones)
    return [_link(camera), [_link(zone) for zone in zones]]


def _deletion_preview(request: HttpRequest, trees: list, counts: Counter) -> tuple:
    perms_needed = {
        str(model._meta.verbose_name)
        for model in (Camera, Zone)
        if counts[model._meta.verbose_name_plural]
        and not signed_in_user(request).has_perm(f"domains.delete_{model._meta.model_name}")
    }
    return trees, dict(counts), perms_needed, []


# --- Users and domains -----------------------------------------------------


class UserAddForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        help_text="Leave empty to send the user an invitation to choose one.",
    )

    class Meta:
        model = User
        fields = ("email", "name", "is_staff", "is_superuser")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    add_form = UserAddForm
    add_fieldsets = ((None, {"fields": ("email", "name", "password", "is_staff", "is_superuser")}),)
    fieldsets = (
        (None, {"fields": ("email", "user_id", "password", "name", "domain")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ("email", "user_id", "last_login", "date_joined")
    list_display = ("email", "name", "domain", "is_staff", "is_active", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "domain")
    search_fields = ("email", "name", "user_id")
    ordering = ("email",)
    actions = ["send_invitation"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        # The e-mail is fixed once the user exists; the add form must still take one.
        return self.readonly_fields if obj is not None else ()

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            changes = {
                n: form.cleaned_data[n]
                for n in form.changed_data
                if n in {"name", "domain", "is_active", "is_staff", "is_superuser"}
            }
            saved = services.user_update(user=obj, actor=signed_in_user(request), changes=changes)
            adopt(obj, saved)
            return
        data = form.cleaned_data
        user = services.user_create(
            email=data["email"],
            password=data.get("password") or None,
            name=data["name"],
            is_staff=data["is_staff"],
            is_superuser=data["is_superuser"],
            actor=signed_in_user(request),
        )
        adopt(obj, user)
        if not data.get("password"):
            services.invitation_send(user=user, domain=user.domain, actor=signed_in_user(request))
            self.message_user(request, f"Invitation e-mailed to {user.email}.")

    @admin.action(description="E-mail a set-password invitation")
    def send_invitation(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for user in queryset:
            services.invitation_send(user=user, domain=user.domain, actor=signed_in_user(request))
        self.message_user(request, f"Invitation e-mailed to {queryset.count()} user(s).")


class DomainRegisterForm(forms.ModelForm):
    admin_email = forms.EmailField(
        label="Primary admin's e-mail",
        help_text="Must be in the domain. The admin gets an invitation to choose a password.",
    )

    class Meta:
        model = Domain
        fields = ("name", "min_upload_queue_length_for_incident_creation")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns, though typed as optional
        if "name" in data and "admin_email" in data:
            try:
                data["name"], data["admin_email"] = services.domain_registration_check(
                    name=data["name"], admin_email=data["admin_email"]
                )
            except ValidationError as exc:
                show_refusal(self, exc)
        return data

    def validate_unique(self) -> None:
        """Leave uniqueness to domain_registration_check: it may register an existing row."""


class AdministratorFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        # BaseFormSet's own deletion test, which the stubs leave out.
        should_delete = self._should_delete_form  # type: ignore[attr-defined]
        for form in self.forms:
            if self.can_delete and should_delete(form) and form.instance.is_primary:
                raise ValidationError("The primary admin cannot be removed.")


class AdministratorInline(admin.TabularInline):
    model = DomainAdministrator
    formset = AdministratorFormSet
    fk_name = "domain"
    fields = ("user", "is_primary", "added_by", "created_at")
    readonly_fields = ("is_primary", "added_by", "created_at")
    autocomplete_fields = ("user",)
    extra = 0
    verbose_name = "admin"
    verbose_name_plural = "admins (all must be users of the domain)"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # add or remove rows; a row itself never changes


def _ticked_admins(request: HttpRequest) -> list[str]:
    """The e-mails of the admins inline's rows ticked for removal in this POST."""
    if request.method != "POST":
        return []
    prefix = "administrators-"
    ids = [
        request.POST.get(key.removesuffix("-DELETE") + "-id", "")
        for key, value in request.POST.items()
        if key.startswith(prefix) and key.endswith("-DELETE") and value
    ]
    return list(
        DomainAdministrator.objects.filter(pk__in=[i for i in ids if i.isdigit()])
        .values_list("user__email", flat=True)
    )


class _WithUsersTotal(Protocol):
    """A Domain of DomainModelAdmin's queryset, annotated with its number of users."""

    users_total: int


@admin.register(Domain)
class DomainModelAdmin(admin.ModelAdmin):
    list_display = ("name", "registered", "primary_admin_email", "user_count", "registered_at")
    list_filter = ("registered",)
    search_fields = ("name", "administrators__user__email")
    readonly_fields = ("name", "registered", "registered_at", "created_at")
    inlines = [AdministratorInline]
    actions = ["resend_invitation"]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).annotate(users_total=models.Count("users"))

    @admin.display(description="Primary admin")
    def primary_admin_email(self, obj: Domain) -> str:
        admin_user = obj.primary_admin
        return admin_user.email if admin_user else "—"

    @admin.display(description="Users", ordering="users_total")
    def user_count(self, obj: _WithUsersTotal) -> int:
        return obj.users_total

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        return super().get_form(request, obj, change, **_adding(obj, DomainRegisterForm, kwargs))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> FieldNames:
        if obj is None:
            return ["name", "admin_email", "min_upload_queue_length_for_incident_creation"]
        return [
            "name",
            "registered",
            "registered_at",
            "created_at",
            "min_upload_queue_length_for_incident_creation",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        return self.readonly_fields if obj else ()

    def get_inlines(self, request: HttpRequest, obj: Any) -> list:
        return self.inlines if obj else []

    def save_model(
        self, request: HttpRequest, obj: Domain, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        threshold = data.get("min_upload_queue_length_for_incident_creation")
        if change:
            adopt(
                obj,
                services.domain_update(
                    domain=obj,
                    actor=signed_in_user(request),
                    min_upload_queue_length_for_incident_creation=threshold,
                ),
            )
            return
        domain = services.domain_register(
            name=data["name"], admin_email=data["admin_email"], actor=signed_in_user(request)
        )
        if threshold is not None:
            domain = services.domain_update(
                domain=domain,
                actor=signed_in_user(request),
                min_upload_queue_length_for_incident_creation=threshold,
            )
        adopt(obj, domain)
        self.message_user(request, f"Invitation e-mailed to {data['admin_email']}.")

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        """Removing co-admins (ticked rows of the admins inline) asks first: the whole form
        is posted again from a confirmation page that names them."""
        removing = _ticked_admins(request)
        if object_id and removing and not confirmed(request, "domain.admins_remove", object_id):
            posted = {k: v for k, v in request.POST.lists() if k != "csrfmiddlewaretoken"}
            return ask(request, Question(
                action="domain.admins_remove", target=object_id,
                title="Remove these admins?", subject=", ".join(removing),
                button="Save and remove them", cancel_url=request.path,
                consequences=["They lose access to the domain's pages at once; the rest of "
                              "the form is saved as entered."],
                hidden=posted,
            ), template="admin/confirm_form.html", context=self.admin_site.each_context(request),
                refused=FIELD in request.POST)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        rows = formset.save(commit=False)
        for row in formset.deleted_objects:
            services.domain_admin_remove(
                domain=form.instance, user=row.user, actor=signed_in_user(request)
            )
        for row in rows:
            services.domain_admin_add(
                domain=form.instance, user=row.user, actor=signed_in_user(request)
            )

    @admin.action(description="Resend the invitation to the primary admin")
    def resend_invitation(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for domain in queryset:
            admin_user = domain.primary_admin
            if admin_user is None:
                self.message_user(request, f"{domain.name} has no primary admin.", messages.ERROR)
                continue
            services.invitation_send(user=admin_user, domain=domain, actor=signed_in_user(request))
            self.message_user(request, f"Invitation e-mailed to {admin_user.email}.")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a domain's users, inventory and log hang on it


# --- Inventory -------------------------------------------------------------


class InventoryAdmin(ServiceAdmin):
    readonly_fields = ("domain", "created_at", "updated_at")
    # Typed so that each admin below may name more.
    list_filter: ClassVar[tuple[str, ...]] = ("domain",)
    list_select_related: ClassVar[tuple[str, ...]] = ("domain",)
    autocomplete_fields: ClassVar[tuple[str, ...]] = ("owner",)

    # The form's fields a new object is created from (keyword arguments of <model>_create).
    create_fields: ClassVar[tuple[str, ...]] = ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        public_id = {Device: "device_id", Camera: "camera_id"}.get(self.model)
        return (*self.readonly_fields, public_id) if obj and public_id else self.readonly_fields

    def _service(self, action: str) -> Any:
        """The model's service for ``action``: services.device_create, .camera_update, ..."""
        return getattr(services, f"{self.model._meta.model_name}_{action}")

    def create(self, request: HttpRequest, obj: Any, form: forms.ModelForm) -> models.Model:
        values = values_of(obj, *self.create_fields)
        return self._service("create")(actor=signed_in_user(request), **values)

    def update(self, request: HttpRequest, obj: Any, changes: dict[str, Any]) -> models.Model:
        name, actor = self.model._meta.model_name, signed_in_user(request)
        return self._service("update")(**{name: obj}, actor=actor, changes=changes)

    def delete(self, request: HttpRequest, obj: Any) -> None:
        self._service("delete")(**{self.model._meta.model_name: obj}, actor=signed_in_user(request))


class _WithCamerasTotal(Protocol):
    """A Device of DeviceAdmin's queryset, annotated with its number of cameras."""

    cameras_total: int


@admin.register(Device)
class DeviceAdmin(InventoryAdmin):
    list_display = ("name", "device_id", "mac_address", "owner", "domain", "camera_count")
    search_fields = ("name", "device_id", "mac_address", "owner__email", "domain__name")
    fields = ("device_id", "name", "mac_address", "owner", "domain", "created_at", "updated_at")
    create_fields = ("owner", "name", "mac_address", "device_id")

    def get_queryset(self, request: HttpRequest) -> models.QuerySet:
        return super().get_queryset(request).annotate(cameras_total=models.Count("cameras"))

    @admin.display(description="Cameras", ordering="cameras_total")
    def camera_count(self, obj: _WithCamerasTotal) -> int:
        return obj.cameras_total

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        """List the cameras and zones device_delete removes first, instead of refusing."""
        counts: Counter = Counter()
        trees = []
        for device in objs:
            counts[Device._meta.verbose_name_plural] += 1
            cameras = [_camera_tree(camera, counts) for camera in device.cameras.all()]
            trees += [_link(device), [item for tree in cameras for item in tree]]
        return _deletion_preview(request, trees, counts)


class ZoneInline(admin.TabularInline):
    model = Zone
    fields = ("name", "polygons", "zone_id")
    readonly_fields = ("zone_id",)
    extra = 0


@admin.register(Camera)
class CameraAdmin(InventoryAdmin):
    create_fields = CAMERA_FIELDS
    list_display = (
        "name",
        "camera_id",
        "local_camera_id",
        "ip_address",
        "device",
        "owner",
        "domain",
    )
    list_filter = ("domain", "maker")
    list_select_related = ("domain", "device", "owner")
    search_fields = (
        "name",
        "camera_id",
        "local_camera_id",
        "ip_address",
        "mac_address",
        "device__name",
        "owner__email",
    )
    autocomplete_fields = ("owner", "device")
    fields = (*CAMERA_FIELDS, "domain", "created_at", "updated_at")
    inlines = [ZoneInline]

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        """List the zones camera_delete removes first, instead of refusing."""
        counts: Counter = Counter()
        trees = [item for camera in objs for item in _camera_tree(camera, counts)]
        return _deletion_preview(request, trees, counts)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Save the zone inline through the zone services."""
        formset.save(commit=False)
        for zone in formset.deleted_objects:
            services.zone_delete(zone=zone, actor=signed_in_user(request))
        for zone, changed in formset.changed_objects:
            services.zone_update(
                zone=zone,
                actor=signed_in_user(request),
                changes={name: getattr(zone, name) for name in changed},
            )
        for zone in formset.new_objects:
            adopt(
                zone,
                services.zone_create(
                    camera=form.instance,
                    name=zone.name,
                    polygons=zone.polygons,
                    actor=signed_in_user(request),
                ),
            )


@admin.register(Zone)
class ZoneAdmin(InventoryAdmin):
    create_fields = ("camera", "name", "polygons")
    list_display = ("name", "zone_id", "camera", "domain")
    list_select_related = ("domain", "camera")
    search_fields = ("name", "zone_id", "camera__name", "camera__camera_id")
    autocomplete_fields = ("camera",)
    fields = ("zone_id", "name", "polygons", "camera", "domain", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        base = ("zone_id", *self.readonly_fields)
        return (*base, "camera") if obj else base



# --- Hooks -------------------------------------------------------------------


@admin.register(Hook)
class HookAdmin(InventoryAdmin):
    create_fields = ("owner", "callback_url", "type", "parsed_query")
    list_display = ("hook_id", "type", "callback_url", "owner", "domain", "created_at")
    list_filter = ("type", "domain")
    search_fields = ("hook_id", "callback_url", "owner__email", "parsed_query")
    fields = ("hook_id", "type", "callback_url", "parsed_query", "owner", "domain", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        base = ("hook_id", "domain", "created_at")
        # A hook is created or deleted, never changed (Camio's API has no update).
        return (*base, "type", "callback_url", "parsed_query", "owner") if obj else base

    def update(self, request: HttpRequest, obj: Hook, changes: dict[str, Any]) -> Hook:
        return obj


# --- Audit -----------------------------------------------------------------


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "actor_email", "domain", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type", "domain")
    search_fields = ("actor_email", "object_id", "object_repr", "domain__name")
    date_hierarchy = "created_at"
    list_select_related = ("domain",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TokenAddForm(forms.ModelForm):
    kind = forms.ChoiceField(
        choices=[(TokenKind.USER, "user token"), (TokenKind.BOX, "Box token")],
        help_text="A Box token opens only its Box's counters route; its holder is the Box's owner.",
    )

    class Meta:
        model = ApiToken
        fields = ["kind", "name", "user", "device"]
        help_texts = {"user": "The holder of a user token (ignored for a Box token)."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].required = False  # a Box token's holder is the Box's owner

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns, though typed as optional
        if data.get("kind") == TokenKind.BOX:
            if data.get("device") is None:
                raise ValidationError({"device": "A Box token needs its Box."})
            data["user"] = data["device"].owner
        holder = data.get("user")
        if holder is None:
            raise ValidationError({"user": "Choose who holds the token."})
        if holder.domain_id is None or not holder.domain.registered:
            raise ValidationError({"user": f"{holder.email} is not a user of a registered domain."})
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Support staff issue and revoke tokens; the plaintext is shown once, after adding."""

    list_display = (
        "prefix",
        "name",
        "kind",
        "user",
        "device",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name", "user__email", "device__device_id", "subject")
    list_select_related = ("user", "device")
    raw_id_fields = ("user", "device")
    actions = ["revoke"]
    readonly_fields = (
        "kind",
        "name",
        "prefix",
        "user",
        "device",
        "subject",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        return super().get_form(request, obj, change, **_adding(obj, TokenAddForm, kwargs))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> FieldNames:
        return list(self.readonly_fields) if obj is not None else [*TokenAddForm.Meta.fields]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row stays for the audit trail

    def save_model(
        self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool
    ) -> None:
        data = form.cleaned_data
        token, raw = services.token_issue(
            kind=data["kind"],
            user=data["user"],
            name=data["name"],
            device=data.get("device"),
            actor=signed_in_user(request),
        )
        adopt(obj, token)
        # Shown by response_add, never stored; HttpRequest declares no such attribute.
        request._new_token = raw  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: Any, post_url_continue: Any = None
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "token": obj,
            "raw": getattr(request, "_new_token", ""),
            "opts": self.opts,
            "title": "Token created",
        }
        return TemplateResponse(request, "admin/domains/apitoken/created.html", context)

    @admin.action(description="Revoke selected tokens… (asks first)")
    def revoke(self, request: HttpRequest, queryset: models.QuerySet) -> TemplateResponse | None:
        live = queryset.filter(revoked_at__isnull=True)
        if not admin_confirmed(request, "revoke", live):
            return admin_ask(
                request, live, action="revoke", title="Revoke these tokens?",
                button="Revoke tokens",
                consequences=["Anything using them (scripts, Box gateways, PACS gateways) gets "
                              "401 at once. Revoking cannot be undone."],
            )
        for token in live:
            services.token_revoke(token=token, actor=signed_in_user(request))
        self.message_user(request, f"{counted(len(live), 'token')} revoked.", messages.SUCCESS)
        return None
