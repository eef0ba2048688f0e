"""Input and output shapes of the domain, inventory, hook and user routes.

Inputs check types only; the services (and the models' validators they run)
own every rule, so the admin, the portal and the API refuse the same things.
"""

from __future__ import annotations

from rest_framework import serializers

from domains.api.callback_serializers import HTTP_URL
from domains.models import HookType

# --- Shared outputs --------------------------------------------------------------


class UserRefOut(serializers.Serializer):
    user_id = serializers.CharField()
    email = serializers.EmailField()


class AdministratorOut(serializers.Serializer):
    user_id = serializers.CharField(source="user.user_id")
    email = serializers.EmailField(source="user.email")
    is_primary = serializers.BooleanField()


# --- Users and domains ----------------------------------------------------------


class MeOut(serializers.Serializer):
    user_id = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField()
    domain = serializers.CharField(source="domain.name", allow_null=True, default=None)
    administers = serializers.ListField(child=serializers.CharField())


class DomainOut(serializers.Serializer):
    name = serializers.CharField()
    registered_at = serializers.DateTimeField(allow_null=True)
    min_upload_queue_length_for_incident_creation = serializers.IntegerField(allow_null=True)
    administrators = AdministratorOut(many=True)


class DomainChangeIn(serializers.Serializer):
    min_upload_queue_length_for_incident_creation = serializers.IntegerField(
        min_value=0,
        max_value=2_147_483_647,
        allow_null=True,
        required=False,
        help_text="A Box whose upload queue grows past this opens an incident; null: never.",
    )


# --- Inventory -----------------------------------------------------------------


class DeviceOut(serializers.Serializer):
    device_id = serializers.CharField()
    name = serializers.CharField()
    mac_address = serializers.CharField()
    domain = serializers.CharField(source="domain.name")
    owner = UserRefOut()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class DeviceIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    mac_address = serializers.CharField(max_length=40, required=False, allow_blank=True)
    device_id = serializers.CharField(
        max_length=64, required=False, help_text="The Box's own id; generated when left out."
    )
    owner = serializers.EmailField(
        required=False, help_text="A user of the domain; the caller when left out."
    )


class DeviceChangeIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    mac_address = serializers.CharField(max_length=40, required=False, allow_blank=True)
    owner = serializers.EmailField(required=False)


class CameraOut(serializers.Serializer):
    camera_id = serializers.CharField()
    local_camera_id = serializers.CharField()
    name = serializers.CharField()
    ip_address = serializers.CharField(allow_null=True)
    mac_address = serializers.CharField()
    maker = serializers.CharField()
    model = serializers.CharField()
    device_id = serializers.CharField(source="device.device_id")
    domain = serializers.CharField(source="domain.name")
    owner = UserRefOut()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CameraChangeIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    local_camera_id = serializers.CharField(max_length=40, required=False, allow_blank=True)
    ip_address = serializers.IPAddressField(required=False, allow_null=True)
    mac_address = serializers.CharField(max_length=40, required=False, allow_blank=True)
    maker = serializers.CharField(max_length=100, required=False, allow_blank=True)
    model = serializers.CharField(max_length=100, required=False, allow_blank=True)
    device_id = serializers.CharField(
        max_length=64, required=False, help_text="The Box that streams this camera."
    )
    owner = serializers.EmailField(required=False)


class CameraIn(CameraChangeIn):
    name = serializers.CharField(max_length=200)
    device_id = serializers.CharField(max_length=64, help_text="The Box that streams this camera.")
    camera_id = serializers.CharField(
        max_length=64, required=False, help_text="Generated when left out."
    )


POLYGONS_HELP = "A list of polygons, each a list of [x, y] points: [[[0,0],[1,0],[1,1]]]."


class ZoneOut(serializers.Serializer):
    zone_id = serializers.CharField()
    name = serializers.CharField()
    polygons = serializers.ListField(
        child=serializers.ListField(
            child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
        )
    )
    camera_id = serializers.CharField(source="camera.camera_id")
    domain = serializers.CharField(source="domain.name")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ZoneChangeIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    polygons = serializers.JSONField(required=False, help_text=POLYGONS_HELP)


class ZoneIn(ZoneChangeIn):
    name = serializers.CharField(max_length=200)
    polygons = serializers.JSONField(help_text=POLYGONS_HELP)
    camera_id = serializers.CharField(max_length=64)


# --- Hooks ---------------------------------------------------------------------


class HookOut(serializers.Serializer):
    hook_id = serializers.CharField()
    callback_url = serializers.CharField()
    type = serializers.ChoiceField(choices=HookType.choices)
    parsed_query = serializers.CharField()
    created_at = serializers.DateTimeField()
    user = UserRefOut(source="owner")


class HookIn(serializers.Serializer):
    callback_url = serializers.CharField(max_length=2048, validators=[HTTP_URL])
    type = serializers.ChoiceField(choices=HookType.choices)
    parsed_query = serializers.CharField(
        help_text="Such as: camera == 'Front Entrance' and labels in ['person']"
    )
