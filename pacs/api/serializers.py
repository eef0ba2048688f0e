"""Input and output shapes of the PACS gateway's routes and of /api/pacs/integrations."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema_field,
)
from rest_framework import serializers

from apikit import fields
from apikit.fields import NOT_BLANK, ecma
from domains.models import validate_server_address
from pacs.models import Vendor, time_zones, validate_time_zone


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 128, "pattern": ecma(NOT_BLANK)},
            {"type": "integer"},
        ]
    }
)
class VendorDeviceId(fields.Text):
    """A door or reader id as vendors send it: a string, or an integer (read as its digits)."""

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        return super().to_internal_value(data)


class PacsDeviceIn(fields.Input):
    device_id = VendorDeviceId(max_length=128, help_text="The vendor's door/reader id.")
    device_name = fields.Text(max_length=255, required=False, allow_blank=True)


class PacsDevicesIn(fields.Input):
    devices = PacsDeviceIn(many=True, help_text="The whole list (an empty one removes all).")


class PacsDevicesOut(serializers.Serializer):
    devices = serializers.IntegerField(help_text="How many the list holds now.")
    removed = serializers.IntegerField()
    kept_mapped = serializers.ListField(
        child=serializers.CharField(), help_text="Left out of the list but kept: mapped."
    )


EVENT_HELP = (
    "The vendor's event as it sends it (a JSON object); one its normalizer cannot read is "
    "rejected by its index, the others are stored."
)


class PacsEventsIn(fields.Input):
    events = serializers.ListField(
        child=fields.JsonValue(), min_length=1, max_length=5000, help_text=EVENT_HELP
    )


class PacsEventIn(fields.Input):
    event = fields.JsonValue(help_text=EVENT_HELP)


EVENTS = PolymorphicProxySerializer(
    component_name="PacsEvents",
    serializers=[PacsEventsIn, PacsEventIn],
    resource_type_field_name=None,
)


class PacsOwnerOut(serializers.Serializer):
    user_id = serializers.CharField()
    email = serializers.EmailField()


class IntegrationOut(serializers.Serializer):
    integration_id = serializers.CharField()
    name = serializers.CharField()
    vendor = serializers.ChoiceField(choices=Vendor.choices)
    source_server = serializers.CharField()
    time_zone = serializers.CharField()
    domain = serializers.CharField(source="domain.name")
    owner = PacsOwnerOut()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


# What the models take (domains.models.validate_server_address, pacs.models.time_zones),
# stated in the schema; the fields run the models' validators, so anything else is a 400.
@extend_schema_field(fields.SERVER_ADDRESS_SCHEMA)
class ServerAddress(fields.Pattern):
    pass


@extend_schema_field({"type": "string", "enum": sorted(time_zones())})
class TimeZone(fields.Pattern):
    pass


class IntegrationChangeIn(fields.Input):
    name = fields.Text(max_length=200, required=False)
    vendor = serializers.ChoiceField(choices=Vendor.choices, required=False)
    source_server = ServerAddress(
        r"^[A-Za-z0-9.:\[\]-]*$",
        max_length=255,
        required=False,
        allow_blank=True,
        validators=[validate_server_address],
        help_text="A host name or address with an optional port, such as "
        "apac.int.acme.com:443, 10.0.0.5 or [2001:db8::1]:8443 (optional).",
    )
    time_zone = TimeZone(
        r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+)*$",
        max_length=64,
        required=False,
        validators=[validate_time_zone],
        help_text="For vendor times without an offset: UTC, America/Chicago, ...",
    )


class IntegrationIn(IntegrationChangeIn):
    name = fields.Text(max_length=200)
    vendor = serializers.ChoiceField(choices=Vendor.choices)


class PacsTokenOut(serializers.Serializer):
    prefix = serializers.CharField(help_text="The token's visible start.")
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class NewPacsTokenOut(PacsTokenOut):
    token = serializers.CharField(help_text="Shown this once: the gateway sends it as Bearer.")


class PacsDeviceOut(serializers.Serializer):
    device_id = serializers.CharField()
    device_name = serializers.CharField()
    camera_ids = serializers.ListField(child=serializers.CharField())


class PacsDeviceMapIn(fields.Input):
    camera_ids = serializers.ListField(
        child=fields.Pattern(fields.PUBLIC_ID, max_length=64),
        required=False,
        help_text="The cameras that see this door or reader (left out: unchanged).",
    )


class PacsEventOut(serializers.Serializer):
    id = serializers.UUIDField()
    entry_id = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    labels = serializers.ListField(child=serializers.CharField())
    state = serializers.CharField(help_text="mapped (kept with its cameras), pending, relayed")
    batch_id = serializers.UUIDField(allow_null=True, help_text="The relay batch.")
    event_id = serializers.UUIDField(allow_null=True, help_text="The pacs.events.created event.")
    received_at = serializers.DateTimeField()
