"""Input and output shapes of the domain, inventory, hook and user routes.

Inputs check the shape the schema states (types, patterns, lengths: a 400); the services
(and the models' validators they run) own every rule (a 422), so the admin, the portal
and the API refuse the same things.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apikit import fields
from domains.models import MAX_COORDINATE, HookType, validate_polygons, validate_public_id

# As domains.validators reads them: six hex pairs, bare or joined by ":" or "-".
MAC_ADDRESS = (
    r"^(?:[0-9A-Fa-f]{12}"
    r"|[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}"
    r"|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5})?$"
)
LOCAL_CAMERA_ID = r"^(?:[0-9A-Fa-f]{12}\.[0-9]{1,4})?$"
MAC_HELP = "Six hex pairs, such as AA:BB:CC:DD:EE:FF (or aa-bb-..., or AABBCCDDEEFF)."

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


class DomainChangeIn(fields.Input):
    min_upload_queue_length_for_incident_creation = fields.Integer(
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


def mac_address() -> fields.Pattern:
    return fields.Pattern(
        MAC_ADDRESS, max_length=17, required=False, allow_blank=True, help_text=MAC_HELP
    )


def public_id(help_text: str, required: bool = False) -> fields.Pattern:
    return fields.Pattern(fields.PUBLIC_ID, max_length=64, required=required, help_text=help_text)


@extend_schema_field(
    {
        "type": "string",
        "pattern": fields.PUBLIC_ID,
        "maxLength": 64,
        "not": {"pattern": "^[Tt][Ee][Ss][Tt]_"},  # kept for test events' ids, any case
    }
)
class NewId(fields.Pattern):
    """A new Box's or camera's own id, as domains.models.validate_public_id takes it."""


def new_id(help_text: str) -> NewId:
    return NewId(
        fields.PUBLIC_ID,
        max_length=64,
        required=False,
        validators=[validate_public_id],
        help_text=help_text,
    )


class DeviceIn(fields.Input):
    name = fields.Text(max_length=200)
    mac_address = mac_address()
    device_id = new_id("The Box's own id; generated when left out.")
    owner = fields.Email(
        required=False, help_text="A user of the domain; the caller when left out."
    )


class DeviceChangeIn(fields.Input):
    name = fields.Text(max_length=200, required=False)
    mac_address = mac_address()
    owner = fields.Email(required=False)


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


@extend_schema_field({"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]})
class IPAddress(serializers.IPAddressField):
    """An IPv4 or IPv6 address as sent (drf-spectacular states no format for "both")."""

    def __init__(self, **kwargs):
        super().__init__(trim_whitespace=False, **kwargs)


class CameraChangeIn(fields.Input):
    name = fields.Text(max_length=200, required=False)
    local_camera_id = fields.Pattern(
        LOCAL_CAMERA_ID,
        max_length=40,
        required=False,
        allow_blank=True,
        help_text="The Box MAC in hex, a dot, an index: AABBCCDDEEFF.0.",
    )
    ip_address = IPAddress(required=False, allow_null=True)
    mac_address = mac_address()
    maker = fields.Text(max_length=100, required=False, allow_blank=True)
    model = fields.Text(max_length=100, required=False, allow_blank=True)
    device_id = public_id("The Box that streams this camera.")
    owner = fields.Email(required=False)


class CameraIn(CameraChangeIn):
    name = fields.Text(max_length=200)
    device_id = public_id("The Box that streams this camera.", required=True)
    camera_id = new_id("Generated when left out.")


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


COORDINATE = {"type": "number", "minimum": -MAX_COORDINATE, "maximum": MAX_COORDINATE}


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "array",
            "minItems": 3,
            "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": COORDINATE},
        },
    }
)
class Polygons(serializers.JSONField):
    """Polygons as domains.models.validate_polygons takes them."""

    def __init__(self, **kwargs):
        super().__init__(validators=[validate_polygons], help_text=POLYGONS_HELP, **kwargs)


class ZoneChangeIn(fields.Input):
    name = fields.Text(max_length=200, required=False)
    polygons = Polygons(required=False)


class ZoneIn(ZoneChangeIn):
    name = fields.Text(max_length=200)
    polygons = Polygons()
    camera_id = public_id("The camera the zone is on.", required=True)


# --- Hooks ---------------------------------------------------------------------


class HookOut(serializers.Serializer):
    hook_id = serializers.CharField()
    callback_url = serializers.CharField()
    type = serializers.ChoiceField(choices=HookType.choices)
    parsed_query = serializers.CharField()
    created_at = serializers.DateTimeField()
    user = UserRefOut(source="owner")


@extend_schema_field({"type": "string", "maxLength": 2048, "pattern": fields.ecma(fields.HOOK_URL)})
class HookUrl(fields.Text):
    pass


class HookIn(fields.Input):
    callback_url = HookUrl(
        max_length=2048,
        validators=[fields.FullMatch(fields.HOOK_URL, "Enter an http(s) URL with a host.")],
        trim_whitespace=False,
    )
    type = serializers.ChoiceField(choices=HookType.choices)
    parsed_query = fields.Text(
        help_text="Such as: camera == 'Front Entrance' and labels in ['person']"
    )
