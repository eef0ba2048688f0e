"""Input shapes of POST /api/devices/{device_id}/counters: a batch of counter reports."""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from apikit import fields
from incidents.services.ingest import MAX_REPORT_ID, MAX_VALUE

COUNTER_NAME = r"^[^\x00]{1,64}$"


def counters(help_text: str) -> fields.Mapping:
    return fields.Mapping(
        key_regex=COUNTER_NAME,
        key_message="A counter name has 1 to 64 characters.",
        child=fields.Integer(min_value=0, max_value=MAX_VALUE),
        required=False,
        help_text=help_text,
    )


class ReportIn(fields.Input):
    report_id = fields.Text(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=MAX_REPORT_ID,
        help_text="The Box's id for this report (optional, at most 100 characters). A report "
        "with the id of one stored for this Box is a duplicate; without an id, a duplicate is "
        "a report of the same time and the same cameras and box counters.",
    )
    time = fields.DateTime(help_text="When the Box took the counts, RFC 3339 with an offset.")
    cameras = fields.Mapping(
        key_regex=fields.PUBLIC_ID,
        key_message="Not a camera id.",
        child=counters("Counter deltas since the previous report."),
        required=False,
        help_text="Per camera (camera_id or local camera id): counter deltas since the "
        "previous report, such as segmentation_process_restart_count.",
    )
    box = counters("Per Box: upload_queue_length, movie_upload_queue_commands_total, ...")


class BatchIn(fields.Input):
    reports = serializers.ListField(
        child=fields.Item(ReportIn),
        min_length=1,
        max_length=1000,
        help_text="Up to 1,000 (INCIDENT_MAX_REPORTS) reports; each is judged alone.",
    )


class LoneReport(fields.LoneItem):
    shape = ReportIn
    batch_key = "reports"


REPORTS = PolymorphicProxySerializer(
    component_name="CounterReports",
    serializers=[BatchIn, LoneReport],
    resource_type_field_name=None,
)
